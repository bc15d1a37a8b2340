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

#include "policies/cache_policy.h"
#include "policies/score_utils.h"

namespace kvbench {

class H2oPolicy : public CachePolicy {
 public:
  // 1 <= budget; 0 <= heavy_ratio <= 1 (the registry checks).
  H2oPolicy(const CacheShape& shape, int budget, double heavy_ratio, Aggregate aggregate);

  std::string name() const override;
  bool wants_attention() const override { return true; }
  void OnAppend(int layer, int head, const float* keys, int n, int ld) override;
  void OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                   int ld) override;
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) override;
  uint64_t metadata_bytes(int layer) const override { return score_.bytes(layer); }
  int64_t max_entries(int layer) const override { return budget_; }

 private:
  int group_;
  int budget_;
  int heavy_;  // top-scored entries kept outside the recent window
  double heavy_ratio_;
  Aggregate aggregate_;
  PerEntry<float> score_;   // accumulated attention per entry
  std::vector<float> row_;  // scratch: one query token's aggregated probabilities
};

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_H2O_H_
