#include "harness/csv.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status.h"
#include "formats/read_file.h"

namespace kvbench {

int CsvTable::Column(std::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::string CsvEscape(std::string_view field) {
  const bool needs_quotes = field.find_first_of(",\"\n\r") != std::string_view::npos ||
                            (!field.empty() && (field.front() == ' ' || field.back() == ' ' ||
                                                field.front() == '\t' || field.back() == '\t'));
  if (!needs_quotes) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

namespace {

void AppendRecord(const std::vector<std::string>& fields, std::string* out) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) *out += ',';
    *out += CsvEscape(fields[i]);
  }
  *out += '\n';
}

}  // namespace

std::string FormatCsv(const CsvTable& table) {
  std::string out;
  AppendRecord(table.header, &out);
  for (const std::vector<std::string>& row : table.rows) {
    KVBENCH_CHECK(row.size() == table.header.size(), "row of %zu fields, header of %zu", row.size(),
                  table.header.size());
    AppendRecord(row, &out);
  }
  return out;
}

absl::StatusOr<CsvTable> ParseCsv(std::string_view text, std::string_view source) {
  CsvTable table;
  std::vector<std::string> record;
  std::string field;
  size_t i = 0;
  int line = 1;         // current line (for errors)
  int record_line = 1;  // line where the current record began
  auto error = [&](int at, const std::string& what) {
    return absl::DataLossError(absl::StrCat(std::string(source), ":", at, ": ", what));
  };
  auto end_record = [&]() -> absl::Status {
    record.push_back(std::move(field));
    field.clear();
    if (table.header.empty()) {
      table.header = std::move(record);
    } else if (record.size() != table.header.size()) {
      return error(record_line, absl::StrCat("record has ", record.size(),
                                             " fields, the header has ", table.header.size()));
    } else {
      table.rows.push_back(std::move(record));
    }
    record.clear();
    record_line = line;
    return absl::OkStatus();
  };
  while (i < text.size()) {
    if (text[i] == '"' && field.empty()) {  // quoted field
      const int quote_line = line;
      ++i;
      bool closed = false;
      while (i < text.size()) {
        const char c = text[i++];
        if (c == '"') {
          if (i < text.size() && text[i] == '"') {
            field += '"';
            ++i;
          } else {
            closed = true;
            break;
          }
        } else {
          if (c == '\n') ++line;
          field += c;
        }
      }
      if (!closed) return error(quote_line, "unterminated quoted field");
      if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
        return error(line, "unexpected character after a closing quote");
      }
      continue;
    }
    const char c = text[i++];
    if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
    } else if (c == '\r' && i < text.size() && text[i] == '\n') {
      // CRLF: the '\n' ends the record
    } else if (c == '\n') {
      ++line;
      RETURN_IF_ERROR(end_record());
    } else if (c == '"') {
      return error(line, "quote inside an unquoted field");
    } else {
      field += c;
    }
  }
  if (!field.empty() || !record.empty()) {  // last record without a final newline
    RETURN_IF_ERROR(end_record());
  }
  return table;
}

absl::StatusOr<CsvTable> ReadCsvFile(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseCsv(text, path);
}

}  // namespace kvbench
