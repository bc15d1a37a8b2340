#include "harness/gate_report.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace kvbench {
namespace {

std::string Num(const std::optional<double>& v) { return v ? absl::StrFormat("%.6g", *v) : "-"; }

std::string Change(const GateCheck& c) {
  if (!c.baseline || !c.current) return "-";
  const double delta = *c.current - *c.baseline;
  std::string s = absl::StrFormat("%+.4g", delta);
  if (*c.baseline != 0)
    absl::StrAppend(&s, absl::StrFormat(" (%+.2f%%)", 100 * delta / std::fabs(*c.baseline)));
  return s;
}

std::string Status(const GateCheck& c) {
  if (!c.passed) return "FAIL";
  return c.kind == GateCheckKind::kRule ? "PASS" : "ALLOWED";
}

std::vector<std::vector<std::string>> Cells(const GateReport& report, bool failures_only) {
  std::vector<std::vector<std::string>> rows;
  for (const GateCheck& c : report.checks) {
    if (failures_only && c.passed) continue;
    rows.push_back({Status(c), c.metric, c.row, Num(c.baseline), Num(c.current), Change(c),
                    c.kind == GateCheckKind::kRule ? c.limit : c.rule});
  }
  return rows;
}

const std::vector<std::string> kHeader = {"status",  "metric", "row",  "baseline",
                                          "current", "change", "limit"};

std::string Verdict(const GateReport& report) {
  return absl::StrCat(report.passed() ? "PASS" : "FAIL", ": ", report.checks.size(), " checks, ",
                      report.failures, " failed (baseline ", report.baseline_source, ", current ",
                      report.current_source, ", rules ", report.rules_source, ")");
}

std::string MarkdownCell(std::string_view text) {
  std::string s = absl::StrReplaceAll(absl::string_view(text.data(), text.size()),
                                      {{"\\", "\\\\"}, {"|", "\\|"}, {"\n", " "}, {"\r", " "}});
  return s.empty() ? " " : s;
}

std::string MarkdownTable(const std::vector<std::vector<std::string>>& rows) {
  std::string out = absl::StrCat("| ", absl::StrJoin(kHeader, " | "), " |\n|");
  for (size_t i = 0; i < kHeader.size(); ++i) out += i >= 3 && i <= 5 ? "---:|" : "---|";
  out += "\n";
  for (const auto& row : rows) {
    std::vector<std::string> cells;
    for (const std::string& cell : row) cells.push_back(MarkdownCell(cell));
    cells[0] = absl::StrCat("**", cells[0], "**");
    absl::StrAppend(&out, "| ", absl::StrJoin(cells, " | "), " |\n");
  }
  return out;
}

// Decodes one UTF-8 code point at text[i]; returns its length, or 0 when the bytes are not valid
// UTF-8 (then the caller replaces one byte).
size_t Utf8Length(std::string_view text, size_t i) {
  const unsigned char b = static_cast<unsigned char>(text[i]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::string FormatGateTable(const GateReport& report) {
  const std::vector<std::vector<std::string>> rows = Cells(report, false);
  std::vector<size_t> width(kHeader.size());
  for (size_t i = 0; i < kHeader.size(); ++i) width[i] = kHeader[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  auto line = [&width](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      const bool right = i >= 3 && i <= 5;  // numbers
      const std::string pad(width[i] - cells[i].size(), ' ');
      absl::StrAppend(&out, i ? "  " : "", right ? pad : "", cells[i],
                      right || i + 1 == cells.size() ? "" : pad);
    }
    return absl::StrCat(out, "\n");
  };
  std::string out = line(kHeader);
  for (const auto& row : rows) out += line(row);
  bool any = false;
  for (const GateCheck& c : report.checks) {
    if (c.passed) continue;
    if (!any) out += "\nfailures:\n";
    any = true;
    absl::StrAppend(&out, "  ", c.row, ": ", c.message, "\n");
  }
  absl::StrAppend(&out, "\n", Verdict(report), "\n");
  return out;
}

std::string FormatGateMarkdown(const GateReport& report) {
  std::string out = absl::StrCat(
      "## kvbench gate: ", report.passed() ? "PASS" : "FAIL", "\n\n", report.checks.size(),
      " checks, ", report.failures, " failed. Baseline `", report.baseline_source, "`, current `",
      report.current_source, "`, rules `", report.rules_source, "`.\n\n");
  if (!report.passed()) {
    out += "### Failures\n\n";
    for (const GateCheck& c : report.checks) {
      if (!c.passed)
        absl::StrAppend(&out, "- `", MarkdownCell(c.row), "`: ", MarkdownCell(c.message), "\n");
    }
    out += "\n";
  }
  absl::StrAppend(&out, "### All checks\n\n", MarkdownTable(Cells(report, false)));
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const char ch = text[i];
    const unsigned char u = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&':
        out += "&amp;";
        ++i;
        continue;
      case '<':
        out += "&lt;";
        ++i;
        continue;
      case '>':
        out += "&gt;";
        ++i;
        continue;
      case '"':
        out += "&quot;";
        ++i;
        continue;
      case '\'':
        out += "&apos;";
        ++i;
        continue;
      case '\n':
        out += "&#10;";
        ++i;
        continue;  // kept through attribute normalisation
      case '\t':
        out += "&#9;";
        ++i;
        continue;
      case '\r':
        out += "&#13;";
        ++i;
        continue;
      default:
        break;
    }
    if (u < 0x20) {  // forbidden in XML 1.0, even as a character reference
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    const size_t n = Utf8Length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(text.data() + i, n);
    i += n;
  }
  return out;
}

std::string FormatGateJUnit(const GateReport& report) {
  const std::string suite = XmlEscape(report.rules_source);
  std::string out = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"kvbench gate\" tests=\"",
      report.checks.size(), "\" failures=\"", report.failures,
      "\" errors=\"0\">\n  <testsuite name=\"", suite, "\" tests=\"", report.checks.size(),
      "\" failures=\"", report.failures, "\" errors=\"0\" skipped=\"0\">\n");
  for (const GateCheck& c : report.checks) {
    absl::StrAppend(&out, "    <testcase classname=\"", XmlEscape(c.row), "\" name=\"",
                    XmlEscape(absl::StrCat(c.metric, " ", c.rule)), "\"");
    if (c.passed) {
      out += "/>\n";
      continue;
    }
    const std::string details =
        absl::StrCat("baseline: ", Num(c.baseline), "\ncurrent: ", Num(c.current),
                     "\nchange: ", Change(c), "\nlimit: ", c.limit.empty() ? "-" : c.limit);
    absl::StrAppend(&out, ">\n      <failure message=\"", XmlEscape(c.message),
                    "\" type=\"regression\">", XmlEscape(details), "</failure>\n    </testcase>\n");
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

std::string DescribeBaselineUpdate(const GateRules& rules, const CsvTable& baseline,
                                   const CsvTable& current) {
  if (baseline.header.empty())
    return absl::StrCat("new baseline with ", current.rows.size(), " rows\n");
  // Rows are matched on the key; the caller has validated the key columns on both sides.
  auto keys_of = [&rules](const CsvTable& t) {
    std::unordered_map<std::string, size_t> m;
    for (size_t r = 0; r < t.rows.size(); ++r) m.emplace(GateRowKey(t, rules.key, r), r);
    return m;
  };
  const auto base = keys_of(baseline), cur = keys_of(current);
  std::set<std::string> columns;
  for (const GateRule& rule : rules.rules) columns.insert(rule.metric);
  std::string out;
  for (size_t r = 0; r < baseline.rows.size(); ++r) {
    const std::string key = GateRowKey(baseline, rules.key, r);
    if (!cur.count(key)) absl::StrAppend(&out, "removed ", key, "\n");
  }
  for (size_t r = 0; r < current.rows.size(); ++r) {
    const std::string key = GateRowKey(current, rules.key, r);
    auto it = base.find(key);
    if (it == base.end()) {
      absl::StrAppend(&out, "added   ", key, "\n");
      continue;
    }
    std::string diffs;
    for (const std::string& col : columns) {
      const int bc = baseline.Column(col), cc = current.Column(col);
      const std::string before = bc >= 0 ? baseline.rows[it->second][bc] : "(no column)";
      const std::string after = cc >= 0 ? current.rows[r][cc] : "(no column)";
      if (before != after) absl::StrAppend(&diffs, "  ", col, ": ", before, " -> ", after, "\n");
    }
    if (!diffs.empty()) {
      absl::StrAppend(&out, "changed ", key, "\n", diffs);
    }
  }
  if (out.empty()) out = "no gated value changed\n";
  return out;
}

}  // namespace kvbench
