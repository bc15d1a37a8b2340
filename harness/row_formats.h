// A results CSV's rows in the other formats `kvbench run --format` writes (llama-bench offers the
// same set): JSON Lines (one object per row), one JSON array of those objects, and a Markdown
// table. The CSV stays the store of record (resume reads it); these are written from its rows
// after the run, so they hold exactly what it holds.
//
// JSON values: an empty cell is null; a cell is a number when every non-empty cell of its column
// is a number (nan and inf aside) written the way JSON reads it back (so "0123" or "1e400" stays
// text) and the column is not one that identifies a case (ResultTextColumns: a git_sha or
// config_hash of digits only is still text); anything else is a string. A nan or inf in a numeric
// column stays the string "nan" / "inf" (JSON has no such number). Objects keep the CSV's column
// order.
#ifndef KVBENCH_HARNESS_ROW_FORMATS_H_
#define KVBENCH_HARNESS_ROW_FORMATS_H_

#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "harness/csv.h"

namespace kvbench {

enum class RowFormat { kCsv, kJsonl, kJson, kMarkdown };

// "csv", "jsonl", "json" or "md"; InvalidArgument naming --format otherwise.
absl::StatusOr<RowFormat> ParseRowFormat(std::string_view text);

// The file extension of `format`, with its dot: ".csv", ".jsonl", ".json", ".md".
std::string RowFormatExtension(RowFormat format);

// Where `format`'s file goes by default: the CSV's path with the format's extension
// (results/x.csv -> results/x.jsonl, results/x.md), for json results/x.rows.json (results/x.json
// is the run's metadata).
std::string RowFormatPath(const std::string& csv_path, RowFormat format);

// The columns that identify a case or its provenance, always strings in JSON.
const std::set<std::string>& ResultTextColumns();

// The table in `format` (kCsv: FormatCsv).
std::string FormatRows(const CsvTable& table, RowFormat format);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_ROW_FORMATS_H_
