// knorm: "A Simple and Effective L2 Norm-Based Strategy for KV Cache Compression" (Devoto et al.,
// arXiv:2406.11430): keys with a low L2 norm draw high attention, so keep the lowest-norm keys.
//   keep(p) <=> ||k_p||_2 among the `budget` smallest of its KV head
//
// Needs no attention scores: the norm is taken from the keys as they are appended (RoPE is a
// rotation, so the norm is the same before and after it). Decode steps evict after every step (a
// new token whose key norm is large may be evicted at once); a prefill block attends in full and is
// cut at its EndStep. Ties keep the older entry.
#ifndef KVBENCH_POLICIES_KNORM_H_
#define KVBENCH_POLICIES_KNORM_H_

#include <vector>

#include "policies/policy_info.h"
#include "policies/scored_policy.h"

namespace kvbench {

// The state is -||k||_2 per entry, which is also the score: its top-k are the smallest norms.
class KnormPolicy : public ScoredPolicy<float> {
 public:
  KnormPolicy(const CacheShape& shape, int budget)
      : ScoredPolicy(shape, budget, /*recent=*/0), head_dim_(shape.head_dim) {}

  PolicyTraits traits() const override { return {.budget = budget_}; }
  void OnAppend(int layer, int head, const float* keys, int n, int ld) override;

 private:
  absl::Span<const float> Scores(int layer, int head, int candidates,
                                 std::vector<float>* scratch) const override {
    return absl::MakeConstSpan(state_.at(layer, head).data(), candidates);
  }

  int head_dim_;
};

PolicyInfo KnormInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_KNORM_H_
