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

#include "policies/cache_policy.h"
#include "policies/score_utils.h"

namespace kvbench {

class ScissorhandsPolicy : public CachePolicy {
 public:
  static constexpr int kMaxHistory = 64;

  // 1 <= history <= kMaxHistory, 0 <= recent_ratio <= 1 (the registry checks).
  ScissorhandsPolicy(const CacheShape& shape, int budget, int history, double recent_ratio,
                     Aggregate aggregate);

  std::string name() const override;
  bool wants_attention() const override { return true; }
  void BeginStep(int pos0, int n_tokens) override { n_tokens_ = n_tokens; }
  void OnAppend(int layer, int head, const float* keys, int n, int ld) override;
  void OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                   int ld) override;
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) override;
  uint64_t metadata_bytes(int layer) const override { return low_.bytes(layer); }
  int64_t max_entries(int layer) const override { return budget_; }

 private:
  int group_;
  int budget_;
  int history_;
  int recent_;
  double recent_ratio_;
  Aggregate aggregate_;
  int n_tokens_ = 0;
  // Bit i set <=> the i-th most recent query found the entry unimportant.
  PerEntry<uint64_t> low_;
  std::vector<float> row_;
  std::vector<float> neg_count_;
};

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_SCISSORHANDS_H_
