// The results CSV of a sweep and the contract every sweep keeps with it (the divergence sweep of
// harness/runner.h, the prefix sweep of prefix/sweep.h):
//
//   - one row per case, in the sweep's fixed columns, among them `config_hash` and `error`;
//   - a case's config hash covers everything that determines its numbers (HashHex of that text);
//   - the file is rewritten atomically after every row, so an interruption loses at most the case
//     that was running;
//   - resume: a case whose hash already has a row with an empty `error` is skipped; error rows are
//     retried; `force` recomputes every case of this sweep. Rows of other configurations in the
//     file are kept;
//   - several runs may share one file: every write holds an advisory lock on "<path>.lock"
//     (formats/file_lock.h), re-reads the file and merges into it, so rows another run wrote
//     meanwhile stay (before, the last writer's view replaced the file and the other run's rows
//     were lost).
#ifndef KVBENCH_HARNESS_RESULT_TABLE_H_
#define KVBENCH_HARNESS_RESULT_TABLE_H_

#include <cstddef>
#include <set>
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
  // any case runs. A file that exists but cannot be read or parsed is its read error (DataLoss
  // naming the malformed line), with or without `force`: never taken for an absent one.
  // FailedPrecondition when the file has other columns (written by another kvbench version);
  // `force` then starts a new table.
  static absl::StatusOr<ResultTable> Open(std::string path, const std::vector<std::string>& columns,
                                          bool force);

  // Resume: of the sweep's cases, given by their hashes in order, the indices still to run (all of
  // them under force). Rows of those cases (error rows; under force, any) are dropped now.
  std::vector<size_t> TakePending(const std::vector<std::string>& hashes);

  // Appends `row` (the table's columns; its config_hash one TakePending returned) and writes the
  // file: under the lock, the rows on disk now, less those of the cases this run recomputes, then
  // this run's rows. table() becomes that merged table.
  absl::Status Append(std::vector<std::string> row);
  // Writes the file as Append does, with no new row (a sweep with nothing to run still leaves its
  // header).
  absl::Status Write();

  const CsvTable& table() const { return table_; }
  const std::string& path() const { return path_; }

 private:
  ResultTable(std::string path, CsvTable table, bool force)
      : path_(std::move(path)), table_(std::move(table)), force_(force) {}

  std::string path_;
  CsvTable table_;  // as last read or written
  bool force_;
  bool replace_ = false;         // the file on disk has other columns: `force` replaces it
  std::set<std::string> taken_;  // hashes of the cases this run (re)computes
  std::vector<std::vector<std::string>> rows_;  // this run's rows, in order
};

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_RESULT_TABLE_H_
