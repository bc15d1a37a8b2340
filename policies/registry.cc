#include "policies/registry.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policies/adakv.h"
#include "policies/full.h"
#include "policies/h2o.h"
#include "policies/knorm.h"
#include "policies/none.h"
#include "policies/pyramidkv.h"
#include "policies/scissorhands.h"
#include "policies/sinks.h"
#include "policies/snapkv.h"
#include "stores/store_registry.h"
#include "policies/tova.h"
#include "policies/window.h"

namespace kvbench {
namespace {

using PolicyOr = absl::StatusOr<std::unique_ptr<CachePolicy>>;

ParamSpec BudgetSpec() {
  return {.name = "budget",
          .type = ParamType::kBudget,
          .default_value = "",
          .help = "entries kept per KV head: tokens (64) or a ratio of the context (0.25, 25%)",
          .choices = {}};
}

ParamSpec AggregateSpec() {
  return {.name = "aggregate",
          .type = ParamType::kString,
          .default_value = "mean",
          .help = "GQA: how a KV head combines its query group's attention",
          .choices = {"mean", "max"}};
}

ParamSpec PositionsSpec() {
  return {.name = "positions",
          .type = ParamType::kString,
          .default_value = "original",
          .help =
              "RoPE positions of kept keys: original, or re-rotated to positions within the cache "
              "(StreamingLLM)",
          .choices = {"original", "cache"}};
}

std::vector<ParamSpec> SnapKvSpecs() {
  return {BudgetSpec(),
          {.name = "window",
           .type = ParamType::kInt,
           .default_value = "32",
           .help = "observation window: the last prompt queries that score, whose tokens are kept",
           .choices = {}},
          {.name = "kernel",
           .type = ParamType::kInt,
           .default_value = "5",
           .help = "pooling kernel over positions (odd)",
           .choices = {}},
          {.name = "pooling",
           .type = ParamType::kString,
           .default_value = "avg",
           .help = "pooling of the scores",
           .choices = {"avg", "max"}},
          AggregateSpec()};
}

absl::Status Invalid(const Params& p, const std::string& policy, const std::string& param,
                     const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat("policy ", policy, ": parameter '", param,
                                                 "' = ", p.values().at(param), " ", problem));
}

// The budget in tokens, checked against the context.
absl::StatusOr<int> Budget(const Params& p, const std::string& policy, const CacheShape& shape) {
  const std::string& text = p.values().at("budget");
  const bool ratio = absl::StrContains(text, ".") || absl::StrContains(text, "%");
  if (ratio && shape.context_tokens <= 0) {
    return Invalid(p, policy, "budget", "is a ratio, but the run's context length is unknown (0)");
  }
  const int budget = p.GetBudget("budget", shape.context_tokens);
  if (budget < 1) return Invalid(p, policy, "budget", "must keep at least one token");
  if (shape.context_tokens > 0 && budget > shape.context_tokens) {
    return Invalid(p, policy, "budget",
                   absl::StrCat("exceeds the context of ", shape.context_tokens,
                                " tokens (nothing would be evicted: use `full`)"));
  }
  return budget;
}

absl::StatusOr<SnapKvOptions> SnapKvFromParams(const Params& p, const std::string& policy,
                                               const CacheShape& shape) {
  auto budget = Budget(p, policy, shape);
  if (!budget.ok()) return budget.status();
  SnapKvOptions o{.budget = *budget,
                  .window = p.GetInt("window"),
                  .kernel = p.GetInt("kernel"),
                  .max_pool = p.GetString("pooling") == "max",
                  .aggregate = ParseAggregate(p.GetString("aggregate"))};
  if (o.window < 1) return Invalid(p, policy, "window", "must be at least 1");
  if (shape.context_tokens > 0 && o.window > shape.context_tokens) {
    return Invalid(p, policy, "window",
                   absl::StrCat("exceeds the context of ", shape.context_tokens, " tokens"));
  }
  if (o.window >= o.budget) {
    return Invalid(p, policy, "window",
                   absl::StrCat("must be smaller than the budget (", o.budget,
                                " tokens): the budget holds the window plus the selected tokens"));
  }
  if (o.kernel < 1 || o.kernel % 2 == 0 || o.kernel > 1025) {
    return Invalid(p, policy, "kernel", "must be an odd number between 1 and 1025");
  }
  return o;
}

absl::Status CheckUnit(const Params& p, const std::string& policy, const std::string& param) {
  const double v = p.GetFloat(param);
  if (v < 0.0 || v > 1.0) return Invalid(p, policy, param, "must be between 0 and 1");
  return absl::OkStatus();
}

std::vector<PolicyInfo> BuildTable() {
  std::vector<PolicyInfo> t = {
      {.name = "full",
       .description = "keep every position: the reference",
       .paper = "",
       .params = {},
       .make = [](const Params&, const CacheShape&) -> PolicyOr {
         return std::make_unique<FullPolicy>();
       }},
      {.name = "none",
       .description = "no KV cache: recompute the whole prefix every step (what caching buys)",
       .paper = "",
       .params = {},
       .make = [](const Params&, const CacheShape&) -> PolicyOr {
         return std::make_unique<NonePolicy>();
       }},
      {.name = "window",
       .description = "sliding window: the newest `budget` positions",
       .paper = "arXiv:2004.05150",
       .params = {BudgetSpec()},
       .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
         auto b = Budget(p, "window", s);
         if (!b.ok()) return b.status();
         return std::make_unique<WindowPolicy>(*b);
       }},
      {.name = "sinks",
       .description = "StreamingLLM: the first n_sink positions plus the newest (budget - n_sink)",
       .paper = "arXiv:2309.17453",
       .params = {BudgetSpec(),
                  {.name = "n_sink",
                   .type = ParamType::kInt,
                   .default_value = "4",
                   .help = "first positions always kept (attention sinks)",
                   .choices = {}}},
       .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
         auto b = Budget(p, "sinks", s);
         if (!b.ok()) return b.status();
         const int n_sink = p.GetInt("n_sink");
         if (n_sink < 0) return Invalid(p, "sinks", "n_sink", "must not be negative");
         if (n_sink >= *b) {
           return Invalid(p, "sinks", "n_sink",
                          absl::StrCat("must be smaller than the budget (", *b,
                                       " tokens), which also holds the recent window"));
         }
         return std::make_unique<SinksPolicy>(*b, n_sink);
       }},
      {.name = "h2o",
       .description = "heavy hitters (most attention received, accumulated) plus the most recent",
       .paper = "arXiv:2306.14048",
       .params = {BudgetSpec(),
                  {.name = "heavy_ratio",
                   .type = ParamType::kFloat,
                   .default_value = "0.5",
                   .help = "share of the budget for heavy hitters; the rest is the recent window",
                   .choices = {}},
                  AggregateSpec()},
       .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
         auto b = Budget(p, "h2o", s);
         if (!b.ok()) return b.status();
         if (absl::Status st = CheckUnit(p, "h2o", "heavy_ratio"); !st.ok()) return st;
         return std::make_unique<H2oPolicy>(s, *b, p.GetFloat("heavy_ratio"),
                                            ParseAggregate(p.GetString("aggregate")));
       }},
      {.name = "tova",
       .description = "drop the positions the current query attends to least, averaged over heads",
       .paper = "arXiv:2401.06104",
       .params = {BudgetSpec(),
                  {.name = "scope",
                   .type = ParamType::kString,
                   .default_value = "layer",
                   .help =
                       "average over all heads of a layer (one plan per layer, the paper) or per "
                       "KV head",
                   .choices = {"layer", "head"}},
                  AggregateSpec()},
       .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
         auto b = Budget(p, "tova", s);
         if (!b.ok()) return b.status();
         return std::make_unique<TovaPolicy>(s, *b, p.GetString("scope") == "layer",
                                             ParseAggregate(p.GetString("aggregate")));
       }},
      {.name = "scissorhands",
       .description = "drop the positions most often below average attention over a history "
                      "window; recent protected",
       .paper = "arXiv:2305.17118",
       .params = {BudgetSpec(),
                  {.name = "history",
                   .type = ParamType::kInt,
                   .default_value = "32",
                   .help = "queries in the history window (1..64)",
                   .choices = {}},
                  {.name = "recent_ratio",
                   .type = ParamType::kFloat,
                   .default_value = "0.25",
                   .help = "share of the budget for the protected recent window",
                   .choices = {}},
                  AggregateSpec()},
       .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
         auto b = Budget(p, "scissorhands", s);
         if (!b.ok()) return b.status();
         const int history = p.GetInt("history");
         if (history < 1 || history > ScissorhandsPolicy::kMaxHistory) {
           return Invalid(p, "scissorhands", "history",
                          absl::StrCat("must be between 1 and ", ScissorhandsPolicy::kMaxHistory));
         }
         if (absl::Status st = CheckUnit(p, "scissorhands", "recent_ratio"); !st.ok()) return st;
         return std::make_unique<ScissorhandsPolicy>(s, *b, history, p.GetFloat("recent_ratio"),
                                                     ParseAggregate(p.GetString("aggregate")));
       }},
      {.name = "snapkv",
       .description = "one-shot after prefill: pooled attention of the last prompt queries, top-k "
                      "per head plus the window",
       .paper = "arXiv:2404.14469",
       .params = SnapKvSpecs(),
       .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
         auto o = SnapKvFromParams(p, "snapkv", s);
         if (!o.ok()) return o.status();
         return std::make_unique<SnapKvPolicy>(s, *o);
       }},
      {.name = "pyramidkv",
       .description = "SnapKV selection with per-layer budgets decreasing linearly with depth",
       .paper = "arXiv:2406.02069",
       .params =
           [] {
             std::vector<ParamSpec> v = SnapKvSpecs();
             v.push_back({.name = "beta",
                          .type = ParamType::kInt,
                          .default_value = "20",
                          .help = "the top layer gets (budget - window) / beta selected tokens",
                          .choices = {}});
             return v;
           }(),
       .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
         auto o = SnapKvFromParams(p, "pyramidkv", s);
         if (!o.ok()) return o.status();
         const int beta = p.GetInt("beta");
         if (beta < 1) return Invalid(p, "pyramidkv", "beta", "must be at least 1");
         return std::make_unique<PyramidKvPolicy>(s, *o, beta);
       }},
      {.name = "knorm",
       .description = "keep the keys with the lowest L2 norm",
       .paper = "arXiv:2406.11430",
       .params = {BudgetSpec()},
       .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
         auto b = Budget(p, "knorm", s);
         if (!b.ok()) return b.status();
         return std::make_unique<KnormPolicy>(s, *b);
       }},
      {.name = "adakv",
       .description = "one-shot SnapKV scores, one top-k across the heads of a layer with a floor "
                      "per head",
       .paper = "arXiv:2407.11550",
       .params =
           [] {
             std::vector<ParamSpec> v = SnapKvSpecs();
             v.push_back({.name = "floor_ratio",
                          .type = ParamType::kFloat,
                          .default_value = "0.2",
                          .help = "share of (budget - window) every head keeps by its own scores",
                          .choices = {}});
             return v;
           }(),
       .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
         auto o = SnapKvFromParams(p, "adakv", s);
         if (!o.ok()) return o.status();
         if (absl::Status st = CheckUnit(p, "adakv", "floor_ratio"); !st.ok()) return st;
         return std::make_unique<AdaKvPolicy>(s, *o, p.GetFloat("floor_ratio"));
       }},
  };
  for (PolicyInfo& info : t) info.params.push_back(PositionsSpec());
  return t;
}

// "name(k=v,...)" for a part that may not resolve.
std::string RawLabel(const std::string& name, const ParamMap& params) {
  if (params.empty()) return name;
  return absl::StrCat(name, "(", absl::StrJoin(params, ",", absl::PairFormatter("=")), ")");
}

std::string StoreLabel(const std::string& name, const ParamMap& given) {
  for (const StoreInfo& info : StoreRegistry()) {
    if (info.name != name) continue;
    auto parsed = Params::Parse(name, info.params, given);
    if (!parsed.ok()) break;
    const std::string text = parsed->ToString();
    return text.empty() ? name : absl::StrCat(name, "(", text, ")");
  }
  return RawLabel(name, given);
}

}  // namespace

const std::vector<PolicyInfo>& PolicyRegistry() {
  static const auto* const kPolicies = new std::vector<PolicyInfo>(BuildTable());
  return *kPolicies;
}

absl::StatusOr<const PolicyInfo*> FindPolicy(const std::string& name) {
  std::vector<std::string> names;
  for (const PolicyInfo& info : PolicyRegistry()) {
    if (info.name == name) return &info;
    names.push_back(info.name);
  }
  return absl::NotFoundError(
      absl::StrCat("unknown policy '", name, "'; valid: ", absl::StrJoin(names, ", ")));
}

std::string CacheSpec::Label() const {
  std::string policy_text = RawLabel(policy, policy_params);
  if (auto info = FindPolicy(policy); info.ok()) {
    if (auto parsed = Params::Parse(policy, (*info)->params, policy_params); parsed.ok()) {
      policy_text = absl::StrCat(policy, "(", parsed->ToString(), ")");
    }
  }
  return absl::StrCat(policy_text, " k=", StoreLabel(k_store, k_params),
                      " v=", StoreLabel(v_store, v_params));
}

absl::StatusOr<std::unique_ptr<PolicyCache>> MakeCache(const CacheSpec& spec,
                                                       const CacheShape& shape) {
  if (shape.n_layers < 1 || shape.n_heads < 1 || shape.n_kv_heads < 1 || shape.head_dim < 1 ||
      shape.n_heads % shape.n_kv_heads != 0 || shape.context_tokens < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cache shape: layers ", shape.n_layers, ", heads ", shape.n_heads, ", kv heads ",
        shape.n_kv_heads, ", head_dim ", shape.head_dim, ", context ", shape.context_tokens,
        " is not a valid geometry (heads must be a positive multiple of kv heads)"));
  }
  auto info = FindPolicy(spec.policy);
  if (!info.ok()) return info.status();
  auto params =
      Params::Parse(absl::StrCat("policy ", spec.policy), (*info)->params, spec.policy_params);
  if (!params.ok()) return params.status();
  auto policy = (*info)->make(*params, shape);
  if (!policy.ok()) return policy.status();
  auto k = MakeStore(spec.k_store, spec.k_params, KvRole::kKey, shape);
  if (!k.ok())
    return absl::Status(k.status().code(), absl::StrCat("k_store: ", k.status().message()));
  auto v = MakeStore(spec.v_store, spec.v_params, KvRole::kValue, shape);
  if (!v.ok())
    return absl::Status(v.status().code(), absl::StrCat("v_store: ", v.status().message()));
  const PositionMode positions =
      params->GetString("positions") == "cache" ? PositionMode::kCache : PositionMode::kOriginal;
  return std::make_unique<PolicyCache>(shape, *std::move(policy), *std::move(k), *std::move(v),
                                       positions);
}

}  // namespace kvbench
