// Invariant checks (the middle tier of kvbench's errors: Status at boundaries, CHECK for bugs).
// Debian's Abseil (20220623) predates absl/log, so this is the one macro we define ourselves.
//
// A failed check aborts the process with its file, line and message, except while a case of a
// sweep runs (a CaseScope is alive, base/case_guard.h): then it throws CheckFailure, which
// GuardCase turns into that case's error row, and the sweep goes on with the next case. A store
// invariant broken by one policy's cache says nothing about the other caches, and a 2-hour sweep
// should not lose every case after it.
#ifndef KVBENCH_BASE_CHECK_H_
#define KVBENCH_BASE_CHECK_H_

#include <stdexcept>

namespace kvbench {

// What a failed KVBENCH_CHECK throws inside a case: what() is "file:line: check failed: cond msg".
class CheckFailure : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace check_internal {
// Formats the failure; throws CheckFailure inside a case, else prints it and aborts.
[[noreturn]] void Fail(const char* file, int line, const char* condition, const char* format = "",
                       ...) __attribute__((format(printf, 4, 5)));
}  // namespace check_internal

}  // namespace kvbench

#define KVBENCH_CHECK(cond, ...)                                                             \
  do {                                                                                       \
    if (!(cond)) [[unlikely]] {                                                              \
      ::kvbench::check_internal::Fail(__FILE__, __LINE__, #cond __VA_OPT__(, ) __VA_ARGS__); \
    }                                                                                        \
  } while (0)

#endif  // KVBENCH_BASE_CHECK_H_
