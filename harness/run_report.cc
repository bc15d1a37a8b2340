#include "harness/run_report.h"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

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

void Progress::Show(int done, std::string_view what) {
  if (!enabled_ || total_ == 0) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  constexpr int kWidth = 24;
  const int filled = done * kWidth / total_;
  std::string eta = "?";
  if (done > 0) eta = absl::StrFormat("%.0f s", elapsed / done * (total_ - done));
  std::string label(what.substr(0, 40));
  std::fprintf(out_, "\r\033[K[%s%s] %d/%d cases  %.1f s  ETA %s  %s",
               std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(), done,
               total_, elapsed, eta.c_str(), label.c_str());
  std::fflush(out_);
}

void Progress::Finish() {
  if (enabled_ && total_ > 0) std::fprintf(out_, "\r\033[K");
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
  int width = 6;
  for (const std::string& label : order) {
    width = std::max(width, std::min(100, static_cast<int>(label.size())));
  }
  std::string out =
      absl::StrFormat("%-*s %10s %7s %9s %7s %9s %10s %6s\n", width, "policy", "kld_mean", "top1%",
                      "lnPPLrat", "greedy", "tok/s", "kv_bytes", "ratio");
  auto field = [](std::optional<double> v, const char* fmt) {
    if (!v) return std::string("-");
    char buf[64];
    std::snprintf(buf, sizeof(buf), fmt, *v);
    return std::string(buf);
  };
  for (const std::string& label : order) {
    const std::vector<size_t>& rows = by_label[label];
    std::string error;
    for (size_t r : rows) {
      if (!table.rows[r][error_col].empty()) error = table.rows[r][error_col];
    }
    std::string name =
        static_cast<int>(label.size()) > width ? label.substr(0, width - 3) + "..." : label;
    if (!error.empty()) {
      absl::StrAppend(&out, absl::StrFormat("%-*s error: %s\n", width, name, error.substr(0, 120)));
      continue;
    }
    const auto top1 = MeanOf(table, rows, "top1_agree");
    absl::StrAppend(&out, absl::StrFormat("%-*s %10s %7s %9s %7s %9s %10s %6s\n", width, name,
                                          field(MeanOf(table, rows, "kld_mean"), "%.4g"),
                                          top1 ? absl::StrFormat("%.1f", *top1 * 100) : "-",
                                          field(MeanOf(table, rows, "ln_ppl_ratio"), "%.4g"),
                                          field(MeanOf(table, rows, "greedy_match_len"), "%.1f"),
                                          field(MeanOf(table, rows, "decode_tokens_per_s"), "%.0f"),
                                          field(MeanOf(table, rows, "kv_bytes_logical"), "%.0f"),
                                          field(MeanOf(table, rows, "kv_bytes_ratio"), "%.2f")));
  }
  return out;
}

}  // namespace kvbench
