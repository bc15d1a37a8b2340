#include "report/sections.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "harness/run_metadata.h"
#include "harness/run_report.h"
#include "report/html.h"
#include "report/stats.h"

namespace kvbench {
namespace {

// The non-error rows of one case (repetitions), in file order of the case's first row.
struct Group {
  std::vector<std::string> key;
  std::vector<size_t> rows;
};

std::vector<Group> GroupRows(const ResultsFile& file, const std::vector<std::string>& columns) {
  std::vector<Group> groups;
  std::map<std::vector<std::string>, size_t> index;
  for (size_t r = 0; r < file.table.rows.size(); ++r) {
    if (file.IsError(r)) continue;
    std::vector<std::string> key;
    for (const std::string& c : columns) key.push_back(file.Text(r, c));
    auto [it, inserted] = index.emplace(key, groups.size());
    if (inserted) groups.push_back({key, {}});
    groups[it->second].rows.push_back(r);
  }
  return groups;
}

// Mean of a column over the group's rows that have it.
std::optional<double> Mean(const ResultsFile& file, const Group& g, std::string_view column) {
  double sum = 0;
  int n = 0;
  for (size_t r : g.rows) {
    if (auto v = file.Number(r, column)) {
      sum += *v;
      ++n;
    }
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

// Series name -> points, keeping the order series first appear in.
class SeriesBuilder {
 public:
  void Add(const std::string& name, ChartPoint p) {
    auto [it, inserted] = index_.emplace(name, series_.size());
    if (inserted) series_.push_back({.title = name});
    series_[it->second].points.push_back(p);
  }
  bool empty() const { return series_.empty(); }
  // Every series with its points in increasing x.
  std::vector<ChartSeries> Take() {
    for (ChartSeries& s : series_) {
      std::stable_sort(s.points.begin(), s.points.end(),
                       [](const ChartPoint& a, const ChartPoint& b) { return a.x < b.x; });
    }
    return std::move(series_);
  }

 private:
  std::map<std::string, size_t> index_;
  std::vector<ChartSeries> series_;
};

ChartSeries FrontSeries(const std::vector<ChartSeries>& series, bool lower_is_better,
                        const std::string& title) {
  std::vector<XY> points;
  for (const ChartSeries& s : series)
    for (const ChartPoint& p : s.points) points.push_back({p.x, p.y});
  ChartSeries front{.title = title, .front = true};
  for (size_t i : ParetoFront(points, lower_is_better))
    front.points.push_back({.x = points[i].x, .y = points[i].y});
  return front;
}

size_t CountPoints(const std::vector<ChartSeries>& series) {
  size_t n = 0;
  for (const ChartSeries& s : series) n += s.points.size();
  return n;
}

// A table's label cell: the short label (harness/run_report.h ShortLabel: the parameters the
// YAML gave), the CSV's full label as its tooltip.
std::string LabelCell(const ResultsFile& file, size_t row) {
  return absl::StrCat("<span title=\"", HtmlEscape(file.Text(row, "label")), "\">",
                      HtmlEscape(ShortLabel(file.table, row)), "</span>");
}

std::string FileTag(const ResultsFile& file) {
  std::string experiment = file.table.rows.empty() ? "" : file.Text(0, "experiment");
  return experiment.empty() ? file.path : absl::StrCat(experiment, " (", file.path, ")");
}

// ---------------------------------------------------------------------------------------------
// divergence (kvbench run)

void AddDivergence(const ResultsFile& file, Section* s) {
  const std::vector<Group> groups = GroupRows(file, {"label", "context_tokens"});
  std::set<std::string> contexts;
  for (const Group& g : groups) contexts.insert(g.key[1]);
  const bool several_contexts = contexts.size() > 1;
  const auto name_of = [&](const Group& g) {
    std::string name = SeriesName(file, g.rows[0]);
    if (several_contexts) absl::StrAppend(&name, " ctx=", g.key[1]);
    return name;
  };

  // KL against bytes.
  SeriesBuilder kl_bytes;
  for (const Group& g : groups) {
    const auto bytes = Mean(file, g, "kv_bytes_logical");
    const auto kl = Mean(file, g, "kld_mean");
    if (!bytes || !kl) continue;
    const double se = Mean(file, g, "kld_mean_se").value_or(0);
    kl_bytes.Add(name_of(g), {.x = *bytes, .y = *kl, .y_low = *kl - se, .y_high = *kl + se});
  }
  if (!kl_bytes.empty()) {
    LineChart chart{.title = "KL divergence against KV cache bytes",
                    .x_label = "KV bytes kept at the end of a sequence (kv_bytes_logical)",
                    .y_label = "mean KL(P_ref || P_policy), nats",
                    .y_scale = AxisScale::kLog,
                    .x_bytes = true};
    chart.series = kl_bytes.Take();
    if (CountPoints(chart.series) > 1)
      chart.series.push_back(FrontSeries(chart.series, true, "Pareto front"));
    s->figures.push_back(
        {chart,
         "Each point is one cache (policy on a store); lower is closer to the full f32 cache, left "
         "is smaller. The KL axis is logarithmic, so that caches a thousand times apart both "
         "show; the full f32 cache (KL 0) sits on its floor, the tick marked 0. Error bars: "
         "&plusmn; one standard "
         "error of the mean KL "
         "(<code>kld_mean_se</code>). The dashed line joins the caches no other cache beats on "
         "both "
         "bytes and KL (the Pareto front): a cache above it spends bytes for nothing. Points of "
         "one line within each other's error bars are not ranked."});
  }

  // KL and top-1 agreement against budget.
  SeriesBuilder kl_budget, top1_budget;
  std::map<double, std::pair<double, double>> bytes_at;  // budget -> (fewest, most) KV bytes
  for (const Group& g : groups) {
    const auto budget = file.Number(g.rows[0], "budget");
    if (!budget) continue;
    if (const auto bytes = Mean(file, g, "kv_bytes_logical")) {
      auto [it, inserted] = bytes_at.emplace(*budget, std::make_pair(*bytes, *bytes));
      it->second.first = std::min(it->second.first, *bytes);
      it->second.second = std::max(it->second.second, *bytes);
    }
    const std::string name = name_of(g);
    if (const auto kl = Mean(file, g, "kld_mean")) {
      const double se = Mean(file, g, "kld_mean_se").value_or(0);
      kl_budget.Add(name, {.x = *budget, .y = *kl, .y_low = *kl - se, .y_high = *kl + se});
    }
    if (const auto top1 = Mean(file, g, "top1_agree")) {
      const double se = Mean(file, g, "top1_agree_se").value_or(0);
      top1_budget.Add(name, {.x = *budget, .y = *top1, .y_low = *top1 - se, .y_high = *top1 + se});
    }
  }
  // One budget is not one memory size: a policy that compresses only the prompt (the kvpress
  // presses) keeps every decoded token, a window applies its budget to the whole sequence. Said
  // when the bytes at one budget differ by more than 10%.
  std::string unequal_bytes;
  double widest = 1.1;
  for (const auto& [budget, range] : bytes_at) {
    if (range.first > 0 && range.second / range.first > widest) {
      widest = range.second / range.first;
      unequal_bytes = absl::StrCat(
          " <b>One budget is not one size here</b>: at budget ", Short(budget), " the caches hold ",
          Bytes(range.first), " to ", Bytes(range.second),
          " (a policy that compresses only the prompt keeps every decoded token); compare them "
          "at equal bytes in the KL-against-bytes plot.");
    }
  }
  if (!kl_budget.empty()) {
    LineChart chart{.title = "KL divergence against budget",
                    .x_label = "budget (column budget: tokens kept, or a ratio below 1)",
                    .y_label = "mean KL, nats",
                    .y_scale = AxisScale::kLog,
                    .x_tics_at_values = true,
                    .dodge_x = true};
    chart.series = kl_budget.Take();
    s->figures.push_back({chart,
                          "One line per policy and store; the budget is what the policy may "
                          "keep (each line is shifted sideways a little so that equal points stay "
                          "visible; the ticks mark the budgets). Lower is better; error bars "
                          "&plusmn; one standard error. "
                          "Caches without a budget (full, none) are in the bytes plot and the "
                          "table." +
                              unequal_bytes});
  }
  if (!top1_budget.empty()) {
    LineChart chart{.title = "Top-1 agreement with the reference against budget",
                    .x_label = "budget",
                    .y_label = "fraction of positions with the reference's argmax",
                    .x_tics_at_values = true,
                    .dodge_x = true};
    chart.series = top1_budget.Take();
    s->figures.push_back({chart,
                          "Higher is better (1: the policy always predicts the reference's top "
                          "token); lines shifted sideways a little as above. Error bars &plusmn; "
                          "one binomial standard error "
                          "(<code>top1_agree_se</code>)." +
                              unequal_bytes});
  }

  // Decode latency against context.
  if (several_contexts) {
    SeriesBuilder latency;
    for (const Group& g : groups) {
      const auto ctx = file.Number(g.rows[0], "context_tokens");
      const auto ms = Mean(file, g, "decode_ms_p50");
      if (ctx && ms) latency.Add(SeriesName(file, g.rows[0]), {.x = *ctx, .y = *ms});
    }
    if (!latency.empty()) {
      LineChart chart{.title = "Decode step time against context length",
                      .x_label = "context_tokens",
                      .y_label = "median decode step, ms (decode_ms_p50)",
                      .x_tics_at_values = true};
      chart.series = latency.Take();
      s->figures.push_back({chart,
                            "Median time of one decode step (one token) per cache. A cache "
                            "whose line stays flat as the context grows bounds its work by its "
                            "budget. Single runs, no error bars: compare lines measured in the "
                            "same run."});
    }
  }

  HtmlTable table{
      .header = {"label", "context", "KV bytes", "KL mean &plusmn; se", "top-1 &plusmn; se",
                 "ln(ppl/ppl_ref) &plusmn; se", "decode p50 ms", "scored"},
      .numeric = {false, true, true, true, true, true, true, true}};
  for (const Group& g : groups) {
    table.rows.push_back(
        {LabelCell(file, g.rows[0]), HtmlEscape(g.key[1]), Bytes(Mean(file, g, "kv_bytes_logical")),
         WithError(Mean(file, g, "kld_mean"), Mean(file, g, "kld_mean_se")),
         WithError(Mean(file, g, "top1_agree"), Mean(file, g, "top1_agree_se")),
         WithError(Mean(file, g, "ln_ppl_ratio"), Mean(file, g, "ln_ppl_ratio_se")),
         Short(Mean(file, g, "decode_ms_p50")), Short(Mean(file, g, "n_scored"))});
  }
  if (!table.rows.empty()) s->tables.push_back(table.Render());
}

// ---------------------------------------------------------------------------------------------
// NIAH

struct Pooled {
  double correct = 0;
  double n = 0;
};

// correct and n of one row: the counts when present, else accuracy x n.
std::optional<Pooled> NiahCounts(const ResultsFile& file, size_t row) {
  const auto n = file.Number(row, "n");
  if (!n) return std::nullopt;
  if (const auto correct = file.Number(row, "correct")) return Pooled{*correct, *n};
  if (const auto accuracy = file.Number(row, "accuracy")) return Pooled{*accuracy * *n, *n};
  return std::nullopt;
}

std::vector<std::string> SortedNumerically(const std::set<std::string>& values) {
  std::vector<std::string> v(values.begin(), values.end());
  std::stable_sort(v.begin(), v.end(), [](const std::string& a, const std::string& b) {
    return std::atof(a.c_str()) < std::atof(b.c_str());
  });
  return v;
}

void AddNiah(const ResultsFile& file, Section* s) {
  const std::vector<Group> labels = GroupRows(file, {"label"});
  // Heat maps: one per label.
  for (const Group& g : labels) {
    std::set<std::string> lengths, depths;
    for (size_t r : g.rows) {
      lengths.insert(file.Text(r, "length_tokens"));
      depths.insert(file.Text(r, "depth"));
    }
    HeatMap map{
        .title = SeriesName(file, g.rows[0]) + (file.Text(g.rows[0], "budget").empty()
                                                    ? ""
                                                    : " budget=" + file.Text(g.rows[0], "budget")),
        .x_label = "haystack length, tokens",
        .y_label = "needle depth (0: start, 1: end)",
        .series = SeriesName(file, g.rows[0])};
    map.x_names = SortedNumerically(lengths);
    map.y_names = SortedNumerically(depths);
    std::map<std::pair<std::string, std::string>, Pooled> cells;
    for (size_t r : g.rows) {
      if (auto c = NiahCounts(file, r)) {
        Pooled& cell = cells[{file.Text(r, "length_tokens"), file.Text(r, "depth")}];
        cell.correct += c->correct;
        cell.n += c->n;
      }
    }
    map.values.assign(map.y_names.size(), std::vector<double>(map.x_names.size(), NAN));
    map.cell_text.assign(map.y_names.size(), std::vector<std::string>(map.x_names.size()));
    for (size_t y = 0; y < map.y_names.size(); ++y) {
      for (size_t x = 0; x < map.x_names.size(); ++x) {
        auto it = cells.find({map.x_names[x], map.y_names[y]});
        if (it == cells.end() || it->second.n <= 0) continue;
        map.values[y][x] = it->second.correct / it->second.n;
        map.cell_text[y][x] = absl::StrFormat("%.2f", map.values[y][x]);
      }
    }
    Pooled all;
    for (const auto& [where, cell] : cells) {
      all.correct += cell.correct;
      all.n += cell.n;
    }
    s->figures.push_back(
        {map,
         absl::StrCat(LabelCell(file, g.rows[0]), ": ",
                      absl::StrFormat("%.0f / %.0f", all.correct, all.n), " correct"),
         /*small=*/true});
  }
  if (!labels.empty()) {
    s->intro =
        "<p>One heat map per cache: accuracy (<code>correct / n</code>) per haystack length "
        "(columns) and needle depth (rows; 0: the needle at the start, 1: at the end); green 1, "
        "red 0, blank: not run. The marker beside each title is the cache's marker in the "
        "accuracy plots below.</p>\n";
  }

  SeriesBuilder by_budget, by_bytes;
  HtmlTable table{
      .header = {"label", "budget", "KV bytes", "accuracy", "95% interval (Wilson)", "correct / n"},
      .numeric = {false, true, true, true, true, true}};
  for (const Group& g : labels) {
    Pooled pooled;
    for (size_t r : g.rows) {
      if (auto c = NiahCounts(file, r)) {
        pooled.correct += c->correct;
        pooled.n += c->n;
      }
    }
    if (pooled.n <= 0) continue;
    const double accuracy = pooled.correct / pooled.n;
    const Interval ci = WilsonInterval(pooled.correct, pooled.n);
    const ChartPoint point{.y = accuracy, .y_low = ci.low, .y_high = ci.high};
    const std::string name = SeriesName(file, g.rows[0]);
    if (const auto budget = file.Number(g.rows[0], "budget")) {
      ChartPoint p = point;
      p.x = *budget;
      by_budget.Add(name, p);
    }
    const auto bytes = Mean(file, g, "kv_bytes_logical");
    if (bytes) {
      ChartPoint p = point;
      p.x = *bytes;
      by_bytes.Add(name, p);
    }
    table.rows.push_back({LabelCell(file, g.rows[0]), HtmlEscape(file.Text(g.rows[0], "budget")),
                          Bytes(bytes), absl::StrFormat("%.3f", accuracy),
                          absl::StrFormat("%.3f &ndash; %.3f", ci.low, ci.high),
                          absl::StrFormat("%.0f / %.0f", pooled.correct, pooled.n)});
  }
  if (!by_budget.empty()) {
    LineChart chart{.title = "NIAH accuracy against budget",
                    .x_label = "budget",
                    .y_label = "accuracy (all lengths and depths)",
                    .x_tics_at_values = true,
                    .y_unit_interval = true,
                    .dodge_x = true};
    chart.series = by_budget.Take();
    s->figures.push_back(
        {chart,
         "Accuracy of each cache pooled over every length and depth it ran "
         "(correct / n summed); bars: Wilson 95% interval; each line is shifted sideways a "
         "little so that equal points stay visible. The heat maps show "
         "where in the haystack the misses are."});
  }
  if (!by_bytes.empty()) {
    LineChart chart{.title = "NIAH accuracy against KV cache bytes",
                    .x_label = "KV bytes kept (kv_bytes_logical, mean over rows)",
                    .y_label = "accuracy (all lengths and depths)",
                    .x_bytes = true,
                    .y_unit_interval = true};
    chart.series = by_bytes.Take();
    if (CountPoints(chart.series) > 1)
      chart.series.push_back(FrontSeries(chart.series, false, "Pareto front"));
    s->figures.push_back({chart,
                          "Up and left is better. The dashed line joins the caches that no "
                          "other cache beats on both bytes and accuracy; bars: Wilson 95% "
                          "interval (overlapping intervals do not rank)."});
  }
  if (!table.rows.empty()) s->tables.push_back(table.Render());
}

// ---------------------------------------------------------------------------------------------
// prefix (kvbench prefix)

void AddPrefix(const ResultsFile& file, Section* s) {
  const std::vector<Group> groups =
      GroupRows(file, {"label", "strategy", "eviction", "block_tokens", "budget_tokens"});
  std::set<std::string> budgets_set, labels;
  for (const Group& g : groups) {
    budgets_set.insert(g.key[4]);
    labels.insert(g.key[0]);
  }
  const std::vector<std::string> budgets = SortedNumerically(budgets_set);
  const auto x_of = [&](const std::string& budget) {
    return static_cast<double>(std::find(budgets.begin(), budgets.end(), budget) - budgets.begin());
  };
  const auto name_of = [&](const Group& g) {
    std::string name = g.key[2].empty() ? g.key[1] : absl::StrCat(g.key[1], "/", g.key[2]);
    if (labels.size() > 1) absl::StrAppend(&name, " ", g.key[0]);
    return name;
  };
  SeriesBuilder hits, ttft;
  std::map<std::string, std::pair<double, int>> nocache;  // budget -> (sum, count)
  for (const Group& g : groups) {
    const double x = x_of(g.key[4]);
    if (const auto h = Mean(file, g, "hit_rate_tokens")) hits.Add(name_of(g), {.x = x, .y = *h});
    if (const auto t = Mean(file, g, "ttft_ms_p50")) ttft.Add(name_of(g), {.x = x, .y = *t});
    if (const auto t = Mean(file, g, "ttft_ms_p50_nocache")) {
      nocache[g.key[4]].first += *t;
      nocache[g.key[4]].second += 1;
    }
  }
  if (!hits.empty()) {
    LineChart chart{.title = "Prefix cache: token hit rate against budget",
                    .x_label = "cache budget, tokens (budget_tokens)",
                    .y_label = "prompt tokens served from the cache (hit_rate_tokens)",
                    .x_categories = budgets,
                    .y_unit_interval = true};
    chart.series = hits.Take();
    s->figures.push_back({chart,
                          "Fraction of prompt tokens whose KV came from the cache, per strategy / "
                          "eviction rule. The budget axis is evenly spaced by rank, not by "
                          "value."});
  }
  if (!ttft.empty()) {
    LineChart chart{.title = "Prefix cache: time to first token against budget",
                    .x_label = "cache budget, tokens (budget_tokens)",
                    .y_label = "median time to first token, ms (ttft_ms_p50)",
                    .x_categories = budgets};
    chart.series = ttft.Take();
    ChartSeries base{.title = "no prefix cache", .front = true};
    for (const std::string& b : budgets) {
      auto it = nocache.find(b);
      if (it != nocache.end())
        base.points.push_back({.x = x_of(b), .y = it->second.first / it->second.second});
    }
    if (!base.points.empty()) chart.series.push_back(base);
    s->figures.push_back({chart,
                          "Median TTFT per strategy / eviction rule; the dashed line is the same "
                          "requests served without a prefix cache. Lower is better; single runs "
                          "on a shared machine."});
  }
  HtmlTable table{.header = {"label", "strategy", "eviction", "budget tokens", "hit rate (tokens)",
                             "TTFT p50 ms", "TTFT p95 ms", "TTFT p50 reduction"},
                  .numeric = {false, false, false, true, true, true, true, true}};
  for (const Group& g : groups) {
    table.rows.push_back({HtmlEscape(g.key[0]), HtmlEscape(g.key[1]), HtmlEscape(g.key[2]),
                          HtmlEscape(g.key[4]), Short(Mean(file, g, "hit_rate_tokens")),
                          Short(Mean(file, g, "ttft_ms_p50")), Short(Mean(file, g, "ttft_ms_p95")),
                          Short(Mean(file, g, "ttft_p50_reduction"))});
  }
  if (!table.rows.empty()) s->tables.push_back(table.Render());
}

// ---------------------------------------------------------------------------------------------
// errors and metadata

std::string ErrorTable(const ResultsFile& file) {
  HtmlTable table{.header = {"row", "label", "error"}, .numeric = {true, false, false}};
  for (size_t r = 0; r < file.table.rows.size(); ++r) {
    if (!file.IsError(r)) continue;
    table.rows.push_back({absl::StrCat(r + 2),  // the CSV line: header is line 1
                          HtmlEscape(file.Text(r, "label")), HtmlEscape(file.Text(r, "error"))});
  }
  if (table.rows.empty()) return "";
  return absl::StrCat("<h3>Failed cases (not plotted)</h3>\n<p>", table.rows.size(),
                      " row(s) of this file have an <code>error</code>; they are left out of "
                      "every plot and table above.</p>\n",
                      table.Render());
}

// "a.b.c" -> value text, objects flattened, lists of scalars joined, lists of objects counted.
void Flatten(const Json& value, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>* out) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it)
      Flatten(*it, prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    return;
  }
  if (value.is_array()) {
    bool scalars = true;
    for (const Json& v : value) scalars &= !v.is_object() && !v.is_array();
    if (scalars) {
      std::vector<std::string> parts;
      for (const Json& v : value) parts.push_back(JsonShow(v));
      out->emplace_back(prefix, absl::StrJoin(parts, ", "));
    } else {
      out->emplace_back(prefix, absl::StrCat(value.size(), " entries"));
    }
    return;
  }
  out->emplace_back(prefix, JsonShow(value));
}

std::string MetadataTable(const ResultsFile& file) {
  if (!file.metadata) {
    if (!file.metadata_error.empty())
      return absl::StrCat("<p>Run metadata unreadable: ", HtmlEscape(file.metadata_error),
                          "</p>\n");
    return "";
  }
  std::vector<std::pair<std::string, std::string>> fields;
  Flatten(*file.metadata, "", &fields);
  HtmlTable table{.header = {"field", "value"}};
  for (const auto& [k, v] : fields) table.rows.push_back({HtmlEscape(k), HtmlEscape(v)});
  return absl::StrCat("<details><summary>Run metadata (", HtmlEscape(MetadataPath(file.path)),
                      ")</summary>\n", table.Render(), "</details>\n");
}

}  // namespace

std::string SeriesName(const ResultsFile& file, size_t row) {
  const std::string k = file.Text(row, "k_store"), v = file.Text(row, "v_store");
  std::string name = file.Text(row, "policy");
  if (k == v && k != "f32" && !k.empty()) {
    absl::StrAppend(&name, " kv=", k);
  } else if (k != v) {
    absl::StrAppend(&name, " k=", k, " v=", v);
  }
  return name;
}

void AssignSeriesStyles(std::vector<Section>* sections) {
  std::set<std::string> labels;
  for (const Section& s : *sections) {
    for (const Figure& f : s.figures) {
      if (const auto* chart = std::get_if<LineChart>(&f.chart)) {
        for (const ChartSeries& series : chart->series)
          if (!series.front) labels.insert(series.title);
      } else if (const auto* map = std::get_if<HeatMap>(&f.chart)) {
        if (!map->series.empty()) labels.insert(map->series);
      }
    }
  }
  const auto index_of = [&](const std::string& label) {
    return static_cast<int>(std::distance(labels.begin(), labels.find(label)));
  };
  for (Section& s : *sections) {
    for (Figure& f : s.figures) {
      if (auto* chart = std::get_if<LineChart>(&f.chart)) {
        for (ChartSeries& series : chart->series)
          if (!series.front) series.style = index_of(series.title);
      } else if (auto* map = std::get_if<HeatMap>(&f.chart)) {
        if (!map->series.empty()) map->style = index_of(map->series);
      }
    }
  }
}

std::vector<Section> SectionsFor(const ResultsFile& file, int file_index) {
  Section s;
  s.id = absl::StrCat("file", file_index);
  size_t errors = 0;
  for (size_t r = 0; r < file.table.rows.size(); ++r) errors += file.IsError(r);
  switch (file.kind) {
    case ResultsKind::kDivergence:
      s.title = absl::StrCat("Divergence and speed: ", FileTag(file));
      AddDivergence(file, &s);
      break;
    case ResultsKind::kNiah:
      s.title = absl::StrCat("Needle in a haystack: ", FileTag(file));
      AddNiah(file, &s);
      break;
    case ResultsKind::kPrefix:
      s.title = absl::StrCat("Prefix cache: ", FileTag(file));
      AddPrefix(file, &s);
      break;
  }
  s.intro = absl::StrCat("<p><code>", HtmlEscape(file.path), "</code>: ", file.table.rows.size(),
                         " rows (", ResultsKindName(file.kind), ")", errors ? ", " : "",
                         errors ? absl::StrCat(errors, " failed") : "", ".</p>\n", s.intro);
  if (std::string errors_html = ErrorTable(file); !errors_html.empty())
    s.tables.push_back(errors_html);
  if (std::string meta = MetadataTable(file); !meta.empty()) s.tables.push_back(meta);
  return {s};
}

}  // namespace kvbench
