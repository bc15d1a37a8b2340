// Status plumbing used everywhere kvbench returns absl::Status / absl::StatusOr (files, YAML, the
// registries): early returns and one way to put context in front of a message.
//
//   RETURN_IF_ERROR(WriteFileAtomically(path, text));
//   ASSIGN_OR_RETURN(const Gguf gguf, ReadGguf(path));      // declares `gguf`
//   ASSIGN_OR_RETURN(model->config, ParseConfig(json));     // assigns
//   return Annotate(s, "k_store");                          // "k_store: <message>", same code
#ifndef KVBENCH_BASE_STATUS_H_
#define KVBENCH_BASE_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kvbench {

// `status` with "prefix: " in front of its message and the same code; OK stays OK.
inline absl::Status Annotate(const absl::Status& status, absl::string_view prefix) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, ": ", status.message()));
}

}  // namespace kvbench

#define RETURN_IF_ERROR(expr)                                           \
  do {                                                                  \
    if (absl::Status kvbench_status_ = (expr); !kvbench_status_.ok()) { \
      return kvbench_status_;                                           \
    }                                                                   \
  } while (0)

#define KVBENCH_STATUS_CONCAT_INNER_(a, b) a##b
#define KVBENCH_STATUS_CONCAT_(a, b) KVBENCH_STATUS_CONCAT_INNER_(a, b)

// `lhs` may be a declaration (`auto x`, `const T y`) or an existing lvalue.
#define ASSIGN_OR_RETURN(lhs, expr) \
  KVBENCH_ASSIGN_OR_RETURN_IMPL_(KVBENCH_STATUS_CONCAT_(kvbench_statusor_, __LINE__), lhs, expr)

#define KVBENCH_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = *std::move(statusor)

#endif  // KVBENCH_BASE_STATUS_H_
