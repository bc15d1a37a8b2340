// Runtime failures inside one case of a sweep become that case's error, not the end of the run.
//
// GuardCase(f) runs f (returning absl::Status or absl::StatusOr<T>) with a CaseScope alive, so a
// failed KVBENCH_CHECK throws instead of aborting, and maps what escapes f:
//   CheckFailure          -> Internal ("check failed: ..." with file and line)
//   std::bad_alloc        -> ResourceExhausted (an allocation failed: the case needs more memory)
//   std::length_error     -> ResourceExhausted (a container asked for more than it can hold)
// Anything else propagates: it is not a failure kvbench knows how to attribute to a case.
//
// OpenMP worker threads cannot let an exception leave a parallel region (std::terminate), so
// parallel loops that call into stores and policies run their bodies through ParallelFailure and
// rethrow on the calling thread after the loop.
#ifndef KVBENCH_BASE_CASE_GUARD_H_
#define KVBENCH_BASE_CASE_GUARD_H_

#include <exception>
#include <mutex>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "base/check.h"

namespace kvbench {

// While one is alive (on any thread), failed checks throw CheckFailure. Cases run one at a time;
// the count is process-wide because a case's OpenMP workers check on other threads.
class CaseScope {
 public:
  CaseScope();
  ~CaseScope();
  CaseScope(const CaseScope&) = delete;
  CaseScope& operator=(const CaseScope&) = delete;

  static bool active();
};

// The status a runtime failure caught by GuardCase becomes.
absl::Status CaseFailureStatus(const std::exception& failure);

template <typename F>
auto GuardCase(F&& f) -> decltype(f()) {
  CaseScope scope;
  try {
    return std::forward<F>(f)();
  } catch (const CheckFailure& e) {
    return CaseFailureStatus(e);
  } catch (const std::bad_alloc& e) {
    return CaseFailureStatus(e);
  } catch (const std::length_error& e) {
    return CaseFailureStatus(e);
  }
}

// True for a status GuardCase made from a caught failure (as opposed to one f returned).
bool IsCaseFailure(const absl::Status& status);

// The first exception thrown by any iteration of a parallel loop, rethrown after it:
//   ParallelFailure failure;
//   #pragma omp parallel for
//   for (...) failure.Run([&] { ... });
//   failure.Rethrow();
class ParallelFailure {
 public:
  template <typename F>
  void Run(F&& f) noexcept {
    try {
      std::forward<F>(f)();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!first_) first_ = std::current_exception();
    }
  }
  void Rethrow() {
    if (first_) std::rethrow_exception(std::exchange(first_, nullptr));
  }

 private:
  std::mutex mu_;
  std::exception_ptr first_;
};

}  // namespace kvbench

#endif  // KVBENCH_BASE_CASE_GUARD_H_
