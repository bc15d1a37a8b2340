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
#include "formats/file_lock.h"
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

namespace {

// The table at `path`: NotFound when there is none; `columns` must match unless `other_header`
// is given, which then says whether the file has other columns.
absl::StatusOr<CsvTable> ReadTable(const std::string& path, const std::vector<std::string>& columns,
                                   bool* other_header) {
  ASSIGN_OR_RETURN(CsvTable table, ReadCsvFile(path));
  if (table.header.empty()) return CsvTable{.header = columns, .rows = {}};
  if (table.header != columns) {
    if (other_header == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " was rewritten with a different header while this run was writing it"));
    }
    *other_header = true;
  }
  return table;
}

}  // namespace

absl::StatusOr<ResultTable> ResultTable::Open(std::string path,
                                              const std::vector<std::string>& columns, bool force) {
  // Before any case runs: a folder, device or link as `output` fails now, not after the first case.
  RETURN_IF_ERROR(CheckOutputPath(path));
  RETURN_IF_ERROR(CheckOutputPath(MetadataPath(path)));
  CsvTable table{.header = columns, .rows = {}};
  bool other_header = false;
  {
    ASSIGN_OR_RETURN(const FileLock lock, FileLock::Acquire(path));
    absl::StatusOr<CsvTable> existing = ReadTable(path, columns, &other_header);
    if (existing.ok() && !other_header) {
      table = *std::move(existing);
    } else if (!existing.ok() && existing.status().code() != absl::StatusCode::kNotFound) {
      return existing.status();  // unreadable or malformed: an error even under --force
    }
  }
  if (other_header && !force) {
    return absl::FailedPreconditionError(
        absl::StrCat(path,
                     " has a different header (written by another kvbench version?); move it "
                     "away or pass --force"));
  }
  KVBENCH_CHECK(table.Column("config_hash") >= 0 && table.Column("error") >= 0,
                "a results table needs config_hash and error columns");
  ResultTable result(std::move(path), std::move(table), force);
  result.replace_ = other_header;
  return result;
}

std::vector<size_t> ResultTable::TakePending(const std::vector<std::string>& hashes) {
  const int hash_col = table_.Column("config_hash"), error_col = table_.Column("error");
  std::set<std::string> done;
  for (const std::vector<std::string>& row : table_.rows) {
    if (row[error_col].empty()) done.insert(row[hash_col]);
  }
  std::vector<size_t> pending;
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (force_ || done.count(hashes[i]) == 0) {
      pending.push_back(i);
      taken_.insert(hashes[i]);
    }
  }
  std::erase_if(table_.rows, [&](const std::vector<std::string>& row) {
    return taken_.count(row[hash_col]) > 0;
  });
  return pending;
}

absl::Status ResultTable::Append(std::vector<std::string> row) {
  taken_.insert(row[table_.Column("config_hash")]);
  rows_.push_back(std::move(row));
  return Write();
}

absl::Status ResultTable::Write() {
  ASSIGN_OR_RETURN(const FileLock lock, FileLock::Acquire(path_));
  CsvTable merged{.header = table_.header, .rows = {}};
  if (!replace_) {
    absl::StatusOr<CsvTable> disk = ReadTable(path_, table_.header, /*other_header=*/nullptr);
    if (disk.ok()) {
      merged = *std::move(disk);
    } else if (disk.status().code() != absl::StatusCode::kNotFound) {
      return disk.status();
    }
  }
  const int hash_col = merged.Column("config_hash");
  std::erase_if(merged.rows, [&](const std::vector<std::string>& row) {
    return taken_.count(row[hash_col]) > 0;
  });
  merged.rows.insert(merged.rows.end(), rows_.begin(), rows_.end());
  RETURN_IF_ERROR(WriteFileAtomically(path_, FormatCsv(merged)));
  replace_ = false;  // the file now has this table's columns
  table_ = std::move(merged);
  return absl::OkStatus();
}

}  // namespace kvbench
