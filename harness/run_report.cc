#include "harness/run_report.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace kvbench {
namespace {

// Mean of the parseable numbers in a column over `rows`; nullopt when none parse.
std::optional<double> MeanOf(const CsvTable& t, const std::vector<size_t>& rows,
                             std::string_view column) {
  const int c = t.Column(column);
  if (c < 0) return std::nullopt;
  double sum = 0;
  int n = 0;
  for (size_t r : rows) {
    double v;
    if (absl::SimpleAtod(t.rows[r][c], &v)) {
      sum += v;
      ++n;
    }
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

}  // namespace

std::string ShortLabel(const CsvTable& t, size_t row) {
  auto cell = [&](std::string_view column) {
    const int c = t.Column(column);
    return c < 0 ? std::string() : t.rows[row][c];
  };
  std::string label = cell("policy");
  if (const std::string params = cell("params"); !params.empty()) {
    label = absl::StrCat(label, "(", absl::StrReplaceAll(params, {{";", ","}}), ")");
  }
  const std::string k = absl::StrReplaceAll(cell("k_store"), {{";", ","}}),
                    v = absl::StrReplaceAll(cell("v_store"), {{";", ","}});
  if (k == v && !k.empty() && k != "f32") {
    absl::StrAppend(&label, " kv=", k);
  } else if (k != v) {
    absl::StrAppend(&label, " k=", k, " v=", v);
  }
  return label.empty() ? cell("label") : label;
}

std::string SummaryTable(const CsvTable& table, const std::set<std::string>& hashes) {
  // Rows of this configuration, grouped by label in table order.
  const int hash_col = table.Column("config_hash"), label_col = table.Column("label"),
            error_col = table.Column("error");
  std::vector<std::string> order;
  std::map<std::string, std::vector<size_t>> by_label;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    if (hashes.count(table.rows[r][hash_col]) == 0) continue;
    const std::string& label = table.rows[r][label_col];
    if (by_label.count(label) == 0) order.push_back(label);
    by_label[label].push_back(r);
  }
  // The numbers take 85 columns; labels get what is left of 120, a longer one its own line.
  constexpr int kNumbers = 85, kMaxWidth = 120;
  int width = 6;
  for (const std::string& label : order) {
    width = std::max(width, static_cast<int>(ShortLabel(table, by_label[label][0]).size()));
  }
  width = std::min(width, kMaxWidth - kNumbers - 1);
  // Formats as absl::FormatSpec, checked where the literal is written: clang refuses a runtime
  // `const char*` format (GCC accepted it unchecked).
  using DoubleFormat = absl::FormatSpec<double>;
  auto field = [](std::optional<double> v, const DoubleFormat& fmt) {
    if (!v) return std::string("-");
    return absl::StrFormat(fmt, *v);
  };
  auto with_se = [&](const std::vector<size_t>& rows, std::string_view column,
                     const DoubleFormat& fmt) {
    const auto mean = MeanOf(table, rows, column);
    const auto se = MeanOf(table, rows, absl::StrCat(std::string(column), "_se"));
    if (!mean) return std::string("-");
    return absl::StrCat(absl::StrFormat(fmt, *mean), " +- ", field(se, fmt));
  };
  std::string out =
      absl::StrFormat("%-*s %19s %17s %12s %19s %14s\n", width, "policy", "kld_mean +- se",
                      "top1_agree +- se", "ln_ppl_ratio", "decode_tokens_per_s", "kv_bytes_ratio");
  for (const std::string& label : order) {
    const std::vector<size_t>& rows = by_label[label];
    std::string error;
    for (size_t r : rows) {
      if (!table.rows[r][error_col].empty()) error = table.rows[r][error_col];
    }
    std::string name = ShortLabel(table, rows[0]);
    if (static_cast<int>(name.size()) > width) {
      absl::StrAppend(&out, name, "\n");
      name.clear();
    }
    if (!error.empty()) {
      absl::StrAppend(&out, absl::StrFormat("%-*s error: %s\n", width, name,
                                            error.substr(0, kMaxWidth - width - 8)));
      continue;
    }
    absl::StrAppend(&out, absl::StrFormat("%-*s %19s %17s %12s %19s %14s\n", width, name,
                                          with_se(rows, "kld_mean", "%.4f"),
                                          with_se(rows, "top1_agree", "%.3f"),
                                          field(MeanOf(table, rows, "ln_ppl_ratio"), "%.4f"),
                                          field(MeanOf(table, rows, "decode_tokens_per_s"), "%.0f"),
                                          field(MeanOf(table, rows, "kv_bytes_ratio"), "%.2f")));
  }
  return out;
}

}  // namespace kvbench
