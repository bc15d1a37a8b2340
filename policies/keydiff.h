// keydiff: "KeyDiff: Key Similarity-Based KV Cache Eviction for Long-Context LLM Inference in
// Resource-Constrained Environments" (Park et al., arXiv:2504.15364; kvpress KeyDiffPress): keys
// that point away from the average key carry the distinctive information, so keep them.
//   keep(p) <=> -cos(k_p, a) among the `budget` largest of its KV head,  a = mean_q k_q / ||k_q||
//
// The anchor a is the mean of the unit keys of the KV head's current entries, as kvpress computes
// it at compression (the paper's block-wise iteration is kvpress's BlockPress around it). Needs no
// attention and keeps no copy of the keys: the cache hands it the K store's rows when it plans
// (plans_from_stored_keys), as KeyDiffPress scores the cached keys (on a quantized K store, the
// dequantized ones). What stays between plans is each kept entry's score at the last plan (one
// float, for EntryScores; counted in metadata_bytes), not the unit keys (head_dim floats per
// entry, 1.5x an f32 K+V payload, before issue 16). By default (when=once) it acts once, after
// the prompt; ties keep the older entry.
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
  bool plans_from_stored_keys() const override { return true; }
  void OnStoredKeys(int layer, int head, const float* keys, int n) override;
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
  // (layers * kv_heads) -> (entries): the scores of OnStoredKeys, compacted by OnKeep; entries
  // appended since have none (EntryScores then reports none).
  std::vector<std::vector<float>> scores_;
  std::vector<float> unit_;  // scratch of OnStoredKeys: (entries, head_dim)
};

PolicyInfo KeyDiffInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_KEYDIFF_H_
