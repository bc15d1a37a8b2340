// Invariant checks (the middle tier of kvbench's errors: Status at boundaries, CHECK for bugs).
// Debian's Abseil (20220623) predates absl/log, so this is the one macro we define ourselves.
#ifndef KVBENCH_BASE_CHECK_H_
#define KVBENCH_BASE_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define KVBENCH_CHECK(cond, ...)                                                   \
  do {                                                                             \
    if (!(cond)) [[unlikely]] {                                                    \
      std::fprintf(stderr, "%s:%d: check failed: %s ", __FILE__, __LINE__, #cond); \
      __VA_OPT__(std::fprintf(stderr, __VA_ARGS__);)                               \
      std::fprintf(stderr, "\n");                                                  \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

#endif  // KVBENCH_BASE_CHECK_H_
