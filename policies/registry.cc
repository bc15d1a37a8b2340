#include "policies/registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"
#include "base/status.h"
#include "policies/adakv.h"
#include "policies/chunkkv.h"
#include "policies/eviction_schedule.h"
#include "policies/expected_attention.h"
#include "policies/full.h"
#include "policies/h2o.h"
#include "policies/keydiff.h"
#include "policies/knorm.h"
#include "policies/lagkv.h"
#include "policies/none.h"
#include "policies/observed_attention.h"
#include "policies/pyramidkv.h"
#include "policies/random.h"
#include "policies/scissorhands.h"
#include "policies/sinks.h"
#include "policies/snapkv.h"
#include "policies/tova.h"
#include "policies/window.h"
#include "stores/store_registry.h"

namespace kvbench {
namespace {

ParamSpec PositionsSpec() {
  return {.name = "positions",
          .type = ParamType::kString,
          .default_value = "original",
          .help =
              "RoPE positions of kept keys: original, or re-rotated to positions within the cache "
              "(StreamingLLM)",
          .choices = {"original", "cache"}};
}

// `when` (policies/eviction_schedule.h), for every policy that evicts: its default is what its
// source does (once for the one-shot ones and the kvpress presses that compress after prefill,
// every step for the decode-time ones).
ParamSpec WhenSpec(const PolicyInfo& info) {
  const std::string default_when =
      !info.default_when.empty() ? info.default_when : (info.one_shot ? "once" : "every_step");
  return {.name = "when",
          .type = ParamType::kString,
          .default_value = default_when,
          .help = info.one_shot
                      ? "when the cache evicts: once (the prompt; a one-shot policy scores "
                        "nothing else)"
                      : "when the cache evicts: every_step, once (after the prompt, as kvpress), "
                        "every:N decode steps back to the budget, or decoding:N (the same "
                        "without compressing the prompt)",
          .choices = {}};
}

// Every policy runs in a PolicyCache, which re-rotates keys on request.
void AddCommonParams(PolicyInfo* info) {
  info->params.push_back(PositionsSpec());
  if (info->name != "full" && info->name != "none") info->params.push_back(WhenSpec(*info));
}

std::vector<PolicyInfo> BuildTable() {
  std::vector<PolicyInfo> t = {FullInfo(),
                               NoneInfo(),
                               WindowInfo(),
                               SinksInfo(),
                               H2oInfo(),
                               TovaInfo(),
                               ScissorhandsInfo(),
                               SnapKvInfo(),
                               PyramidKvInfo(),
                               KnormInfo(),
                               AdaKvInfo(),
                               RandomInfo(),
                               KeyDiffInfo(),
                               ObservedAttentionInfo(),
                               ExpectedAttentionInfo(),
                               LagKvInfo(),
                               ChunkKvInfo()};
  for (PolicyInfo& info : t) AddCommonParams(&info);
  return t;
}

std::vector<PolicyInfo>& MutablePolicyRegistry() {
  static auto* const kPolicies = new std::vector<PolicyInfo>(BuildTable());
  return *kPolicies;
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

const std::vector<PolicyInfo>& PolicyRegistry() { return MutablePolicyRegistry(); }

ScopedTestPolicy::ScopedTestPolicy(PolicyInfo info) : name_(info.name) {
  KVBENCH_CHECK(!FindPolicy(name_).ok(), "policy '%s' is registered already", name_.c_str());
  AddCommonParams(&info);
  MutablePolicyRegistry().push_back(std::move(info));
}

ScopedTestPolicy::~ScopedTestPolicy() {
  std::vector<PolicyInfo>& t = MutablePolicyRegistry();
  t.erase(std::remove_if(t.begin(), t.end(),
                         [&](const PolicyInfo& info) { return info.name == name_; }),
          t.end());
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

absl::StatusOr<EvictionSchedule> EvictionScheduleOf(const PolicyInfo& info, const Params& params) {
  if (!params.values().contains("when")) return EvictionSchedule{};
  const std::string& when = params.GetString("when");
  absl::StatusOr<EvictionSchedule> schedule = ParseEvictionSchedule(when);
  if (!schedule.ok()) return Annotate(schedule.status(), absl::StrCat("policy ", info.name));
  if (info.one_shot && (schedule->interval != 0 || !schedule->prompt)) {
    return InvalidParam(params, info.name, "when",
                        "must be once: the policy scores the prompt only (one-shot)");
  }
  return schedule;
}

absl::Status CheckCacheSpec(const CacheSpec& spec, int context_tokens, int prompt_tokens) {
  ASSIGN_OR_RETURN(const PolicyInfo* info, FindPolicy(spec.policy));
  ASSIGN_OR_RETURN(const Params params, Params::Parse(absl::StrCat("policy ", spec.policy),
                                                      info->params, spec.policy_params));
  RETURN_IF_ERROR(EvictionScheduleOf(*info, params).status());
  // The factories' checks read only the shape's token counts; the smallest geometry keeps the
  // probe's allocations tiny (the policy built here is dropped).
  const CacheShape probe{.n_layers = 1,
                         .n_heads = 1,
                         .n_kv_heads = 1,
                         .head_dim = 2,
                         .rope_dims = 2,
                         .context_tokens = context_tokens,
                         .prompt_tokens = prompt_tokens};
  RETURN_IF_ERROR(info->make(params, probe).status());
  if (absl::Status s = CheckStoreValues(spec.k_store, spec.k_params); !s.ok()) {
    return Annotate(s, "k_store");
  }
  if (absl::Status s = CheckStoreValues(spec.v_store, spec.v_params); !s.ok()) {
    return Annotate(s, "v_store");
  }
  return absl::OkStatus();
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
  ASSIGN_OR_RETURN(const PolicyInfo* info, FindPolicy(spec.policy));
  if (spec.policy == "expected_attention" && shape.sliding_rope_theta > 0.0f) {
    // It rotates its query statistics by one RoPE table for every layer.
    return absl::InvalidArgumentError(
        "policy expected_attention: a model whose sliding layers have their own RoPE (Gemma-3) "
        "is not supported");
  }
  ASSIGN_OR_RETURN(const Params params, Params::Parse(absl::StrCat("policy ", spec.policy),
                                                      info->params, spec.policy_params));
  ASSIGN_OR_RETURN(std::unique_ptr<CachePolicy> policy, info->make(params, shape));
  ASSIGN_OR_RETURN(const EvictionSchedule schedule, EvictionScheduleOf(*info, params));
  auto k = MakeStore(spec.k_store, spec.k_params, KvRole::kKey, shape);
  if (!k.ok()) return Annotate(k.status(), "k_store");
  auto v = MakeStore(spec.v_store, spec.v_params, KvRole::kValue, shape);
  if (!v.ok()) return Annotate(v.status(), "v_store");
  const PositionMode positions =
      params.GetString("positions") == "cache" ? PositionMode::kCache : PositionMode::kOriginal;
  return std::make_unique<PolicyCache>(
      shape, std::move(policy), *std::move(k), *std::move(v),
      PolicyCacheOptions{.positions = positions, .schedule = schedule, .label = spec.Label()});
}

}  // namespace kvbench
