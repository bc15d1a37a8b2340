#include "report/results.h"

#include <cmath>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "harness/run_metadata.h"

namespace kvbench {

absl::string_view ResultsKindName(ResultsKind kind) {
  switch (kind) {
    case ResultsKind::kDivergence:
      return "divergence";
    case ResultsKind::kNiah:
      return "niah";
    case ResultsKind::kPrefix:
      return "prefix";
  }
  return "unknown";
}

std::string ResultsFile::Text(size_t row, std::string_view column) const {
  const int c = table.Column(column);
  return c < 0 ? std::string() : table.rows[row][c];
}

std::optional<double> ResultsFile::Number(size_t row, std::string_view column) const {
  const std::string text = Text(row, column);
  double value = 0;
  if (text.empty() || !absl::SimpleAtod(text, &value) || !std::isfinite(value)) return std::nullopt;
  return value;
}

absl::StatusOr<ResultsKind> DetectKind(const CsvTable& table, std::string_view source) {
  if (table.header.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(source), ": empty file, not a kvbench results CSV"));
  }
  // NIAH first: its rows also carry policy columns, but only it has `task`.
  if (table.Column("task") >= 0) return ResultsKind::kNiah;
  if (table.Column("kld_mean") >= 0) return ResultsKind::kDivergence;
  if (table.Column("hit_rate_tokens") >= 0) return ResultsKind::kPrefix;
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(source),
                   ": not a kvbench results CSV (no column task (NIAH), kld_mean (kvbench run) or "
                   "hit_rate_tokens (kvbench prefix); its columns: ",
                   absl::StrJoin(table.header, ", "), ")"));
}

absl::StatusOr<ResultsFile> LoadResults(const std::string& path) {
  ResultsFile file;
  file.path = path;
  ASSIGN_OR_RETURN(file.table, ReadCsvFile(path));
  ASSIGN_OR_RETURN(file.kind, DetectKind(file.table, path));
  const std::string metadata_path = MetadataPath(path);
  if (metadata_path != path && std::filesystem::is_regular_file(metadata_path)) {
    auto metadata = ParseJsonFile(metadata_path);
    if (metadata.ok()) {
      file.metadata = *std::move(metadata);
    } else {
      file.metadata_error = std::string(metadata.status().message());
    }
  }
  return file;
}

}  // namespace kvbench
