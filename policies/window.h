// window: sliding-window attention as a cache policy, the simplest eviction baseline (Beltagy et
// al., Longformer, arXiv:2004.05150; the "window attention" baseline of StreamingLLM, 2309.17453).
//   keep(p) <=> p > newest - budget
//
// Decode steps keep the newest `budget` entries after every step. A prefill block attends in full
// (every token of the block sees the whole block and the cache) and is cut to the window at its
// EndStep.
#ifndef KVBENCH_POLICIES_WINDOW_H_
#define KVBENCH_POLICIES_WINDOW_H_

#include "policies/cache_policy.h"
#include "policies/policy_info.h"

namespace kvbench {

class WindowPolicy : public CachePolicy {
 public:
  explicit WindowPolicy(int budget) : budget_(budget) {}

  PolicyTraits traits() const override { return {.budget = budget_}; }
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override;
  int64_t max_entries(int layer) const override { return budget_; }

 private:
  int budget_;  // entries per KV head, >= 1
};

PolicyInfo WindowInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_WINDOW_H_
