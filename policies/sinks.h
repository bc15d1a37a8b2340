// sinks: StreamingLLM (Xiao et al., "Efficient Streaming Language Models with Attention Sinks",
// arXiv:2309.17453): the first tokens absorb attention mass whatever their content ("attention
// sinks"), so keeping them beside a recent window stabilises a windowed cache.
//   keep(p) <=> p < n_sink || p > newest - (budget - n_sink)
//
// The paper re-assigns positions within the cache (keys re-rotated, `positions=cache`); the
// registry's default keeps original positions like most implementations, and records the choice.
// A prefill block attends in full and is cut at its EndStep, like every decode-time policy.
#ifndef KVBENCH_POLICIES_SINKS_H_
#define KVBENCH_POLICIES_SINKS_H_

#include "policies/cache_policy.h"
#include "policies/policy_info.h"

namespace kvbench {

class SinksPolicy : public CachePolicy {
 public:
  // 0 <= n_sink < budget (SinksInfo checks).
  SinksPolicy(int budget, int n_sink) : budget_(budget), n_sink_(n_sink) {}

  PolicyTraits traits() const override { return {.budget = budget_}; }
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override;
  int64_t max_entries(int layer) const override { return budget_; }

 private:
  int budget_;  // entries per KV head: sinks + recent
  int n_sink_;  // first positions never evicted
};

PolicyInfo SinksInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_SINKS_H_
