// lagkv: "LagKV: Lag-Relative Information of the KV Cache Tells Which Tokens Are Important"
// (Liang et al., arXiv:2504.04704; kvpress LagKVPress): score each partition of `lag` tokens by how
// far its keys and values stray from the range of the next partition, without attention.
//   keep(p) <=> p < n_sink || p in the tail || rank_P(p) / lag among the top (budget - kept ones)
//   s(p) = (softmax_P std_c((k_pc - min_c K_P+1) / (max_c K_P+1 - min_c K_P+1))
//           + the same over values) / 2,   rank_P(p): the rank of s(p) within its partition P
//
// The prompt after the n_sink sinks is cut into partitions of `lag` tokens; each but the last is
// scored against its successor (min and max per channel over the successor's tokens; std over
// channels, unbiased, as torch.std); the last partition and the remainder after it (the tail) and
// the sinks score 1, so they are kept first. Scores are ranks within a partition, so partitions
// tie rank for rank: ties keep the older entry (kvpress: torch.topk's order). A prompt shorter than
// n_sink + 2 lag is not partitioned: the sinks score 1 and the rest i / (n - n_sink), i.e. sinks
// plus the newest, as kvpress. One-shot at the end of prefill, like kvpress: a ratio budget is of
// the prompt, decoded tokens are all kept.
#ifndef KVBENCH_POLICIES_LAGKV_H_
#define KVBENCH_POLICIES_LAGKV_H_

#include <cstdint>
#include <vector>

#include "policies/cache_policy.h"
#include "policies/policy_info.h"

namespace kvbench {

class LagKvPolicy : public CachePolicy {
 public:
  LagKvPolicy(const CacheShape& shape, int budget, int n_sink, int lag);

  PolicyTraits traits() const override { return {.budget = budget_}; }
  // Values are needed (OnValues); queries are not read.
  bool wants_queries() const override { return step_ == 1; }
  void BeginStep(int pos0, int n_tokens) override;
  void OnAppend(int layer, int head, const float* keys, int n, int ld) override;
  void OnValues(int layer, int head, const float* values, int n, int ld) override;
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override;
  void EndStep() override;
  uint64_t metadata_bytes(int layer) const override;
  int64_t max_entries(int layer) const override;

  // kvpress's score of each of the n rows (n, head_dim) of keys and values.
  static std::vector<float> Scores(const float* keys, const float* values, int n, int head_dim,
                                   int n_sink, int lag);

 private:
  int n_kv_heads_;
  int head_dim_;
  int budget_;
  int n_sink_;
  int lag_;
  int step_ = 0;
  int prompt_len_ = 0;
  int n_past_ = 0;
  // Prefill only: (layers * kv_heads) -> (entries, head_dim).
  std::vector<std::vector<float>> keys_, values_;
};

PolicyInfo LagKvInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_LAGKV_H_
