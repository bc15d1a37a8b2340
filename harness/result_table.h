// The results CSV of a sweep and the contract every sweep keeps with it (the divergence sweep of
// harness/runner.h, the prefix sweep of prefix/sweep.h):
//
//   - one row per case, in the sweep's fixed columns, among them `config_hash` and `error`;
//   - a case's config hash covers everything that determines its numbers (HashHex of that text);
//   - the file is rewritten atomically after every row, so an interruption loses at most the case
//     that was running;
//   - resume: a case whose hash already has a row with an empty `error` is skipped; error rows are
//     retried; `force` recomputes every case. Rows of other configurations in the file are kept.
#ifndef KVBENCH_HARNESS_RESULT_TABLE_H_
#define KVBENCH_HARNESS_RESULT_TABLE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "harness/csv.h"

namespace kvbench {

// 64-bit FNV-1a of `text` as 16 hex digits: the config hash.
std::string HashHex(std::string_view text);

// One row under construction; columns are set by name, the ones never set stay empty.
class ResultRow {
 public:
  // `columns` must outlive the row.
  explicit ResultRow(const std::vector<std::string>& columns)
      : columns_(&columns), values_(columns.size()) {}

  // CHECKs that `column` is one of the columns.
  void Set(std::string_view column, std::string value);
  // The value set for `column` (empty when none).
  const std::string& Get(std::string_view column) const;
  std::vector<std::string> Take() && { return std::move(values_); }

 private:
  size_t Index(std::string_view column) const;

  const std::vector<std::string>* columns_;
  std::vector<std::string> values_;  // one per column
};

class ResultTable {
 public:
  // The rows already at `path` (none when it does not exist). InvalidArgument, even with `force`,
  // when `path` or its metadata .json is a folder, device, FIFO or link (CheckOutputPath): before
  // any case runs. FailedPrecondition when the file has other columns (written by another kvbench
  // version), the read error when it cannot be read; with `force` either starts an empty table.
  static absl::StatusOr<ResultTable> Open(std::string path, const std::vector<std::string>& columns,
                                          bool force);

  // Resume: of the sweep's cases, given by their hashes in order, the indices still to run (all of
  // them under force). Rows of those cases (error rows; under force, any) are dropped now.
  std::vector<size_t> TakePending(const std::vector<std::string>& hashes);

  // Appends `row` (the table's columns) and rewrites the file.
  absl::Status Append(std::vector<std::string> row);
  // Rewrites the file as it stands (a sweep with nothing to run still leaves its header).
  absl::Status Write() const;

  const CsvTable& table() const { return table_; }
  const std::string& path() const { return path_; }

 private:
  ResultTable(std::string path, CsvTable table, bool force)
      : path_(std::move(path)), table_(std::move(table)), force_(force) {}

  std::string path_;
  CsvTable table_;
  bool force_;
};

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_RESULT_TABLE_H_
