// CSV tables as the harness writes and reads them back (RFC 4180).
//
// Format: the first record is the header; every record has exactly as many fields as the header.
// Records end with "\n" (a "\r\n" ending is accepted on read). A field is quoted with '"' when it
// holds a comma, a quote, a line break or leading/trailing space; a quote inside a quoted field is
// doubled. Nothing else is escaped, so any UTF-8 text round-trips.
#ifndef KVBENCH_HARNESS_CSV_H_
#define KVBENCH_HARNESS_CSV_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "formats/atomic_file.h"  // WriteFileAtomically, used with FormatCsv

namespace kvbench {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each the size of header

  // Index of column `name` in header, or -1.
  int Column(std::string_view name) const;
};

// One field, quoted when needed.
std::string CsvEscape(std::string_view field);

// The whole table, header first. Rows must have the header's size (checked).
std::string FormatCsv(const CsvTable& table);

// Parses CSV text. `source` names it in errors ("results/x.csv:12: ..."). DataLoss for an
// unterminated quote, a stray quote or a record whose field count differs from the header's.
// Empty text gives an empty table (no header).
absl::StatusOr<CsvTable> ParseCsv(std::string_view text, std::string_view source);

// Reads and parses a file; NotFound when it does not exist.
absl::StatusOr<CsvTable> ReadCsvFile(const std::string& path);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_CSV_H_
