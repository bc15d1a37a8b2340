#include "harness/row_formats.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "nlohmann/json.hpp"

namespace kvbench {
namespace {

using OrderedJson = nlohmann::ordered_json;

// `cell` as a JSON number, when JSON's own grammar reads it (no leading zeros, no "+", no "nan",
// "inf" or hex) and it is finite.
bool AsNumber(const std::string& cell, OrderedJson* out) {
  if (cell.empty()) return false;
  if (!OrderedJson::accept(cell)) return false;
  const OrderedJson v = OrderedJson::parse(cell);
  if (!v.is_number()) return false;
  if (v.is_number_float() && !std::isfinite(v.get<double>())) return false;
  *out = v;
  return true;
}

// Per column: whether its cells are written as numbers (a "nan" or "inf" among them stays a
// string, JSON having no such number, without making the rest of the column text).
std::vector<bool> NumericColumns(const CsvTable& table) {
  std::vector<bool> numeric(table.header.size());
  for (size_t c = 0; c < table.header.size(); ++c) {
    if (ResultTextColumns().count(table.header[c]) > 0) continue;
    bool all = true, any = false;
    for (const std::vector<std::string>& row : table.rows) {
      if (row[c].empty()) continue;
      OrderedJson v;
      any = true;
      double d;
      const bool non_finite = absl::SimpleAtod(row[c], &d) && !std::isfinite(d);
      if (!AsNumber(row[c], &v) && !non_finite) {
        all = false;
        break;
      }
    }
    numeric[c] = all && any;
  }
  return numeric;
}

OrderedJson RowObject(const CsvTable& table, const std::vector<bool>& numeric, size_t r) {
  OrderedJson object = OrderedJson::object();
  for (size_t c = 0; c < table.header.size(); ++c) {
    const std::string& cell = table.rows[r][c];
    OrderedJson value;
    if (cell.empty()) {
      value = nullptr;
    } else if (!numeric[c] || !AsNumber(cell, &value)) {
      value = cell;
    }
    object[table.header[c]] = std::move(value);
  }
  return object;
}

// Compact JSON; a cell that is not valid UTF-8 is written with U+FFFD rather than throwing.
std::string Dump(const OrderedJson& j, int indent = -1) {
  return j.dump(indent, ' ', false, OrderedJson::error_handler_t::replace);
}

std::string MarkdownCell(const std::string& cell) {
  return absl::StrReplaceAll(cell, {{"|", "\\|"}, {"\n", " "}});
}

}  // namespace

absl::StatusOr<RowFormat> ParseRowFormat(std::string_view text) {
  if (text == "csv") return RowFormat::kCsv;
  if (text == "jsonl") return RowFormat::kJsonl;
  if (text == "json") return RowFormat::kJson;
  if (text == "md") return RowFormat::kMarkdown;
  return absl::InvalidArgumentError(
      absl::StrCat("--format '", std::string(text), "' is not csv, jsonl, json or md"));
}

std::string RowFormatExtension(RowFormat format) {
  switch (format) {
    case RowFormat::kCsv:
      return ".csv";
    case RowFormat::kJsonl:
      return ".jsonl";
    case RowFormat::kJson:
      return ".json";
    case RowFormat::kMarkdown:
      return ".md";
  }
  return "";
}

std::string RowFormatPath(const std::string& csv_path, RowFormat format) {
  std::string stem = csv_path;
  if (stem.size() >= 4 && stem.compare(stem.size() - 4, 4, ".csv") == 0)
    stem.resize(stem.size() - 4);
  return absl::StrCat(stem, format == RowFormat::kJson ? ".rows" : "", RowFormatExtension(format));
}

const std::set<std::string>& ResultTextColumns() {
  static const auto* const kColumns = new std::set<std::string>{
      "experiment", "model",    "policy",  "k_store",     "v_store",   "params", "label",
      "strategy",   "eviction", "git_sha", "config_hash", "timestamp", "error"};
  return *kColumns;
}

std::string FormatRows(const CsvTable& table, RowFormat format) {
  if (format == RowFormat::kCsv) return FormatCsv(table);
  if (format == RowFormat::kMarkdown) {
    std::string out = "|";
    for (const std::string& h : table.header) absl::StrAppend(&out, " ", MarkdownCell(h), " |");
    absl::StrAppend(&out, "\n|");
    for (size_t c = 0; c < table.header.size(); ++c) absl::StrAppend(&out, " --- |");
    absl::StrAppend(&out, "\n");
    for (const std::vector<std::string>& row : table.rows) {
      absl::StrAppend(&out, "|");
      for (const std::string& cell : row) absl::StrAppend(&out, " ", MarkdownCell(cell), " |");
      absl::StrAppend(&out, "\n");
    }
    return out;
  }
  const std::vector<bool> numeric = NumericColumns(table);
  if (format == RowFormat::kJsonl) {
    std::string out;
    for (size_t r = 0; r < table.rows.size(); ++r) {
      absl::StrAppend(&out, Dump(RowObject(table, numeric, r)), "\n");
    }
    return out;
  }
  OrderedJson rows = OrderedJson::array();
  for (size_t r = 0; r < table.rows.size(); ++r) rows.push_back(RowObject(table, numeric, r));
  return Dump(rows, 1) + "\n";
}

}  // namespace kvbench
