// A results CSV read back for the report and compare: which command wrote it (its kind, told by
// its header), its rows, and the run metadata JSON written beside it (harness/run_metadata.h).
//
// Kinds, by the column that only that writer has:
//   kDivergence  `kvbench run` (harness/runner.cc ResultColumns): has kld_mean
//   kNiah        the needle-in-a-haystack task: has task (rows with task = niah)
//   kPrefix      `kvbench prefix` (prefix/sweep.cc PrefixResultColumns): has hit_rate_tokens
// Any other header is InvalidArgument naming the file and the columns looked for.
#ifndef KVBENCH_REPORT_RESULTS_H_
#define KVBENCH_REPORT_RESULTS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "formats/json.h"
#include "harness/csv.h"

namespace kvbench {

enum class ResultsKind { kDivergence, kNiah, kPrefix };

// "divergence", "niah", "prefix".
absl::string_view ResultsKindName(ResultsKind kind);

struct ResultsFile {
  std::string path;
  ResultsKind kind = ResultsKind::kDivergence;
  CsvTable table;
  std::optional<Json> metadata;  // <path>.json when it exists and parses
  std::string metadata_error;    // why it is absent when a file was there but did not parse

  // The field of `row` in `column`; empty when the table has no such column.
  std::string Text(size_t row, std::string_view column) const;
  // The field as a finite number; nullopt when empty, not a number, NaN or infinite.
  std::optional<double> Number(size_t row, std::string_view column) const;
  // Whether the row is a failed case (non-empty `error`).
  bool IsError(size_t row) const { return !Text(row, "error").empty(); }
};

// The kind told by a header; InvalidArgument naming `source` otherwise.
absl::StatusOr<ResultsKind> DetectKind(const CsvTable& table, std::string_view source);

// Reads the CSV (NotFound when missing), detects its kind, and reads the metadata beside it.
absl::StatusOr<ResultsFile> LoadResults(const std::string& path);

}  // namespace kvbench

#endif  // KVBENCH_REPORT_RESULTS_H_
