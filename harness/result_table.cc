#include "harness/result_table.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"
#include "base/status.h"
#include "formats/atomic_file.h"
#include "harness/run_metadata.h"

namespace kvbench {

std::string HashHex(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return absl::StrFormat("%016x", h);
}

size_t ResultRow::Index(std::string_view column) const {
  const auto it = std::find(columns_->begin(), columns_->end(), column);
  KVBENCH_CHECK(it != columns_->end(), "no CSV column %.*s", static_cast<int>(column.size()),
                column.data());
  return it - columns_->begin();
}

void ResultRow::Set(std::string_view column, std::string value) {
  values_[Index(column)] = std::move(value);
}

const std::string& ResultRow::Get(std::string_view column) const { return values_[Index(column)]; }

absl::StatusOr<ResultTable> ResultTable::Open(std::string path,
                                              const std::vector<std::string>& columns, bool force) {
  // Before any case runs: a folder, device or link as `output` fails now, not after the first case.
  RETURN_IF_ERROR(CheckOutputPath(path));
  RETURN_IF_ERROR(CheckOutputPath(MetadataPath(path)));
  CsvTable table{.header = columns, .rows = {}};
  absl::StatusOr<CsvTable> existing = ReadCsvFile(path);
  if (existing.ok()) {
    if (existing->header == columns) {
      table = *std::move(existing);
    } else if (!force && !existing->header.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(path,
                       " has a different header (written by another kvbench version?); move it "
                       "away or pass --force"));
    }
  } else if (existing.status().code() != absl::StatusCode::kNotFound && !force) {
    return existing.status();
  }
  KVBENCH_CHECK(table.Column("config_hash") >= 0 && table.Column("error") >= 0,
                "a results table needs config_hash and error columns");
  return ResultTable(std::move(path), std::move(table), force);
}

std::vector<size_t> ResultTable::TakePending(const std::vector<std::string>& hashes) {
  const int hash_col = table_.Column("config_hash"), error_col = table_.Column("error");
  std::set<std::string> done;
  for (const std::vector<std::string>& row : table_.rows) {
    if (row[error_col].empty()) done.insert(row[hash_col]);
  }
  std::vector<size_t> pending;
  std::set<std::string> pending_hashes;
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (force_ || done.count(hashes[i]) == 0) {
      pending.push_back(i);
      pending_hashes.insert(hashes[i]);
    }
  }
  std::erase_if(table_.rows, [&](const std::vector<std::string>& row) {
    return pending_hashes.count(row[hash_col]) > 0;
  });
  return pending;
}

absl::Status ResultTable::Append(std::vector<std::string> row) {
  table_.rows.push_back(std::move(row));
  return Write();
}

absl::Status ResultTable::Write() const { return WriteFileAtomically(path_, FormatCsv(table_)); }

}  // namespace kvbench
