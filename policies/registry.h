// The table of cache policies: name -> factory, with every parameter declared (name, type, default,
// help), and MakeCache, which joins a policy with a key store and a value store into the
// PolicyCache the decoder runs. `kvbench policies` prints this table; YAML `policy:` names resolve
// through it; the YAML name, the CSV `policy` column and the benchmark name are the same string.
//
// Every policy takes `positions` (original | cache: keep each key's original RoPE position, or
// re-rotate keys to contiguous positions within the cache as StreamingLLM does). Budgets are per KV
// head, as a token count ("64") or a ratio ("0.25", "25%") of the run's context (of the prompt for
// one-shot policies, which compress only the prompt).
//
// Decode-time policies (window, sinks, h2o, tova, scissorhands) hold at most their budget after
// every step. Within a prefill block every token attends to the whole block (and the cache); the
// block is compressed at its EndStep. One-shot policies (snapkv, pyramidkv, adakv, ...) compress
// the prompt once, at the end of the first step, and keep every token decoded afterwards; so do
// knorm, observed_attention, keydiff and random by default (`when=once`, as kvpress's presses).
//
// Adding a policy: one header/source pair (policies/<name>.h) that declares its PolicyInfo
// (parameters, defaults, checks, factory; policy_info.h) and one line in registry.cc's list.
#ifndef KVBENCH_POLICIES_REGISTRY_H_
#define KVBENCH_POLICIES_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/params.h"
#include "model/cache_shape.h"
#include "policies/eviction_schedule.h"
#include "policies/policy_cache.h"
#include "policies/policy_info.h"

namespace kvbench {

// Every policy, in listing order, each with `positions` added to its parameters.
const std::vector<PolicyInfo>& PolicyRegistry();

// The PolicyInfo named `name`, or NotFound listing the valid names.
absl::StatusOr<const PolicyInfo*> FindPolicy(const std::string& name);

// What a run's cache is: policy and the two stores, each with its parameters as given.
struct CacheSpec {
  std::string policy = "full";
  ParamMap policy_params;
  std::string k_store = "f32";
  ParamMap k_params;
  std::string v_store = "f32";
  ParamMap v_params;

  // Canonical text: every parameter with defaults filled in, sorted, e.g.
  // "h2o(aggregate=mean,budget=64,heavy_ratio=0.5,positions=original,when=every_step) k=f32 v=f32".
  // A part whose name or parameters do not resolve is printed as given.
  std::string Label() const;
};

// Every check of `spec` that needs no model: the policy and store names, each parameter's type,
// choices and range, and the policy's own checks (heavy_ratio in [0, 1], a budget that fits the
// context, n_sink below the budget, ...) for a run of `context_tokens` whose first step is
// `prompt_tokens` (0: not known). The experiment reader runs it on every sweep point, so a value
// that cannot run is an error with its line before the first case; MakeCache's own checks add
// only what depends on the model's geometry (a store's head_dim). Errors as MakeCache's.
absl::Status CheckCacheSpec(const CacheSpec& spec, int context_tokens, int prompt_tokens);

// Resolves the policy (NotFound listing valid names), parses its parameters (InvalidArgument naming
// the parameter: unknown, malformed, out of range, budget beyond the context), builds both stores
// (MakeStore) and the PolicyCache, which names itself by spec.Label() in its messages.
absl::StatusOr<std::unique_ptr<PolicyCache>> MakeCache(const CacheSpec& spec,
                                                       const CacheShape& shape);

// The schedule of a policy's parsed `when` (policies/eviction_schedule.h); every step for full and
// none, which take none. InvalidArgument for a malformed value, or anything but once for a one-shot
// policy. MakeCache's caches follow it; a tool that drives a policy itself (sim/replay.cc) must
// too.
absl::StatusOr<EvictionSchedule> EvictionScheduleOf(const PolicyInfo& info, const Params& params);

// For tests only: a policy of the test's own (one that fails on purpose, say) is in the registry
// while this lives, with `positions` and `when` added as for every policy. Not thread-safe: make
// it before the code under test looks policies up.
class ScopedTestPolicy {
 public:
  explicit ScopedTestPolicy(PolicyInfo info);
  ~ScopedTestPolicy();
  ScopedTestPolicy(const ScopedTestPolicy&) = delete;
  ScopedTestPolicy& operator=(const ScopedTestPolicy&) = delete;

 private:
  std::string name_;
};

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_REGISTRY_H_
