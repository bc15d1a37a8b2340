#include "sim/replay.h"

#include <omp.h>

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/status.h"
#include "harness/csv.h"
#include "harness/metrics.h"
#include "harness/sweep.h"
#include "policies/kv_cells.h"
#include "policies/spec_text.h"
#include "sim/planner.h"
#include "stores/store_registry.h"

namespace kvbench {

const char kReplayCaveat[] =
    "simulated: replays recorded full-cache attention; it ignores that evictions change later "
    "hidden "
    "states, queries and keys, so recall is an optimistic screen, not a quality measurement";

namespace {

// Bytes of `entries` rows of one (layer, KV head) in a store, memoized (one store per replay).
class HeadBytes {
 public:
  HeadBytes(std::string store, ParamMap params, KvRole role, int head_dim)
      : store_(std::move(store)), params_(std::move(params)), role_(role), head_dim_(head_dim) {}
  absl::StatusOr<uint64_t> operator()(int entries) {
    if (auto it = memo_.find(entries); it != memo_.end()) return it->second;
    CacheShape one{.n_layers = 1,
                   .n_heads = 1,
                   .n_kv_heads = 1,
                   .head_dim = head_dim_,
                   .rope_dims = head_dim_};
    auto b = StoreBytes(store_, params_, role_, one, entries);
    if (b.ok()) memo_[entries] = *b;
    return b;
  }

 private:
  std::string store_;
  ParamMap params_;
  KvRole role_;
  int head_dim_;
  std::map<int, uint64_t> memo_;
};

RecallStats Summarize(std::vector<double>& samples) {
  RecallStats r;
  r.n = static_cast<int64_t>(samples.size());
  if (samples.empty()) return r;
  std::sort(samples.begin(), samples.end());
  double sum = 0;
  for (double v : samples) sum += v;
  r.mean = sum / samples.size();
  r.p1 = Percentile(samples, 0.01);
  r.p5 = Percentile(samples, 0.05);
  r.p10 = Percentile(samples, 0.10);
  r.p50 = Percentile(samples, 0.50);
  r.min = samples.front();
  return r;
}

}  // namespace

absl::StatusOr<ReplayResult> ReplayPolicy(const Trace& trace, const CacheSpec& spec,
                                          const ReplayOptions& options) {
  const TraceHeader& h = trace.header();
  ASSIGN_OR_RETURN(const PolicyInfo* info, FindPolicy(spec.policy));
  ASSIGN_OR_RETURN(const Params params, Params::Parse(absl::StrCat("policy ", spec.policy),
                                                      info->params, spec.policy_params));
  // One query head per KV head, one value per key: the hooks receive aggregated rows and norms.
  const CacheShape shape{.n_layers = h.n_layers,
                         .n_heads = h.n_kv_heads,
                         .n_kv_heads = h.n_kv_heads,
                         .head_dim = 1,
                         .rope_dims = 0,
                         .context_tokens = h.context_tokens(),
                         .prompt_tokens = h.prompt_tokens};
  // A policy built up front says what it is; each sequence then gets a fresh one.
  ASSIGN_OR_RETURN(const std::unique_ptr<CachePolicy> probe, info->make(params, shape));
  ASSIGN_OR_RETURN(const EvictionSchedule schedule, EvictionScheduleOf(*info, params));
  if (!probe->retains_entries()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy ", spec.policy, " keeps nothing between steps: there is nothing to replay"));
  }
  if (probe->plans_from_stored_keys()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy ", spec.policy,
        " ranks the stored keys by direction; a trace records only their norms: measure it with "
        "`kvbench run`"));
  }
  const PolicyTraits traits = probe->traits();
  // Validate the stores up front, so a bad store fails before any work.
  HeadBytes k_bytes(spec.k_store, spec.k_params, KvRole::kKey, h.head_dim);
  HeadBytes v_bytes(spec.v_store, spec.v_params, KvRole::kValue, h.head_dim);
  RETURN_IF_ERROR(Annotate(k_bytes(0).status(), "k_store"));
  RETURN_IF_ERROR(Annotate(v_bytes(0).status(), "v_store"));
  const bool use_max = traits.aggregate == Aggregate::kMax;

  ReplayResult result;
  result.label = spec.Label();
  result.policy = spec.policy;
  result.budget = traits.budget;

  const int L = h.n_layers, H = h.n_kv_heads, P = h.prompt_tokens, T = h.query_positions();
  std::vector<double> recall;
  recall.reserve(static_cast<size_t>(h.n_sequences) * (T - P) * L * H);
  double entries_sum = 0, bytes_sum = 0;
  std::vector<float> probs;
  std::vector<int> keep;
  bool renormalized = false;  // an attention row was restricted to kept entries and rescaled

  for (int si = 0; si < h.n_sequences; ++si) {
    ASSIGN_OR_RETURN(const std::unique_ptr<CachePolicy> policy, info->make(params, shape));
    KvCells cells(L, H, /*rope_positions=*/false);
    int steps = 0;
    for (int pos0 = 0; pos0 < T;) {
      const int n = pos0 == 0 ? P : 1;
      ++steps;
      policy->BeginStep(pos0, n);
      // Asked per step, as PolicyCache::Attend does.
      const bool attention = policy->wants_attention();
      for (int l = 0; l < L; ++l) {
        for (int hd = 0; hd < H; ++hd) {
          cells.Append(l, hd, pos0, n);
          policy->OnAppend(l, hd, trace.KeyNorms(si, l, hd) + pos0, n, 1);
        }
        for (int hd = 0; hd < H; ++hd) {
          absl::Span<const int32_t> cell = cells.positions(l, hd);
          const int m = static_cast<int>(cell.size());
          if (attention) probs.assign(static_cast<size_t>(n) * m, 0.0f);
          for (int t = 0; t < n; ++t) {
            const int q = pos0 + t;
            const float* mean = trace.Mean(si, q, l, hd);
            // Kept entries this query sees: every entry up to position q (entries are ordered).
            int visible = m;
            while (visible > 0 && cell[visible - 1] > q) --visible;
            const bool evicted = visible < q + 1;
            double mass = 0;
            if (evicted || q >= P) {
              for (int j = 0; j < visible; ++j) mass += mean[cell[j]];
            }
            if (q >= P) {
              double full = 0;
              for (int j = 0; j <= q; ++j) full += mean[j];
              recall.push_back(full > 0 ? std::min(1.0, mass / full) : 1.0);
            }
            if (!attention) continue;
            const float* row = use_max ? trace.Max(si, q, l, hd) : mean;
            float* out = &probs[static_cast<size_t>(t) * m];
            if (!evicted) {
              for (int j = 0; j < visible; ++j) out[j] = row[cell[j]];
            } else {
              renormalized = true;
              const float inv = mass > 0 ? static_cast<float>(1.0 / mass) : 0.0f;
              for (int j = 0; j < visible; ++j) out[j] = row[cell[j]] * inv;
            }
          }
          if (attention) policy->OnAttention(l, hd, 0, probs.data(), n, m, m);
        }
      }
      const int step_end = pos0 + n;
      for (int l = 0; schedule.acts(steps) && l < L; ++l) {
        for (int hd = 0; hd < H; ++hd) {
          keep.clear();
          if (policy->SelectKeep(l, hd, cells.positions(l, hd), &keep)) {
            if (absl::Status s = cells.Apply(l, hd, keep); !s.ok()) {
              return absl::InternalError(absl::StrCat(
                  "policy ", result.label, " returned an invalid keep list: ", s.message()));
            }
            policy->OnKeep(l, hd, keep);
          }
          if (options.on_keep) options.on_keep(si, step_end, l, hd, cells.positions(l, hd));
        }
      }
      policy->EndStep();
      pos0 = step_end;
    }
    uint64_t bytes = 0;
    int64_t entries = 0;
    for (int l = 0; l < L; ++l) {
      for (int hd = 0; hd < H; ++hd) {
        const int kept = cells.size(l, hd);
        ASSIGN_OR_RETURN(const uint64_t kb, k_bytes(kept));
        ASSIGN_OR_RETURN(const uint64_t vb, v_bytes(kept));
        bytes += kb + vb;
        entries += kept;
      }
    }
    entries_sum += static_cast<double>(entries) / (static_cast<double>(L) * H);
    bytes_sum += static_cast<double>(bytes);
  }
  if (h.n_sequences > 0) {
    result.entries_mean = entries_sum / h.n_sequences;
    result.kv_bytes_mean = bytes_sum / h.n_sequences;
  }
  result.recall = Summarize(recall);
  // Where the policy's decisions may differ from a real run on the same attention (see replay.h).
  std::vector<std::string> notes;
  if (renormalized && h.n_heads != h.n_kv_heads) notes.push_back("GQA renormalization");
  if (renormalized && use_max) notes.push_back("max rows renormalized by the mean mass");
  if (traits.pools_prompt_scores && h.n_heads != h.n_kv_heads && (use_max || traits.max_pooling)) {
    notes.push_back("prompt scores aggregated before summing/pooling");
  }
  result.approximation = absl::StrJoin(notes, "; ");
  return result;
}

std::vector<absl::StatusOr<ReplayResult>> ReplayAll(const Trace& trace,
                                                    const std::vector<CacheSpec>& specs,
                                                    int threads) {
  std::vector<absl::StatusOr<ReplayResult>> out(specs.size(), absl::UnknownError("not run"));
  (void)FindPolicy("full");  // build the registries before the threads start
  (void)StoreRegistry();
#pragma omp parallel for schedule(dynamic, 1) num_threads(std::max(1, threads))
  for (size_t i = 0; i < specs.size(); ++i) out[i] = ReplayPolicy(trace, specs[i]);
  return out;
}

namespace {

// What one --policies text may expand to, in all.
constexpr size_t kMaxConfigurations = 1000000;

absl::StatusOr<std::vector<std::string>> ExpandValue(const std::string& value,
                                                     const std::string& context) {
  const size_t dots = value.find("..");
  if (dots == std::string::npos) return std::vector<std::string>{value};
  const std::string a_text = value.substr(0, dots);
  std::string rest = value.substr(dots + 2);
  const size_t op_at = rest.find_first_of("+*");
  if (op_at == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": range '", value, "' needs a step: a..b+step or a..b*factor"));
  }
  const char op = rest[op_at];
  int64_t a, b, s;
  if (!absl::SimpleAtoi(a_text, &a) || !absl::SimpleAtoi(rest.substr(0, op_at), &b) ||
      !absl::SimpleAtoi(rest.substr(op_at + 1), &s)) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": range '", value, "' is not integers a..b+step or a..b*factor"));
  }
  if (a < 1 || b < a || (op == '+' && s < 1) || (op == '*' && s < 2) || b > (int64_t{1} << 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": range '", value, "' is empty or does not advance"));
  }
  std::vector<std::string> out;
  for (int64_t v = a; v <= b; v = op == '+' ? v + s : v * s) {
    out.push_back(absl::StrCat(v));
    if (out.size() > 100000)
      return absl::InvalidArgumentError(absl::StrCat(context, ": range '", value, "' is too long"));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<CacheSpec>> ParsePolicySweep(const std::string& text,
                                                        const std::string& k_store,
                                                        const std::string& v_store) {
  std::vector<CacheSpec> specs;
  for (const std::string& part : SplitSpecList(text, ';')) {
    // Each part is "name:items", "name(items)" or a label as kvbench prints it, stores included.
    auto split = SplitCacheSpec(part, k_store, v_store);
    if (!split.ok()) return Annotate(split.status(), "--policies");
    auto parts = SplitSpec(split->first);
    if (!parts.ok()) return Annotate(parts.status(), "--policies");
    const std::string& name = parts->name;
    std::vector<SweepAxis> axes;
    for (const std::string& item : parts->items) {
      std::string value = item;
      if (const size_t eq = item.find('='); eq != std::string::npos) {
        axes.push_back({std::string(absl::StripAsciiWhitespace(item.substr(0, eq))), {}});
        value = std::string(absl::StripAsciiWhitespace(item.substr(eq + 1)));
      } else if (axes.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--policies: in '", part, "', value '", item,
                         "' comes before any parameter (write name:param=value,...)"));
      }
      ASSIGN_OR_RETURN(
          std::vector<std::string> values,
          ExpandValue(value, absl::StrCat("--policies: ", name, " ", axes.back().key)));
      for (std::string& x : values) axes.back().values.push_back(std::move(x));
    }
    for (const SweepAxis& axis : axes) {
      if (axis.values.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--policies: ", name, " parameter '", axis.key, "' has no value"));
      }
    }
    // The same expansion as a YAML sweep's (the first parameter varies slowest).
    auto points = ExpandSweep(axes, kMaxConfigurations - specs.size());
    if (!points.ok()) return Annotate(points.status(), "--policies");
    for (const SweepPoint& point : *points) {
      CacheSpec spec = split->second;
      spec.policy = name;
      for (const auto& [param, value] : point) spec.policy_params[param] = value;
      specs.push_back(std::move(spec));
    }
  }
  if (specs.empty()) return absl::InvalidArgumentError("--policies is empty");
  return specs;
}

std::string ReplayTable(const TraceHeader& h, const std::vector<CacheSpec>& specs,
                        const std::vector<absl::StatusOr<ReplayResult>>& results) {
  std::string out = absl::StrFormat(
      "trace: model %s, experiment %s, %d sequences, prompt %d + %d scored tokens; %d layers x %d "
      "KV heads\n"
      "%s.\n\n",
      h.model, h.experiment, h.n_sequences, h.prompt_tokens, h.score_tokens, h.n_layers,
      h.n_kv_heads, kReplayCaveat);
  absl::StrAppendFormat(&out, "%-60s %7s %7s %7s %7s %7s %9s %12s  %s\n", "policy", "recall", "p1",
                        "p5", "p10", "min", "entries", "KV bytes", "approximation");
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) {
      absl::StrAppendFormat(&out, "%-60s error: %s\n", specs[i].Label(),
                            results[i].status().message());
      continue;
    }
    const ReplayResult& r = *results[i];
    absl::StrAppendFormat(&out, "%-60s %7.4f %7.4f %7.4f %7.4f %7.4f %9.1f %12s  %s\n", r.label,
                          r.recall.mean, r.recall.p1, r.recall.p5, r.recall.p10, r.recall.min,
                          r.entries_mean, FormatBytes(r.kv_bytes_mean),
                          r.approximation.empty() ? "-" : r.approximation);
  }
  return out;
}

std::string ReplayCsv(const std::vector<CacheSpec>& specs,
                      const std::vector<absl::StatusOr<ReplayResult>>& results) {
  std::string out =
      "label,policy,budget,recall_mean,recall_p1,recall_p5,recall_p10,recall_p50,recall_min,"
      "samples,"
      "entries_mean,kv_bytes_mean,approximation,simulated,error\n";
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) {
      out += absl::StrCat(CsvEscape(specs[i].Label()), ",", CsvEscape(specs[i].policy),
                          ",,,,,,,,,,,,true,",
                          CsvEscape(std::string(results[i].status().message())), "\n");
      continue;
    }
    const ReplayResult& r = *results[i];
    out += absl::StrFormat("%s,%s,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%d,%.3f,%.1f,%s,true,\n",
                           CsvEscape(r.label), CsvEscape(r.policy), r.budget, r.recall.mean,
                           r.recall.p1, r.recall.p5, r.recall.p10, r.recall.p50, r.recall.min,
                           r.recall.n, r.entries_mean, r.kv_bytes_mean, CsvEscape(r.approximation));
  }
  return out;
}

}  // namespace kvbench
