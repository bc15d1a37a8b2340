// What a policy declares about itself for the registry (registry.h): its name, one line on what it
// keeps, its paper, every parameter (name, type, default, help) and a factory that checks the
// parsed values. Each policy's file defines its own PolicyInfo; the specs and checks that several
// policies share (budget, aggregate) live here.
//
// Error messages name the policy and the parameter as given:
//   "policy h2o: parameter 'heavy_ratio' = 1.5 must be between 0 and 1"
#ifndef KVBENCH_POLICIES_POLICY_INFO_H_
#define KVBENCH_POLICIES_POLICY_INFO_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/params.h"
#include "model/cache_shape.h"
#include "policies/cache_policy.h"

namespace kvbench {

using PolicyOr = absl::StatusOr<std::unique_ptr<CachePolicy>>;

struct PolicyInfo {
  std::string name;
  std::string description;  // one line: what it keeps
  std::string paper;        // arXiv id or reference, empty for baselines
  // Compresses the prompt (the run's first step) once and keeps every token decoded after it;
  // false for decode-time policies, which hold their budget after every step.
  bool one_shot = false;
  // `when`'s default (policies/eviction_schedule.h) when it is not the kind's: "once" for a
  // decode-time policy whose source compresses once after prefill (the kvpress presses knorm,
  // keydiff, observed_attention, random). Empty: once for one-shot policies, else every_step.
  std::string default_when;
  std::vector<ParamSpec> params;  // `positions` included once listed in the registry
  std::function<PolicyOr(const Params&, const CacheShape&)> make;
};

// `budget`: entries kept per KV head, as tokens or a ratio of the context (required).
ParamSpec BudgetSpec();
// `aggregate`: mean | max, how a KV head combines its query group's attention.
ParamSpec AggregateSpec();

// InvalidArgument "policy <policy>: parameter '<param>' = <value> <problem>".
absl::Status InvalidParam(const Params& p, const std::string& policy, const std::string& param,
                          const std::string& problem);

// The budget in tokens of a one-shot policy, which compresses only the prompt (the run's first
// step): a ratio is a fraction of the prompt, as kvpress's compression ratio is of the context it
// compresses, and a budget that keeps the whole prompt is an error (it evicts nothing; before,
// snapkv(budget=0.5) with a 384-token context and a 128-token prompt silently compressed nothing).
// Without a known prompt (shape.prompt_tokens 0) it is CheckedBudget.
absl::StatusOr<int> CheckedPromptBudget(const Params& p, const std::string& policy,
                                        const CacheShape& shape);

// The budget in tokens, checked: at least one token, a ratio needs a known context, and no more
// than the context (nothing would be evicted: `full` says that). Under `when=once` the policy
// compresses only the prompt, so the budget is CheckedPromptBudget's.
absl::StatusOr<int> CheckedBudget(const Params& p, const std::string& policy,
                                  const CacheShape& shape);

// OK when the float parameter `param` lies in [0, 1].
absl::Status CheckUnitInterval(const Params& p, const std::string& policy,
                               const std::string& param);

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_POLICY_INFO_H_
