// Runtime failures inside a case: a failed check or an exhausted allocation becomes the case's
// status (base/case_guard.h), on the calling thread or on an OpenMP worker; outside a case a
// failed check still aborts.
#include "base/case_guard.h"

#include <new>
#include <stdexcept>
#include <vector>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

TEST(CaseGuardTest, FailedCheckInsideACaseIsItsError) {
  const int entries = 7;
  const absl::Status status = GuardCase([&] {
    KVBENCH_CHECK(entries < 4, "store holds %d entries", entries);
    return absl::OkStatus();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("case_guard_test.cc:"));
  EXPECT_THAT(status.message(), HasSubstr("check failed: entries < 4 store holds 7 entries"));
  EXPECT_TRUE(IsCaseFailure(status));
  EXPECT_FALSE(CaseScope::active());
}

TEST(CaseGuardTest, AllocationFailuresAreResourceExhausted) {
  const absl::Status thrown = GuardCase([]() -> absl::Status { throw std::bad_alloc(); });
  EXPECT_EQ(thrown.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(thrown.message(), HasSubstr("out of memory"));
  // A container asked for more than it can hold throws length_error before allocating.
  const absl::StatusOr<size_t> too_long = GuardCase([]() -> absl::StatusOr<size_t> {
    std::vector<double> v;
    v.reserve(v.max_size() + 1);
    return v.capacity();
  });
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(IsCaseFailure(too_long.status()));
}

TEST(CaseGuardTest, WhatTheCaseReturnsPassesThrough) {
  EXPECT_EQ(*GuardCase([]() -> absl::StatusOr<int> { return 42; }), 42);
  const absl::Status own = GuardCase([] { return absl::NotFoundError("no such model"); });
  EXPECT_EQ(own.code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(IsCaseFailure(own));
  // An exception kvbench does not know how to pin on a case is not swallowed.
  EXPECT_THROW(GuardCase([]() -> absl::Status { throw std::runtime_error("disk on fire"); }),
               std::runtime_error);
  EXPECT_FALSE(CaseScope::active());
}

TEST(CaseGuardTest, FailedCheckOnAnOpenMpWorkerIsRethrownOnTheCaller) {
  const absl::Status status = GuardCase([] {
    ParallelFailure failure;
#pragma omp parallel for schedule(dynamic, 1) num_threads(4)
    for (int i = 0; i < 64; ++i) failure.Run([&] { KVBENCH_CHECK(i != 37, "head %d", i); });
    failure.Rethrow();
    return absl::OkStatus();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("head 37"));
}

TEST(CaseGuardDeathTest, OutsideACaseAFailedCheckAborts) {
  EXPECT_DEATH(KVBENCH_CHECK(1 > 2, "bug %s", "here"), "check failed: 1 > 2 bug here");
}

}  // namespace
}  // namespace kvbench
