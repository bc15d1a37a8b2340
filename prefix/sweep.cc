#include "prefix/sweep.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "harness/csv.h"
#include "harness/dataset.h"
#include "harness/run_metadata.h"
#include "harness/yaml_reader.h"
#include "harness/result_table.h"
#include "model/ops.h"
#include "stores/store_registry.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {
namespace {

// A scalar or a list of scalars.
std::vector<YAML::Node> List(const YAML::Node& n) {
  std::vector<YAML::Node> out;
  if (n.IsSequence()) {
    for (const YAML::Node& x : n) out.push_back(x);
  } else {
    out.push_back(n);
  }
  return out;
}

absl::StatusOr<ParamMap> Params(const YamlReader& r, const YAML::Node& n, const std::string& key) {
  if (!n.IsMap()) return r.Error(n, absl::StrCat("'", key, "' must be a mapping"));
  ParamMap p;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->second.IsScalar()) {
      return r.Error(it->second, absl::StrCat("'", key, ".", it->first.Scalar(), "' must be a single value"));
    }
    p[it->first.Scalar()] = it->second.Scalar();
  }
  return p;
}

#define ASSIGN_OR_RETURN_(lhs, expr)      \
  do {                                    \
    auto r_ = (expr);                     \
    if (!r_.ok()) return r_.status();     \
    lhs = *std::move(r_);                 \
  } while (0)

absl::Status ParseWorkload(const YamlReader& p, const YAML::Node& w, PrefixExperiment* e) {
  if (absl::Status s = p.CheckKeys(w, "workload",
                                   {"stories", "trace", "seed", "requests", "system_prompts",
                                    "system_prompt_tokens", "zipf", "chat_share", "chat_turns",
                                    "fewshot_share", "fewshot_templates", "fewshot_examples",
                                    "turn_tokens", "max_tokens"});
      !s.ok()) {
    return s;
  }
  WorkloadOptions& o = e->workload;
  for (auto it = w.begin(); it != w.end(); ++it) {
    const std::string k = it->first.Scalar();
    const YAML::Node v = it->second;  // by value: it->second is a temporary
    if (k == "stories") ASSIGN_OR_RETURN_(e->stories, p.String(v, k));
    else if (k == "trace") ASSIGN_OR_RETURN_(e->trace, p.String(v, k));
    else if (k == "seed") { int64_t s; ASSIGN_OR_RETURN_(s, p.Int(v, k, 0, INT64_MAX)); o.seed = s; }
    else if (k == "requests") { int64_t x; ASSIGN_OR_RETURN_(x, p.Int(v, k, 1, 1000000)); o.requests = x; }
    else if (k == "system_prompts") { int64_t x; ASSIGN_OR_RETURN_(x, p.Int(v, k, 1, 10000)); o.system_prompts = x; }
    else if (k == "system_prompt_tokens") { int64_t x; ASSIGN_OR_RETURN_(x, p.Int(v, k, 1, 1 << 20)); o.system_prompt_tokens = x; }
    else if (k == "chat_turns") { int64_t x; ASSIGN_OR_RETURN_(x, p.Int(v, k, 1, 1000)); o.chat_turns = x; }
    else if (k == "fewshot_templates") { int64_t x; ASSIGN_OR_RETURN_(x, p.Int(v, k, 1, 10000)); o.fewshot_templates = x; }
    else if (k == "fewshot_examples") { int64_t x; ASSIGN_OR_RETURN_(x, p.Int(v, k, 1, 100)); o.fewshot_examples = x; }
    else if (k == "turn_tokens") { int64_t x; ASSIGN_OR_RETURN_(x, p.Int(v, k, 1, 1 << 20)); o.turn_tokens = x; }
    else if (k == "max_tokens") { int64_t x; ASSIGN_OR_RETURN_(x, p.Int(v, k, 2, 1 << 20)); o.max_tokens = x; }
    else if (k == "zipf") ASSIGN_OR_RETURN_(o.zipf, p.Double(v, k));
    else if (k == "chat_share") ASSIGN_OR_RETURN_(o.chat_share, p.Double(v, k));
    else if (k == "fewshot_share") ASSIGN_OR_RETURN_(o.fewshot_share, p.Double(v, k));
  }
  return absl::OkStatus();
}

absl::Status ParseCache(const YamlReader& p, const YAML::Node& c, CacheSpec* spec) {
  if (absl::Status s = p.CheckKeys(c, "cache", {"store", "k_store", "v_store", "store_params",
                                                "k_params", "v_params"});
      !s.ok()) {
    return s;
  }
  for (auto it = c.begin(); it != c.end(); ++it) {
    const std::string k = it->first.Scalar();
    const YAML::Node v = it->second;  // by value: it->second is a temporary
    if (k == "store") {
      std::string s;
      ASSIGN_OR_RETURN_(s, p.String(v, k));
      spec->k_store = spec->v_store = s;
    } else if (k == "k_store") ASSIGN_OR_RETURN_(spec->k_store, p.String(v, k));
    else if (k == "v_store") ASSIGN_OR_RETURN_(spec->v_store, p.String(v, k));
    else if (k == "store_params") {
      ParamMap m;
      ASSIGN_OR_RETURN_(m, Params(p, v, k));
      spec->k_params.insert(m.begin(), m.end());
      spec->v_params.insert(m.begin(), m.end());
    } else if (k == "k_params") {
      ParamMap m;
      ASSIGN_OR_RETURN_(m, Params(p, v, k));
      for (auto& [a, b] : m) spec->k_params[a] = b;
    } else if (k == "v_params") {
      ParamMap m;
      ASSIGN_OR_RETURN_(m, Params(p, v, k));
      for (auto& [a, b] : m) spec->v_params[a] = b;
    }
  }
  for (auto [name, params, role] : {std::tuple{spec->k_store, spec->k_params, KvRole::kKey},
                                    std::tuple{spec->v_store, spec->v_params, KvRole::kValue}}) {
    auto bpv = BytesPerValue(name, params, role, 8);
    if (!bpv.ok() && bpv.status().code() == absl::StatusCode::kNotFound) {
      return p.Error(c, std::string(bpv.status().message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PrefixExperiment> ParsePrefixExperiment(std::string_view yaml, std::string_view source,
                                                       std::string_view default_name) {
  const YamlReader p{std::string(source)};
  absl::StatusOr<YAML::Node> loaded = p.Load(std::string(yaml));
  if (!loaded.ok()) return loaded.status();
  YAML::Node root = *std::move(loaded);
  if (!root.IsMap()) return p.Error(root, "the experiment must be a mapping of key: value");
  if (absl::Status s = p.CheckKeys(root, "the experiment",
                                   {"name", "model", "threads", "cache", "block_tokens",
                                    "context_tokens", "workload", "warmup_requests", "active_top_k",
                                    "declared_prefixes", "budget_tokens", "budget_bytes", "strategy",
                                    "eviction", "repetitions", "output"});
      !s.ok()) {
    return s;
  }
  PrefixExperiment e;
  e.source = std::string(source);
  e.name = std::string(default_name);
  if (root["budget_tokens"] && root["budget_bytes"]) {
    return p.Error(root["budget_bytes"], "give budget_tokens or budget_bytes, not both");
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string k = it->first.Scalar();
    const YAML::Node v = it->second;  // by value: it->second is a temporary
    int64_t x = 0;
    if (k == "name") ASSIGN_OR_RETURN_(e.name, p.String(v, k));
    else if (k == "model") ASSIGN_OR_RETURN_(e.model, p.String(v, k));
    else if (k == "output") ASSIGN_OR_RETURN_(e.output, p.String(v, k));
    else if (k == "threads") { ASSIGN_OR_RETURN_(x, p.Int(v, k, 0, 1024)); e.threads = x; }
    else if (k == "block_tokens") { ASSIGN_OR_RETURN_(x, p.Int(v, k, 1, 65536)); e.block_tokens = x; }
    else if (k == "context_tokens") { ASSIGN_OR_RETURN_(x, p.Int(v, k, 1, 1 << 20)); e.context_tokens = x; }
    else if (k == "warmup_requests") { ASSIGN_OR_RETURN_(x, p.Int(v, k, 0, 1000000)); e.warmup_requests = x; }
    else if (k == "active_top_k") { ASSIGN_OR_RETURN_(x, p.Int(v, k, 0, 100000)); e.active_top_k = x; }
    else if (k == "repetitions") { ASSIGN_OR_RETURN_(x, p.Int(v, k, 1, 1000)); e.repetitions = x; }
    else if (k == "cache") {
      if (absl::Status s = ParseCache(p, v, &e.cache); !s.ok()) return s;
    } else if (k == "workload") {
      if (absl::Status s = ParseWorkload(p, v, &e); !s.ok()) return s;
    } else if (k == "declared_prefixes") {
      if (!v.IsSequence()) return p.Error(v, "'declared_prefixes' must be a list of texts");
      for (const YAML::Node& t : v) {
        std::string s;
        ASSIGN_OR_RETURN_(s, p.String(t, k));
        e.declared_prefixes.push_back(s);
      }
    } else if (k == "budget_tokens" || k == "budget_bytes") {
      e.budget_in_tokens = k == "budget_tokens";
      e.budgets.clear();
      for (const YAML::Node& b : List(v)) {
        ASSIGN_OR_RETURN_(x, p.Int(b, k, 0, int64_t{1} << 50));
        e.budgets.push_back(static_cast<uint64_t>(x));
      }
      if (e.budgets.empty()) return p.Error(v, absl::StrCat("'", k, "' is an empty list"));
    } else if (k == "strategy") {
      e.strategies.clear();
      for (const YAML::Node& s : List(v)) {
        auto st = ParsePrefixStrategy(s.IsScalar() ? s.Scalar() : "");
        if (!st.ok()) return p.Error(s, std::string(st.status().message()));
        if (*st == PrefixStrategy::kNone) return p.Error(s, "'none' is the baseline, always run; list lazy, active or hybrid");
        e.strategies.push_back(*st);
      }
      if (e.strategies.empty()) return p.Error(v, "'strategy' is an empty list");
    } else if (k == "eviction") {
      e.evictions.clear();
      for (const YAML::Node& s : List(v)) {
        auto r = ParseEvictionRule(s.IsScalar() ? s.Scalar() : "");
        if (!r.ok()) return p.Error(s, std::string(r.status().message()));
        e.evictions.push_back(*r);
      }
      if (e.evictions.empty()) return p.Error(v, "'eviction' is an empty list");
    }
  }
  if (e.output.empty()) e.output = absl::StrCat("results/", e.name, ".csv");
  return e;
}

absl::StatusOr<PrefixExperiment> LoadPrefixExperiment(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("experiment file not found: ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string stem = path.substr(path.find_last_of('/') + 1);
  stem = stem.substr(0, stem.find_last_of('.'));
  return ParsePrefixExperiment(ss.str(), path, stem);
}

const std::vector<std::string>& PrefixResultColumns() {
  static const auto* const kColumns = new std::vector<std::string>{
      // identification
      "experiment", "model", "k_store", "v_store", "label", "strategy", "eviction", "block_tokens",
      "budget_tokens", "budget_bytes", "bytes_per_token", "warmup_requests", "active_top_k",
      "repetition", "n_requests",
      // hits and work
      "hit_rate_blocks", "hit_rate_tokens", "blocks_eligible", "blocks_hit", "prefill_tokens_requested",
      "prefill_tokens_computed", "prefill_tokens_saved_frac", "warm_prefixes", "warm_tokens_computed",
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
                                                    FILE* log) {
  SetNumThreads(e.threads);
  std::vector<TraceRequest> trace;
  if (!e.trace.empty()) {
    auto path = ResolveDataPath(e.trace);
    if (!path.ok()) return path.status();
    auto t = LoadTraceJsonl(*path, *model.tokenizer, e.context_tokens);
    if (!t.ok()) return t.status();
    trace = *std::move(t);
  } else {
    auto texts = LoadTexts({.path = e.stories, .format = "text"});
    if (!texts.ok()) return texts.status();
    WorkloadOptions w = e.workload;
    w.max_tokens = std::min(w.max_tokens, e.context_tokens);
    auto t = GenerateWorkload(*texts, *model.tokenizer, w);
    if (!t.ok()) return t.status();
    trace = *std::move(t);
  }
  std::vector<std::vector<int>> declared;
  for (const std::string& d : e.declared_prefixes) declared.push_back(model.tokenizer->Encode(d, true));
  auto bpt = PrefixBytesPerToken(e.cache, model.config);
  if (!bpt.ok()) return bpt.status();

  Decoder decoder(model);
  const std::string git = GitSha();
  CsvTable table{PrefixResultColumns(), {}};
  PrefixRunReport report{.csv_path = e.output};
  std::string summary = absl::StrFormat("%-8s %-7s %-4s %9s %9s %9s %9s %9s\n", "budget", "strategy",
                                        "evict", "hit_blk", "hit_tok", "ttft_p50", "ttft_p95", "p50_red");
  auto fmt = [](double v) { return absl::StrFormat("%.6g", v); };
  const std::string base_hash_text = absl::StrCat(
      "model=", e.model, "\ncache=", e.cache.Label(), "\nblock=", e.block_tokens, "\ncontext=",
      e.context_tokens, "\ntrace=", e.trace, "\nstories=", e.stories, "\nseed=", e.workload.seed,
      "\nrequests=", e.workload.requests, "\nwarmup=", e.warmup_requests, "\ntop_k=", e.active_top_k,
      "\ndeclared=", absl::StrJoin(e.declared_prefixes, "\x1f"), "\nthreads=", e.threads);

  for (int rep = 0; rep < e.repetitions; ++rep) {
    ServeOptions base{.cache = e.cache, .strategy = PrefixStrategy::kNone,
                      .block_tokens = e.block_tokens, .warmup_requests = e.warmup_requests,
                      .context_tokens = e.context_tokens};
    auto nocache = Serve(decoder, trace, base);
    if (!nocache.ok()) return nocache.status();
    struct Case {
      PrefixStrategy strategy;
      EvictionRule eviction;
      uint64_t budget;
    };
    std::vector<Case> cases = {{PrefixStrategy::kNone, EvictionRule::kLru, 0}};
    for (uint64_t b : e.budgets) {
      for (PrefixStrategy s : e.strategies) {
        for (EvictionRule r : e.evictions) cases.push_back({s, r, b});
      }
    }
    for (const Case& c : cases) {
      std::vector<std::string> row(PrefixResultColumns().size());
      auto set = [&](std::string_view col, std::string v) {
        const auto& cols = PrefixResultColumns();
        row[std::find(cols.begin(), cols.end(), col) - cols.begin()] = std::move(v);
      };
      const bool none = c.strategy == PrefixStrategy::kNone;
      const uint64_t budget_bytes = none ? 0 : e.budget_in_tokens ? c.budget * *bpt : c.budget;
      set("experiment", e.name);
      set("model", e.model);
      set("k_store", e.cache.k_store);
      set("v_store", e.cache.v_store);
      set("label", e.cache.Label());
      set("strategy", PrefixStrategyName(c.strategy));
      set("eviction", none ? "" : EvictionRuleName(c.eviction));
      set("block_tokens", absl::StrCat(e.block_tokens));
      set("budget_tokens", none ? "0" : absl::StrCat(budget_bytes / *bpt));
      set("budget_bytes", absl::StrCat(budget_bytes));
      set("bytes_per_token", absl::StrCat(*bpt));
      set("warmup_requests", absl::StrCat(e.warmup_requests));
      set("active_top_k", absl::StrCat(e.active_top_k));
      set("repetition", absl::StrCat(rep));
      set("git_sha", git);
      set("config_hash", HashHex(absl::StrCat(base_hash_text, "\nstrategy=", PrefixStrategyName(c.strategy),
                                              "\neviction=", EvictionRuleName(c.eviction),
                                              "\nbudget_bytes=", budget_bytes, "\nrep=", rep)));
      set("seed", absl::StrCat(e.workload.seed));
      set("threads", absl::StrCat(e.threads));
      set("timestamp", UtcTimestamp());
      absl::StatusOr<ServeReport> r = nocache;
      if (!none) {
        ServeOptions o = base;
        o.strategy = c.strategy;
        o.eviction = c.eviction;
        o.budget_bytes = budget_bytes;
        o.active_top_k = e.active_top_k;
        o.declared_prefixes = declared;
        r = Serve(decoder, trace, o);
      }
      ++report.cases;
      if (!r.ok()) {
        ++report.cases_failed;
        set("error", std::string(r.status().message()));
        if (log) std::fprintf(log, "case %s failed: %s\n", PrefixStrategyName(c.strategy), std::string(r.status().message()).c_str());
      } else {
        const ServeReport& s = *r;
        set("n_requests", absl::StrCat(s.requests.size()));
        set("hit_rate_blocks", fmt(s.hit_rate_blocks));
        set("hit_rate_tokens", fmt(s.hit_rate_tokens));
        set("blocks_eligible", absl::StrCat(s.blocks_eligible));
        set("blocks_hit", absl::StrCat(s.blocks_hit));
        set("prefill_tokens_requested", absl::StrCat(s.tokens_requested));
        set("prefill_tokens_computed", absl::StrCat(s.tokens_computed));
        set("prefill_tokens_saved_frac", fmt(s.tokens_requested ? 1.0 - double(s.tokens_computed) / s.tokens_requested : 0));
        set("warm_prefixes", absl::StrCat(s.warm_prefixes));
        set("warm_tokens_computed", absl::StrCat(s.warm_tokens_computed));
        set("ttft_ms_p50", fmt(s.ttft_ms_p50));
        set("ttft_ms_p95", fmt(s.ttft_ms_p95));
        set("ttft_ms_mean", fmt(s.ttft_ms_mean));
        set("ttft_ms_p50_nocache", fmt(nocache->ttft_ms_p50));
        set("ttft_ms_p95_nocache", fmt(nocache->ttft_ms_p95));
        const double red50 = nocache->ttft_ms_p50 > 0 ? 1.0 - s.ttft_ms_p50 / nocache->ttft_ms_p50 : 0;
        const double red95 = nocache->ttft_ms_p95 > 0 ? 1.0 - s.ttft_ms_p95 / nocache->ttft_ms_p95 : 0;
        set("ttft_p50_reduction", fmt(red50));
        set("ttft_p95_reduction", fmt(red95));
        set("cache_bytes_end", absl::StrCat(s.cache_bytes_end));
        set("cache_bytes_peak", absl::StrCat(s.cache_bytes_peak));
        set("cache_f32_bytes_end", absl::StrCat(s.cache_f32_bytes_end));
        set("blocks_end", absl::StrCat(s.blocks_end));
        set("blocks_added", absl::StrCat(s.blocks_added));
        set("evictions", absl::StrCat(s.evictions));
        set("collisions", absl::StrCat(s.collisions));
        if (rep == 0) {
          absl::StrAppend(&summary, absl::StrFormat("%-8s %-7s %-4s %9.3f %9.3f %9.3f %9.3f %8.1f%%\n",
                                                    none ? "-" : absl::StrCat(budget_bytes / *bpt),
                                                    PrefixStrategyName(c.strategy),
                                                    none ? "-" : EvictionRuleName(c.eviction),
                                                    s.hit_rate_blocks, s.hit_rate_tokens, s.ttft_ms_p50,
                                                    s.ttft_ms_p95, 100 * red50));
        }
      }
      table.rows.push_back(std::move(row));
      if (absl::Status w = WriteFileAtomically(e.output, FormatCsv(table)); !w.ok()) return w;
    }
  }
  report.summary = summary;
  return report;
}

}  // namespace kvbench
