#include "base/check.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/case_guard.h"

namespace kvbench {
namespace {
std::atomic<int> active_case_scopes{0};
constexpr char kCaseFailurePrefix[] = "runtime failure in this case: ";
}  // namespace

CaseScope::CaseScope() { active_case_scopes.fetch_add(1, std::memory_order_relaxed); }
CaseScope::~CaseScope() { active_case_scopes.fetch_sub(1, std::memory_order_relaxed); }
bool CaseScope::active() { return active_case_scopes.load(std::memory_order_relaxed) > 0; }

absl::Status CaseFailureStatus(const std::exception& failure) {
  if (dynamic_cast<const CheckFailure*>(&failure) != nullptr) {
    return absl::InternalError(absl::StrCat(kCaseFailurePrefix, failure.what()));
  }
  return absl::ResourceExhaustedError(
      absl::StrCat(kCaseFailurePrefix, "out of memory (", failure.what(), ")"));
}

bool IsCaseFailure(const absl::Status& status) {
  return absl::StartsWith(status.message(), kCaseFailurePrefix);
}

namespace check_internal {

void Fail(const char* file, int line, const char* condition, const char* format, ...) {
  char detail[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(detail, sizeof(detail), format, args);
  va_end(args);
  std::string message = std::string(file) + ":" + std::to_string(line) +
                        ": check failed: " + condition + (detail[0] != '\0' ? " " : "") + detail;
  if (CaseScope::active()) throw CheckFailure(message);
  std::fprintf(stderr, "%s\n", message.c_str());
  std::abort();
}

}  // namespace check_internal
}  // namespace kvbench
