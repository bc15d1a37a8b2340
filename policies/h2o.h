// h2o: Heavy-Hitter Oracle (Zhang et al., arXiv:2306.14048): a few tokens receive most of the
// attention over time; keep them ("heavy hitters") plus the most recent tokens.
//   keep(p) <=> p among the newest `recent` || score(p) among the top `heavy` of the others
//   score(p) = attention p has received, summed over every query since it entered the cache
//
// heavy = round(heavy_ratio * budget), recent = budget - heavy (paper: 10% + 10% of the context,
// i.e. heavy_ratio 0.5 of the budget). Per KV head: a query token's contribution is the mean (or
// max) of its query group's probabilities. Decode steps evict after every step; a prefill block
// attends in full, its queries all add to the scores, and it is cut at its EndStep.
#ifndef KVBENCH_POLICIES_H2O_H_
#define KVBENCH_POLICIES_H2O_H_

#include <vector>

#include "policies/policy_info.h"
#include "policies/scored_policy.h"

namespace kvbench {

// The state is the accumulated attention per entry, which is also the score.
class H2oPolicy : public ScoredPolicy<float> {
 public:
  // 1 <= budget; 0 <= heavy_ratio <= 1 (H2oInfo checks).
  H2oPolicy(const CacheShape& shape, int budget, double heavy_ratio, Aggregate aggregate);

  PolicyTraits traits() const override { return {.budget = budget_, .aggregate = aggregate_}; }
  bool wants_attention() const override { return true; }
  void OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                   int ld) override;

 private:
  absl::Span<const float> Scores(int layer, int head, int candidates,
                                 std::vector<float>* scratch) const override;

  int group_;
  Aggregate aggregate_;
  std::vector<float> row_;  // scratch: one query token's aggregated probabilities
};

PolicyInfo H2oInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_H2O_H_
