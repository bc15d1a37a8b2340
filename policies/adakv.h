// adakv: "Ada-KV: Optimizing KV Cache Eviction by Adaptive Budget Allocation" (Feng et al.,
// arXiv:2407.11550): heads differ in how concentrated their attention is, so share a layer's budget
// among its heads by one top-k over all of them, with a floor per head as a safeguard.
//   keep(p in head h) <=> p in the last `window` prompt tokens
//                         || pool(s_h)(p) among the top `floor` of head h
//                         || pool(s_h)(p) among the top (budget - window) * n_kv_heads - taken
//                            of all heads of the layer together
//   floor = floor(floor_ratio * (budget - window))            (the paper's alpha = 0.2)
// Scores are SnapKV's (Ada-SnapKV, the paper's main variant); compared across heads as they are
// (softmax probabilities share a scale). The layer holds at most budget * n_kv_heads entries; a
// single head may hold more than `budget`. One-shot at the end of prefill, then full, like snapkv.
// Each head's plan comes from the whole layer's scores, which every head recomputes (SelectKeep
// plans without keeping state; it runs once per prompt).
#ifndef KVBENCH_POLICIES_ADAKV_H_
#define KVBENCH_POLICIES_ADAKV_H_

#include <cstdint>
#include <vector>

#include "policies/policy_info.h"
#include "policies/snapkv.h"

namespace kvbench {

class AdaKvPolicy : public SnapKvPolicy {
 public:
  // 0 <= floor_ratio <= 1 (AdaKvInfo checks).
  AdaKvPolicy(const CacheShape& shape, const SnapKvOptions& options, double floor_ratio);

  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override;
  int64_t max_entries(int layer) const override;
  int64_t max_layer_entries(int layer) const override;

 private:
  int floor_;  // prompt entries each head keeps by its own scores
};

PolicyInfo AdaKvInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_ADAKV_H_
