#include "report/compare.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "report/stats.h"

namespace kvbench {
namespace {

enum class Better { kLower, kHigher };

struct Metric {
  const char* column;
  const char* se_column;  // nullptr: none
  Better better;
};

const std::vector<Metric>& MetricsOf(ResultsKind kind) {
  static const auto* const kDivergence =
      new std::vector<Metric>{{"kld_mean", "kld_mean_se", Better::kLower},
                              {"top1_agree", "top1_agree_se", Better::kHigher},
                              {"ln_ppl_ratio", "ln_ppl_ratio_se", Better::kLower},
                              {"kld_p99", nullptr, Better::kLower},
                              {"greedy_match_len", nullptr, Better::kHigher},
                              {"decode_ms_p50", nullptr, Better::kLower},
                              {"prefill_ms", nullptr, Better::kLower},
                              {"kv_bytes_logical", nullptr, Better::kLower}};
  static const auto* const kNiah =
      new std::vector<Metric>{{"accuracy", nullptr, Better::kHigher},  // tested on correct / n
                              {"kv_bytes_logical", nullptr, Better::kLower},
                              {"answer_ms", nullptr, Better::kLower}};
  static const auto* const kPrefix =
      new std::vector<Metric>{{"hit_rate_tokens", nullptr, Better::kHigher},
                              {"ttft_ms_p50", nullptr, Better::kLower},
                              {"ttft_ms_p95", nullptr, Better::kLower},
                              {"cache_bytes_peak", nullptr, Better::kLower}};
  switch (kind) {
    case ResultsKind::kDivergence:
      return *kDivergence;
    case ResultsKind::kNiah:
      return *kNiah;
    case ResultsKind::kPrefix:
      return *kPrefix;
  }
  return *kDivergence;
}

using Key = std::vector<std::string>;

absl::StatusOr<std::map<Key, size_t>> IndexRows(const ResultsFile& file) {
  std::map<Key, size_t> index;
  for (size_t r = 0; r < file.table.rows.size(); ++r) {
    Key key;
    for (const std::string& c : CompareKey(file.kind)) key.push_back(file.Text(r, c));
    if (!index.emplace(key, r).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.path, ": rows ", index[key] + 2, " and ", r + 2, " have the same ",
                       absl::StrJoin(CompareKey(file.kind), ", "), " (", absl::StrJoin(key, ", "),
                       "): cannot tell which to compare"));
    }
  }
  return index;
}

Verdict Judge(double z, Better better) {
  if (std::fabs(z) <= kSignificantZ) return Verdict::kSame;
  const bool worse = better == Better::kLower ? z > 0 : z < 0;
  return worse ? Verdict::kRegressed : Verdict::kImproved;
}

MetricChange CompareMetric(const Metric& m, const ResultsFile& base, size_t b,
                           const ResultsFile& cur, size_t c) {
  MetricChange change{
      .metric = m.column, .base = base.Number(b, m.column), .current = cur.Number(c, m.column)};
  if (!change.base || !change.current) return change;
  change.verdict = Verdict::kUntested;
  if (base.kind == ResultsKind::kNiah && std::string_view(m.column) == "accuracy") {
    const auto nb = base.Number(b, "n"), nc = cur.Number(c, "n");
    if (!nb || !nc) return change;
    const double cb = base.Number(b, "correct").value_or(*change.base * *nb);
    const double cc = cur.Number(c, "correct").value_or(*change.current * *nc);
    change.test = "two-proportion z";
    const double pooled = (cb + cc) / (*nb + *nc);
    change.se = std::sqrt(pooled * (1 - pooled) * (1 / *nb + 1 / *nc));
    change.z = TwoProportionZ(cb, *nb, cc, *nc);
    change.verdict = change.z ? Judge(*change.z, m.better) : Verdict::kSame;
    return change;
  }
  if (m.se_column == nullptr) return change;
  const auto se_b = base.Number(b, m.se_column), se_c = cur.Number(c, m.se_column);
  if (!se_b || !se_c) return change;
  change.test = "z (se columns)";
  change.se = std::sqrt(*se_b * *se_b + *se_c * *se_c);
  change.z = DifferenceZ(*change.base, *se_b, *change.current, *se_c);
  // Both standard errors 0: both are exact (e.g. the reference against itself); equal is the same,
  // unequal cannot be judged by noise.
  if (!change.z) {
    change.verdict = *change.base == *change.current ? Verdict::kSame : Verdict::kUntested;
    if (change.verdict == Verdict::kUntested) change.test = "";
    return change;
  }
  change.verdict = Judge(*change.z, m.better);
  return change;
}

std::string Num(const std::optional<double>& v) {
  return v ? absl::StrFormat("%.4g", *v) : std::string("");
}

std::string Signed(const std::optional<double>& v) {
  return v ? absl::StrFormat("%+.3g", *v) : std::string("");
}

std::string ChangeText(const MetricChange& m) {
  if (!m.base || !m.current) return "";
  return Signed(*m.current - *m.base);
}

std::string VerdictText(const MetricChange& m) {
  switch (m.verdict) {
    case Verdict::kRegressed:
      return "REGRESSED";
    case Verdict::kImproved:
      return "improved";
    case Verdict::kSame:
      return "same";
    case Verdict::kUntested:
      return "not tested";
    case Verdict::kMissing:
      return "missing";
  }
  return "";
}

std::string SummaryLine(const Comparison& c) {
  return absl::StrCat(c.rows.size(), " rows matched (", ResultsKindName(c.kind), "), ",
                      c.regressions, " significant regression(s), ", c.improvements,
                      " significant improvement(s); |z| > ", kSignificantZ,
                      " is significant; base git ", c.base_sha.substr(0, 10), ", new git ",
                      c.current_sha.substr(0, 10));
}

// Rows of the table, one per (row, metric).
std::vector<std::vector<std::string>> TableRows(const Comparison& c) {
  std::vector<std::vector<std::string>> rows;
  for (const RowComparison& row : c.rows) {
    for (const MetricChange& m : row.metrics) {
      if (m.verdict == Verdict::kMissing) continue;
      rows.push_back({row.key, m.metric, Num(m.base), Num(m.current), ChangeText(m), Num(m.se),
                      m.z ? absl::StrFormat("%+.2f", *m.z) : "", VerdictText(m)});
    }
  }
  return rows;
}

const std::vector<std::string> kTableHeader = {"row",    "metric", "base", "new",
                                               "change", "se",     "z",    "verdict"};

std::string Lists(const Comparison& c, const std::string& bullet) {
  std::string out;
  const auto list = [&](const std::string& title, const std::vector<std::string>& items) {
    if (items.empty()) return;
    absl::StrAppend(&out, "\n", title, ":\n");
    for (const std::string& s : items) absl::StrAppend(&out, bullet, s, "\n");
  };
  std::vector<std::string> notes;
  for (const RowComparison& row : c.rows)
    for (const std::string& n : row.notes) notes.push_back(absl::StrCat(row.key, ": ", n));
  list("Notes", notes);
  list("Only in base (not compared)", c.only_in_base);
  list("Only in new (not compared)", c.only_in_current);
  list("Error rows (not compared)", c.errors);
  return out;
}

}  // namespace

const std::vector<std::string>& CompareKey(ResultsKind kind) {
  static const auto* const kDivergence = new std::vector<std::string>{
      "model", "label", "context_tokens", "prompt_tokens", "score_tokens", "repetition"};
  static const auto* const kNiah = new std::vector<std::string>{
      "model", "task", "label", "protocol", "length_tokens", "depth", "n_needles"};
  static const auto* const kPrefix = new std::vector<std::string>{
      "model", "label", "strategy", "eviction", "block_tokens", "budget_tokens", "repetition"};
  switch (kind) {
    case ResultsKind::kDivergence:
      return *kDivergence;
    case ResultsKind::kNiah:
      return *kNiah;
    case ResultsKind::kPrefix:
      return *kPrefix;
  }
  return *kDivergence;
}

absl::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kSame:
      return "same";
    case Verdict::kRegressed:
      return "regressed";
    case Verdict::kImproved:
      return "improved";
    case Verdict::kUntested:
      return "untested";
    case Verdict::kMissing:
      return "missing";
  }
  return "";
}

absl::StatusOr<Comparison> CompareResults(const ResultsFile& base, const ResultsFile& current) {
  if (base.kind != current.kind) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot compare a ", ResultsKindName(base.kind), " CSV (", base.path,
                     ") with a ", ResultsKindName(current.kind), " CSV (", current.path, ")"));
  }
  Comparison c{.kind = base.kind, .base_path = base.path, .current_path = current.path};
  if (!base.table.rows.empty()) c.base_sha = base.Text(0, "git_sha");
  if (!current.table.rows.empty()) c.current_sha = current.Text(0, "git_sha");
  auto base_index = IndexRows(base);
  if (!base_index.ok()) return base_index.status();
  auto cur_index = IndexRows(current);
  if (!cur_index.ok()) return cur_index.status();

  // Show the key columns that tell rows apart (label always), not the constant ones.
  const std::vector<std::string>& key_columns = CompareKey(base.kind);
  std::vector<bool> shown(key_columns.size(), false);
  for (size_t k = 0; k < key_columns.size(); ++k) {
    std::set<std::string> values;
    for (const auto& [key, r] : *base_index) values.insert(key[k]);
    for (const auto& [key, r] : *cur_index) values.insert(key[k]);
    shown[k] = key_columns[k] == "label" || values.size() > 1;
  }
  const auto key_text = [&](const Key& key) {
    std::vector<std::string> parts;
    for (size_t k = 0; k < key.size(); ++k) {
      if (!shown[k]) continue;
      parts.push_back(key_columns[k] == "label" ? key[k]
                                                : absl::StrCat(key_columns[k], "=", key[k]));
    }
    return absl::StrJoin(parts, " ");
  };

  // Base order, then rows new in current.
  for (size_t r = 0; r < base.table.rows.size(); ++r) {
    Key key;
    for (const std::string& col : key_columns) key.push_back(base.Text(r, col));
    auto it = cur_index->find(key);
    if (it == cur_index->end()) {
      c.only_in_base.push_back(key_text(key));
      continue;
    }
    const size_t cr = it->second;
    if (base.IsError(r) || current.IsError(cr)) {
      if (base.IsError(r))
        c.errors.push_back(absl::StrCat("base: ", key_text(key), ": ", base.Text(r, "error")));
      if (current.IsError(cr))
        c.errors.push_back(absl::StrCat("new: ", key_text(key), ": ", current.Text(cr, "error")));
      continue;
    }
    RowComparison row{.key = key_text(key)};
    for (const Metric& m : MetricsOf(base.kind)) {
      MetricChange change = CompareMetric(m, base, r, current, cr);
      if (change.verdict == Verdict::kRegressed) ++c.regressions;
      if (change.verdict == Verdict::kImproved) ++c.improvements;
      row.metrics.push_back(std::move(change));
    }
    if (base.Text(r, "config_hash") != current.Text(cr, "config_hash")) {
      row.notes.push_back(absl::StrCat("config_hash differs (", base.Text(r, "config_hash"), " -> ",
                                       current.Text(cr, "config_hash"),
                                       "): a setting other than the code changed"));
    }
    c.rows.push_back(std::move(row));
  }
  for (size_t r = 0; r < current.table.rows.size(); ++r) {
    Key key;
    for (const std::string& col : key_columns) key.push_back(current.Text(r, col));
    if (!base_index->contains(key)) c.only_in_current.push_back(key_text(key));
  }
  return c;
}

std::string ComparisonMarkdown(const Comparison& c) {
  std::string md =
      absl::StrCat("## kvbench compare\n\n`", c.base_path, "` (base) -> `", c.current_path,
                   "` (new)\n\n", SummaryLine(c), "\n\n| ", absl::StrJoin(kTableHeader, " | "),
                   " |\n|", "---|---|---:|---:|---:|---:|---:|---|\n");
  for (const auto& row : TableRows(c)) {
    std::vector<std::string> cells;
    for (const std::string& cell : row) cells.push_back(absl::StrReplaceAll(cell, {{"|", "\\|"}}));
    if (cells.back() == "REGRESSED") cells.back() = "**REGRESSED**";
    absl::StrAppend(&md, "| ", absl::StrJoin(cells, " | "), " |\n");
  }
  absl::StrAppend(&md, Lists(c, "- "));
  return md;
}

std::string ComparisonText(const Comparison& c) {
  std::vector<std::vector<std::string>> rows = TableRows(c);
  rows.insert(rows.begin(), kTableHeader);
  std::vector<size_t> width(kTableHeader.size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::string text =
      absl::StrCat(c.base_path, " (base) -> ", c.current_path, " (new)\n", SummaryLine(c), "\n\n");
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      // Text columns left-aligned, numbers right-aligned.
      const bool number = i >= 2 && i <= 6;
      absl::StrAppend(&line, number ? std::string(width[i] - row[i].size(), ' ') : "", row[i],
                      number ? "" : std::string(width[i] - row[i].size(), ' '), "  ");
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&text, line, "\n");
  }
  absl::StrAppend(&text, Lists(c, "  "));
  return text;
}

}  // namespace kvbench
