#include "prefix/sweep.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "formats/read_file.h"
#include "harness/dataset.h"
#include "harness/progress.h"
#include "harness/result_table.h"
#include "harness/run_metadata.h"
#include "harness/store_keys.h"
#include "harness/sweep.h"
#include "harness/yaml_reader.h"
#include "model/decoder.h"
#include "model/ops.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {
namespace {

// A scalar or a list of scalars, each node kept for its line.
std::vector<YAML::Node> List(const YAML::Node& n) {
  std::vector<YAML::Node> out;
  if (n.IsSequence()) {
    for (const YAML::Node& x : n) out.push_back(x);
  } else {
    out.push_back(n);
  }
  return out;
}

// `key: value` into `*out` when `value` is an integer in [min, max].
template <typename T>
absl::Status ReadInt(const YamlReader& p, const YAML::Node& value, const std::string& key,
                     int64_t min, int64_t max, T* out) {
  ASSIGN_OR_RETURN(const int64_t v, p.Int(value, key, min, max));
  *out = static_cast<T>(v);
  return absl::OkStatus();
}

absl::Status ParseWorkload(const YamlReader& p, const YAML::Node& w, PrefixExperiment* e) {
  RETURN_IF_ERROR(
      p.CheckKeys(w, "workload",
                  {"stories", "trace", "seed", "requests", "system_prompts", "system_prompt_tokens",
                   "zipf", "chat_share", "chat_turns", "fewshot_share", "fewshot_templates",
                   "fewshot_examples", "turn_tokens", "max_tokens"}));
  WorkloadOptions& o = e->workload;
  for (auto it = w.begin(); it != w.end(); ++it) {
    const std::string k = it->first.Scalar();
    const YAML::Node v = it->second;  // by value: it->second is a temporary
    if (k == "stories") {
      ASSIGN_OR_RETURN(e->stories, p.String(v, k));
    } else if (k == "trace") {
      ASSIGN_OR_RETURN(e->trace, p.String(v, k));
    } else if (k == "zipf") {
      ASSIGN_OR_RETURN(o.zipf, p.Double(v, k));
    } else if (k == "chat_share") {
      ASSIGN_OR_RETURN(o.chat_share, p.Double(v, k));
    } else if (k == "fewshot_share") {
      ASSIGN_OR_RETURN(o.fewshot_share, p.Double(v, k));
    } else {
      absl::Status s;
      if (k == "seed") s = ReadInt(p, v, k, 0, INT64_MAX, &o.seed);
      if (k == "requests") s = ReadInt(p, v, k, 1, 1000000, &o.requests);
      if (k == "system_prompts") s = ReadInt(p, v, k, 1, 10000, &o.system_prompts);
      if (k == "system_prompt_tokens") s = ReadInt(p, v, k, 1, 1 << 20, &o.system_prompt_tokens);
      if (k == "chat_turns") s = ReadInt(p, v, k, 1, 1000, &o.chat_turns);
      if (k == "fewshot_templates") s = ReadInt(p, v, k, 1, 10000, &o.fewshot_templates);
      if (k == "fewshot_examples") s = ReadInt(p, v, k, 1, 100, &o.fewshot_examples);
      if (k == "turn_tokens") s = ReadInt(p, v, k, 1, 1 << 20, &o.turn_tokens);
      if (k == "max_tokens") s = ReadInt(p, v, k, 2, 1 << 20, &o.max_tokens);
      RETURN_IF_ERROR(s);
    }
  }
  return absl::OkStatus();
}

// `cache`: the store keys of harness/store_keys.h, one value each; the policy is `full`.
absl::Status ParseCache(const YamlReader& p, const YAML::Node& c, CacheSpec* spec) {
  RETURN_IF_ERROR(p.CheckKeys(c, "cache", StoreKeys::Names()));
  StoreKeys store_keys(p, "cache", /*allow_sweep=*/false);
  RETURN_IF_ERROR(store_keys.CheckEntry(c));
  std::vector<SweepAxis> axes;
  for (auto it = c.begin(); it != c.end(); ++it) {
    RETURN_IF_ERROR(store_keys.Read(it->first, it->second, &axes).status());
  }
  RETURN_IF_ERROR(store_keys.CheckParams());
  for (const SweepAxis& axis : axes) ApplyStoreAxis(axis.key, axis.values.front(), spec);
  return absl::OkStatus();
}

absl::Status ParseBudgets(const YamlReader& p, const YAML::Node& v, const std::string& k,
                          PrefixExperiment* e) {
  e->budget_in_tokens = k == "budget_tokens";
  e->budgets.clear();
  for (const YAML::Node& b : List(v)) {
    ASSIGN_OR_RETURN(const int64_t x, p.Int(b, k, 0, int64_t{1} << 50));
    e->budgets.push_back(static_cast<uint64_t>(x));
  }
  if (e->budgets.empty()) return p.Error(v, absl::StrCat("'", k, "' is an empty list"));
  return absl::OkStatus();
}

absl::Status ParseStrategies(const YamlReader& p, const YAML::Node& v, PrefixExperiment* e) {
  e->strategies.clear();
  for (const YAML::Node& s : List(v)) {
    auto st = ParsePrefixStrategy(s.IsScalar() ? s.Scalar() : "");
    if (!st.ok()) return p.Error(s, std::string(st.status().message()));
    if (*st == PrefixStrategy::kNone) {
      return p.Error(s, "'none' is the baseline, always run; list lazy, active or hybrid");
    }
    e->strategies.push_back(*st);
  }
  if (e->strategies.empty()) return p.Error(v, "'strategy' is an empty list");
  return absl::OkStatus();
}

absl::Status ParseEvictions(const YamlReader& p, const YAML::Node& v, PrefixExperiment* e) {
  e->evictions.clear();
  for (const YAML::Node& s : List(v)) {
    auto r = ParseEvictionRule(s.IsScalar() ? s.Scalar() : "");
    if (!r.ok()) return p.Error(s, std::string(r.status().message()));
    e->evictions.push_back(*r);
  }
  if (e->evictions.empty()) return p.Error(v, "'eviction' is an empty list");
  return absl::OkStatus();
}

// The workload: read from JSONL, or generated from the stories.
absl::StatusOr<std::vector<TraceRequest>> LoadTrace(const PrefixExperiment& e, const Model& model) {
  if (!e.trace.empty()) {
    ASSIGN_OR_RETURN(const std::string path, ResolveDataPath(e.trace));
    return LoadTraceJsonl(path, *model.tokenizer, e.context_tokens);
  }
  ASSIGN_OR_RETURN(const std::vector<std::string> texts,
                   LoadTexts({.path = e.stories, .format = "text"}));
  WorkloadOptions w = e.workload;
  w.max_tokens = std::min(w.max_tokens, e.context_tokens);
  return GenerateWorkload(texts, *model.tokenizer, w);
}

// One served configuration: the no-cache baseline (`none`) or a budget x strategy x eviction.
struct PrefixCase {
  int repetition = 0;
  PrefixStrategy strategy = PrefixStrategy::kNone;
  EvictionRule eviction = EvictionRule::kLru;
  uint64_t budget_bytes = 0;
  std::string hash;

  bool baseline() const { return strategy == PrefixStrategy::kNone; }
};

// Every case in run order: per repetition the baseline first, then budgets x strategies x
// evictions (nested in that order).
std::vector<PrefixCase> PlanCases(const PrefixExperiment& e, uint64_t bytes_per_token) {
  const std::string key = absl::StrCat(
      "model=", e.model, "\ncache=", e.cache.Label(), "\nblock=", e.block_tokens,
      "\ncontext=", e.context_tokens, "\ntrace=", e.trace, "\nstories=", e.stories,
      "\nseed=", e.workload.seed, "\nrequests=", e.workload.requests,
      "\nwarmup=", e.warmup_requests, "\ntop_k=", e.active_top_k,
      "\ndeclared=", absl::StrJoin(e.declared_prefixes, "\x1f"), "\nthreads=", e.threads);
  std::vector<PrefixCase> cases;
  auto add = [&](int rep, PrefixStrategy s, EvictionRule r, uint64_t budget_bytes) {
    cases.push_back({rep, s, r, budget_bytes,
                     HashHex(absl::StrCat(key, "\nstrategy=", PrefixStrategyName(s),
                                          "\neviction=", EvictionRuleName(r),
                                          "\nbudget_bytes=", budget_bytes, "\nrep=", rep))});
  };
  for (int rep = 0; rep < e.repetitions; ++rep) {
    add(rep, PrefixStrategy::kNone, EvictionRule::kLru, 0);
    for (uint64_t b : e.budgets) {
      for (PrefixStrategy s : e.strategies) {
        for (EvictionRule r : e.evictions) {
          add(rep, s, r, e.budget_in_tokens ? b * bytes_per_token : b);
        }
      }
    }
  }
  return cases;
}

// How case `c` is served: the baseline's options with its strategy, eviction and budget.
ServeOptions CaseOptions(const PrefixExperiment& e, const PrefixCase& c,
                         const ServeOptions& baseline,
                         const std::vector<std::vector<int>>& declared_prefixes) {
  ServeOptions o = baseline;
  o.strategy = c.strategy;
  o.eviction = c.eviction;
  o.budget_bytes = c.budget_bytes;
  o.active_top_k = e.active_top_k;
  o.declared_prefixes = declared_prefixes;
  return o;
}

std::string Num(double v) { return absl::StrFormat("%.6g", v); }

// A case's identification and provenance columns.
ResultRow CaseRow(const PrefixExperiment& e, const PrefixCase& c, uint64_t bytes_per_token,
                  const std::string& git_sha) {
  ResultRow row(PrefixResultColumns());
  row.Set("experiment", e.name);
  row.Set("model", e.model);
  row.Set("k_store", e.cache.k_store);
  row.Set("v_store", e.cache.v_store);
  row.Set("label", e.cache.Label());
  row.Set("strategy", PrefixStrategyName(c.strategy));
  row.Set("eviction", c.baseline() ? "" : EvictionRuleName(c.eviction));
  row.Set("block_tokens", absl::StrCat(e.block_tokens));
  row.Set("budget_tokens", c.baseline() ? "0" : absl::StrCat(c.budget_bytes / bytes_per_token));
  row.Set("budget_bytes", absl::StrCat(c.budget_bytes));
  row.Set("bytes_per_token", absl::StrCat(bytes_per_token));
  row.Set("warmup_requests", absl::StrCat(e.warmup_requests));
  row.Set("active_top_k", absl::StrCat(e.active_top_k));
  row.Set("repetition", absl::StrCat(c.repetition));
  row.Set("git_sha", git_sha);
  row.Set("config_hash", c.hash);
  row.Set("seed", absl::StrCat(e.workload.seed));
  row.Set("threads", absl::StrCat(e.threads));
  row.Set("timestamp", UtcTimestamp());
  return row;
}

// 1 - served / baseline; 0 when the baseline took no time.
double Reduction(double served, double baseline) {
  return baseline > 0 ? 1.0 - served / baseline : 0;
}

void FillServed(const ServeReport& s, const ServeReport& nocache, ResultRow* row) {
  row->Set("n_requests", absl::StrCat(s.requests.size()));
  row->Set("hit_rate_blocks", Num(s.hit_rate_blocks));
  row->Set("hit_rate_tokens", Num(s.hit_rate_tokens));
  row->Set("blocks_eligible", absl::StrCat(s.blocks_eligible));
  row->Set("blocks_hit", absl::StrCat(s.blocks_hit));
  row->Set("prefill_tokens_requested", absl::StrCat(s.tokens_requested));
  row->Set("prefill_tokens_computed", absl::StrCat(s.tokens_computed));
  row->Set("prefill_tokens_saved_frac",
           Num(s.tokens_requested ? 1.0 - double(s.tokens_computed) / s.tokens_requested : 0));
  row->Set("warm_prefixes", absl::StrCat(s.warm_prefixes));
  row->Set("warm_tokens_computed", absl::StrCat(s.warm_tokens_computed));
  row->Set("ttft_ms_p50", Num(s.ttft_ms_p50));
  row->Set("ttft_ms_p95", Num(s.ttft_ms_p95));
  row->Set("ttft_ms_mean", Num(s.ttft_ms_mean));
  row->Set("ttft_ms_p50_nocache", Num(nocache.ttft_ms_p50));
  row->Set("ttft_ms_p95_nocache", Num(nocache.ttft_ms_p95));
  row->Set("ttft_p50_reduction", Num(Reduction(s.ttft_ms_p50, nocache.ttft_ms_p50)));
  row->Set("ttft_p95_reduction", Num(Reduction(s.ttft_ms_p95, nocache.ttft_ms_p95)));
  row->Set("cache_bytes_end", absl::StrCat(s.cache_bytes_end));
  row->Set("cache_bytes_peak", absl::StrCat(s.cache_bytes_peak));
  row->Set("cache_f32_bytes_end", absl::StrCat(s.cache_f32_bytes_end));
  row->Set("blocks_end", absl::StrCat(s.blocks_end));
  row->Set("blocks_added", absl::StrCat(s.blocks_added));
  row->Set("evictions", absl::StrCat(s.evictions));
  row->Set("collisions", absl::StrCat(s.collisions));
}

// The first repetition's good rows, one line per case in run order (from the CSV, so resumed cases
// are listed too).
std::string Summary(const CsvTable& table, const std::vector<PrefixCase>& cases) {
  std::string out =
      absl::StrFormat("%-8s %-7s %-4s %9s %9s %9s %9s %9s\n", "budget", "strategy", "evict",
                      "hit_blk", "hit_tok", "ttft_p50", "ttft_p95", "p50_red");
  const int hash_col = table.Column("config_hash"), error_col = table.Column("error");
  for (const PrefixCase& c : cases) {
    if (c.repetition != 0) continue;
    const auto row = std::find_if(table.rows.begin(), table.rows.end(), [&](const auto& r) {
      return r[hash_col] == c.hash && r[error_col].empty();
    });
    if (row == table.rows.end()) continue;
    auto number = [&](std::string_view column) {
      double v = 0;
      (void)absl::SimpleAtod((*row)[table.Column(column)], &v);
      return v;
    };
    absl::StrAppend(
        &out, absl::StrFormat(
                  "%-8s %-7s %-4s %9.3f %9.3f %9.3f %9.3f %8.1f%%\n",
                  c.baseline() ? "-" : (*row)[table.Column("budget_tokens")],
                  PrefixStrategyName(c.strategy), c.baseline() ? "-" : EvictionRuleName(c.eviction),
                  number("hit_rate_blocks"), number("hit_rate_tokens"), number("ttft_ms_p50"),
                  number("ttft_ms_p95"), 100 * number("ttft_p50_reduction")));
  }
  return out;
}

}  // namespace

absl::StatusOr<PrefixExperiment> ParsePrefixExperiment(std::string_view yaml,
                                                       std::string_view source,
                                                       std::string_view default_name) {
  const YamlReader p{std::string(source)};
  ASSIGN_OR_RETURN(const YAML::Node root, p.Load(std::string(yaml)));
  return ParsePrefixExperimentDocument(root, source, default_name);
}

absl::StatusOr<PrefixExperiment> ParsePrefixExperimentDocument(const YAML::Node& root,
                                                               std::string_view source,
                                                               std::string_view default_name) {
  const YamlReader p{std::string(source)};
  if (!root.IsMap()) return p.Error(root, "the experiment must be a mapping of key: value");
  RETURN_IF_ERROR(p.CheckKeys(
      root, "the experiment",
      {"name", "model", "threads", "cache", "block_tokens", "context_tokens", "workload",
       "warmup_requests", "active_top_k", "declared_prefixes", "budget_tokens", "budget_bytes",
       "strategy", "eviction", "repetitions", "output"}));
  PrefixExperiment e;
  e.source = std::string(source);
  e.name = std::string(default_name);
  if (root["budget_tokens"] && root["budget_bytes"]) {
    return p.Error(root["budget_bytes"], "give budget_tokens or budget_bytes, not both");
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string k = it->first.Scalar();
    const YAML::Node v = it->second;  // by value: it->second is a temporary
    absl::Status s;
    if (k == "name") {
      ASSIGN_OR_RETURN(e.name, p.String(v, k));
    } else if (k == "model") {
      ASSIGN_OR_RETURN(e.model, p.String(v, k));
    } else if (k == "output") {
      ASSIGN_OR_RETURN(e.output, p.String(v, k));
    } else if (k == "threads") {
      s = ReadInt(p, v, k, 0, 1024, &e.threads);
    } else if (k == "block_tokens") {
      s = ReadInt(p, v, k, 1, 65536, &e.block_tokens);
    } else if (k == "context_tokens") {
      s = ReadInt(p, v, k, 1, 1 << 20, &e.context_tokens);
    } else if (k == "warmup_requests") {
      s = ReadInt(p, v, k, 0, 1000000, &e.warmup_requests);
    } else if (k == "active_top_k") {
      s = ReadInt(p, v, k, 0, 100000, &e.active_top_k);
    } else if (k == "repetitions") {
      s = ReadInt(p, v, k, 1, 1000, &e.repetitions);
    } else if (k == "cache") {
      s = ParseCache(p, v, &e.cache);
    } else if (k == "workload") {
      s = ParseWorkload(p, v, &e);
    } else if (k == "declared_prefixes") {
      if (!v.IsSequence()) return p.Error(v, "'declared_prefixes' must be a list of texts");
      for (const YAML::Node& t : v) {
        ASSIGN_OR_RETURN(std::string text, p.String(t, k));
        e.declared_prefixes.push_back(std::move(text));
      }
    } else if (k == "budget_tokens" || k == "budget_bytes") {
      s = ParseBudgets(p, v, k, &e);
    } else if (k == "strategy") {
      s = ParseStrategies(p, v, &e);
    } else if (k == "eviction") {
      s = ParseEvictions(p, v, &e);
    }
    RETURN_IF_ERROR(s);
  }
  if (e.output.empty()) e.output = absl::StrCat("results/", e.name, ".csv");
  return e;
}

absl::StatusOr<PrefixExperiment> LoadPrefixExperiment(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path, "experiment"));
  return ParsePrefixExperiment(text, path, std::filesystem::path(path).stem().string());
}

const std::vector<std::string>& PrefixResultColumns() {
  static const auto* const kColumns = new std::vector<std::string>{
      // identification
      "experiment", "model", "k_store", "v_store", "label", "strategy", "eviction", "block_tokens",
      "budget_tokens", "budget_bytes", "bytes_per_token", "warmup_requests", "active_top_k",
      "repetition", "n_requests",
      // hits and work
      "hit_rate_blocks", "hit_rate_tokens", "blocks_eligible", "blocks_hit",
      "prefill_tokens_requested", "prefill_tokens_computed", "prefill_tokens_saved_frac",
      "warm_prefixes", "warm_tokens_computed",
      // time to first token
      "ttft_ms_p50", "ttft_ms_p95", "ttft_ms_mean", "ttft_ms_p50_nocache", "ttft_ms_p95_nocache",
      "ttft_p50_reduction", "ttft_p95_reduction",
      // cache footprint
      "cache_bytes_end", "cache_bytes_peak", "cache_f32_bytes_end", "blocks_end", "blocks_added",
      "evictions", "collisions",
      // provenance
      "git_sha", "config_hash", "seed", "threads", "timestamp", "error"};
  return *kColumns;
}

absl::StatusOr<PrefixRunReport> RunPrefixExperiment(const PrefixExperiment& e, const Model& model,
                                                    const PrefixRunOptions& options) {
  SetNumThreads(e.threads);
  ASSIGN_OR_RETURN(const std::vector<TraceRequest> trace, LoadTrace(e, model));
  std::vector<std::vector<int>> declared;
  for (const std::string& d : e.declared_prefixes) {
    declared.push_back(model.tokenizer->Encode(d, true));
  }
  ASSIGN_OR_RETURN(const uint64_t bytes_per_token, PrefixBytesPerToken(e.cache, model.config));
  ASSIGN_OR_RETURN(ResultTable table,
                   ResultTable::Open(e.output, PrefixResultColumns(), options.force));
  const std::vector<PrefixCase> cases = PlanCases(e, bytes_per_token);
  std::vector<std::string> hashes;
  for (const PrefixCase& c : cases) hashes.push_back(c.hash);
  const std::vector<size_t> pending = table.TakePending(hashes);

  PrefixRunReport report;
  report.csv_path = e.output;
  report.cases = static_cast<int>(pending.size());
  report.cases_skipped = static_cast<int>(cases.size() - pending.size());
  if (options.log != nullptr && report.cases_skipped > 0) {
    std::fprintf(options.log, "%d of %zu cases already in %s (resuming; --force recomputes)\n",
                 report.cases_skipped, cases.size(), e.output.c_str());
  }
  Decoder decoder(model);
  const std::string git_sha = GitSha();
  ServeOptions baseline{.cache = e.cache,
                              .strategy = PrefixStrategy::kNone,
                              .block_tokens = e.block_tokens,
                              .warmup_requests = e.warmup_requests,
                              .context_tokens = e.context_tokens};
  // Progress in requests served: the trace once per serve (each pending case but the baseline's
  // own row, and each repetition's baseline).
  int64_t serves = 0;
  for (int rep = -1; size_t i : pending) {
    serves += (cases[i].repetition != rep) + !cases[i].baseline();
    rep = cases[i].repetition;
  }
  Progress progress(options.log, options.progress, serves * static_cast<int64_t>(trace.size()),
                    "requests");
  baseline.on_requests = [&progress](int requests) { progress.Advance(requests); };
  ServeReport nocache;  // the baseline of repetition `nocache_rep`
  int nocache_rep = -1;
  for (int done = 0; size_t i : pending) {
    const PrefixCase& c = cases[i];
    progress.SetLabel(absl::StrCat("case ", ++done, "/", pending.size(), " ",
                                   PrefixStrategyName(c.strategy), " budget ", c.budget_bytes, " B"));
    if (c.repetition != nocache_rep) {  // every row of a repetition compares with its baseline
      ASSIGN_OR_RETURN(nocache, Serve(decoder, trace, baseline));
      nocache_rep = c.repetition;
    }
    ResultRow row = CaseRow(e, c, bytes_per_token, git_sha);
    absl::Status error;
    if (c.baseline()) {
      FillServed(nocache, nocache, &row);
    } else if (auto served = Serve(decoder, trace, CaseOptions(e, c, baseline, declared));
               served.ok()) {
      FillServed(*served, nocache, &row);
    } else {
      error = served.status();
    }
    if (!error.ok()) {
      ++report.cases_failed;
      row.Set("error", std::string(error.message()));
      if (options.log != nullptr) {
        progress.Clear();
        std::fprintf(options.log, "case %s failed: %s\n", PrefixStrategyName(c.strategy),
                     std::string(error.message()).c_str());
      }
    }
    RETURN_IF_ERROR(table.Append(std::move(row).Take()));
  }
  progress.Clear();
  if (pending.empty()) RETURN_IF_ERROR(table.Write());
  report.summary = Summary(table.table(), cases);
  return report;
}

}  // namespace kvbench
