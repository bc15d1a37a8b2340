// observed_attention: the attention each entry has received, averaged over the queries that could
// see it (kvpress ObservedAttentionPress, its leaderboard's form of H2O, arXiv:2306.14048).
//   keep(p) <=> s(p) among the `budget` largest of its KV head,
//   s(p) = (sum over queries t >= p of a_t(p)) / (number of those queries)
//
// h2o keeps the unnormalised sum, which favours old entries (position 0 is seen by every query);
// dividing by the number of queries that saw an entry, n_past - p, removes that bias, as kvpress
// does. a_t(p) per KV head is the mean (or max) of its query group's probabilities; kvpress
// divides each query head's sum and then averages the group, the same up to float rounding. No
// recent window (kvpress has none). Decode steps evict after every step; a prefill block attends
// in full and is cut at its EndStep, which equals kvpress's one compression after prefill. Ties
// keep the older entry.
#ifndef KVBENCH_POLICIES_OBSERVED_ATTENTION_H_
#define KVBENCH_POLICIES_OBSERVED_ATTENTION_H_

#include <cstdint>
#include <vector>

#include "policies/policy_info.h"
#include "policies/scored_policy.h"

namespace kvbench {

struct ObservedAttention {
  float sum = 0.0f;      // attention received, summed over the queries since the entry came
  int32_t position = 0;  // the entry's absolute position: n_past - position queries have seen it
};

class ObservedAttentionPolicy : public ScoredPolicy<ObservedAttention> {
 public:
  ObservedAttentionPolicy(const CacheShape& shape, int budget, Aggregate aggregate)
      : ScoredPolicy(shape, budget, /*recent=*/0),
        group_(shape.group_size()),
        aggregate_(aggregate) {}

  PolicyTraits traits() const override { return {.budget = budget_, .aggregate = aggregate_}; }
  bool wants_attention() const override { return true; }
  void BeginStep(int pos0, int n_tokens) override;
  void OnAppend(int layer, int head, const float* keys, int n, int ld) override;
  void OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                   int ld) override;

 private:
  absl::Span<const float> Scores(int layer, int head, int candidates,
                                 std::vector<float>* scratch) const override;

  int group_;
  Aggregate aggregate_;
  int pos0_ = 0;
  int n_past_ = 0;          // tokens seen once this step's are in
  std::vector<float> row_;  // scratch: one query token's aggregated probabilities
};

PolicyInfo ObservedAttentionInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_OBSERVED_ATTENTION_H_
