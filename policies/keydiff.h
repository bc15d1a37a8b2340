// keydiff: "KeyDiff: Key Similarity-Based KV Cache Eviction for Long-Context LLM Inference in
// Resource-Constrained Environments" (Park et al., arXiv:2504.15364; kvpress KeyDiffPress): keys
// that point away from the average key carry the distinctive information, so keep them.
//   keep(p) <=> -cos(k_p, a) among the `budget` largest of its KV head,  a = mean_q k_q / ||k_q||
//
// The anchor a is the mean of the unit keys of the KV head's current entries, as kvpress computes
// it at compression (the paper's block-wise iteration is kvpress's BlockPress around it). Needs no
// attention: the policy keeps each entry's unit key (head_dim floats) to recompute the anchor when
// the cache is over budget. Like knorm, a decode step evicts after every step; a prefill block
// attends in full and is cut at its EndStep. Ties keep the older entry.
#ifndef KVBENCH_POLICIES_KEYDIFF_H_
#define KVBENCH_POLICIES_KEYDIFF_H_

#include <cstdint>
#include <vector>

#include "policies/cache_policy.h"
#include "policies/policy_info.h"

namespace kvbench {

class KeyDiffPolicy : public CachePolicy {
 public:
  KeyDiffPolicy(const CacheShape& shape, int budget);

  PolicyTraits traits() const override { return {.budget = budget_}; }
  void OnAppend(int layer, int head, const float* keys, int n, int ld) override;
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override;
  void OnKeep(int layer, int head, absl::Span<const int> keep) override;
  bool EntryScores(int layer, int head, std::vector<float>* out) const override;
  uint64_t metadata_bytes(int layer) const override;
  int64_t max_entries(int layer) const override { return budget_; }

  // -cos(k_j, anchor) of each of the n unit keys (n, head_dim), row-major.
  static void Scores(const float* unit_keys, int n, int head_dim, std::vector<float>* out);

 private:
  int n_kv_heads_;
  int head_dim_;
  int budget_;
  std::vector<std::vector<float>> unit_keys_;  // (layers * kv_heads) -> (entries, head_dim)
  mutable std::vector<float> scores_;          // scratch of SelectKeep
};

PolicyInfo KeyDiffInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_KEYDIFF_H_
