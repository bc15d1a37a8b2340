// scissorhands: "Scissorhands: Exploiting the Persistence of Importance Hypothesis for LLM KV Cache
// Compression at Test Time" (Liu et al., arXiv:2305.17118): a token that was unimportant over the
// recent queries stays unimportant, so drop the tokens most often unimportant in a history window.
//   keep(p) <=> p among the newest `recent` || I(p) among the (budget - recent) smallest of the
//   rest I(p) = number of the last `history` queries whose attention on p was below 1/t
//          (t = entries that query saw: below the average share, "unimportant")
//
// Per KV head, a query token's attention is the mean (or max) of its query group. The paper drops a
// fixed amount m once the cache is full; here m is the overflow, so the cache holds exactly
// `budget` after every step and compares with the other policies at equal budget. Ties keep the
// older entry. recent = round(recent_ratio * budget). A prefill block attends in full, each of its
// queries counts, and it is cut at its EndStep. History is at most 64 queries (one bit each).
#ifndef KVBENCH_POLICIES_SCISSORHANDS_H_
#define KVBENCH_POLICIES_SCISSORHANDS_H_

#include <cstdint>
#include <vector>

#include "policies/policy_info.h"
#include "policies/scored_policy.h"

namespace kvbench {

// The state is a history of bits per entry: bit i set <=> the i-th most recent query found the
// entry unimportant. The score is -I(p).
class ScissorhandsPolicy : public ScoredPolicy<uint64_t> {
 public:
  static constexpr int kMaxHistory = 64;

  // 1 <= history <= kMaxHistory, 0 <= recent_ratio <= 1 (ScissorhandsInfo checks).
  ScissorhandsPolicy(const CacheShape& shape, int budget, int history, double recent_ratio,
                     Aggregate aggregate);

  PolicyTraits traits() const override { return {.budget = budget_, .aggregate = aggregate_}; }
  bool wants_attention() const override { return true; }
  void BeginStep(int pos0, int n_tokens) override { n_tokens_ = n_tokens; }
  void OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                   int ld) override;

 private:
  absl::Span<const float> Scores(int layer, int head, int candidates,
                                 std::vector<float>* scratch) const override;

  int group_;
  uint64_t history_mask_;  // the last `history` bits
  Aggregate aggregate_;
  int n_tokens_ = 0;
  std::vector<float> row_;  // scratch: one query token's aggregated probabilities
};

PolicyInfo ScissorhandsInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_SCISSORHANDS_H_
