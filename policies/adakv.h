// adakv: "Ada-KV: Optimizing KV Cache Eviction by Adaptive Budget Allocation" (Feng et al.,
// arXiv:2407.11550): heads differ in how concentrated their attention is, so share a layer's budget
// among its heads by one top-k over all of them, with a floor per head as a safeguard.
//   base = budget - window, floor = floor(floor_ratio * base)       (the paper's alpha = 0.2)
// How the layer's heads * base prompt entries are shared (`alloc`), each after its source:
//   kvpress (default; kvpress AdaKVPress at 8bb29b9: floor first, then one top-k):
//     keep(p in head h) <=> p in the last `window` prompt tokens
//                           || pool(s_h)(p) among the top `floor` of head h
//                           || pool(s_h)(p) among the top heads * base - taken of all heads
//     (kvpress counts its safeguard int(alpha * budget) with the window inside, and SnapKV scores
//     the window on top, so its prompt floor is max(0, int(alpha * budget) - window):
//     floor_ratio=0 reproduces it while alpha * budget <= window; docs/policies.md)
//   paper (the authors' code, FFY0/AdaKV adaptive_snapkv/monkeypatch/snapkv_utils.py,
//     AdaptiveSnapKVCluster.update_kv): c_h = how many of the layer's top heads * base scores
//     head h holds; head h keeps its own top round(c_h (1 - floor_ratio) + floor) (torch.round,
//     half to even) plus the window. The rounding may give the layer up to heads / 2 entries
//     more or fewer than heads * budget.
// Scores are SnapKV's (Ada-SnapKV, the paper's main variant); compared across heads as they are
// (softmax probabilities share a scale). A single head may hold more than `budget`. One-shot at
// the end of prefill, then full, like snapkv. Each head's plan comes from the whole layer's scores,
// which every head recomputes (SelectKeep plans without keeping state; it runs once per prompt).
#ifndef KVBENCH_POLICIES_ADAKV_H_
#define KVBENCH_POLICIES_ADAKV_H_

#include <cstdint>
#include <vector>

#include "policies/policy_info.h"
#include "policies/snapkv.h"

namespace kvbench {

class AdaKvPolicy : public SnapKvPolicy {
 public:
  enum class Alloc { kKvpress, kPaper };
  // 0 <= floor_ratio <= 1 (AdaKvInfo checks).
  AdaKvPolicy(const CacheShape& shape, const SnapKvOptions& options, double floor_ratio,
              Alloc alloc);

  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override;
  int64_t max_entries(int layer) const override;
  int64_t max_layer_entries(int layer) const override;

 private:
  // kPaper: head h's prompt entries, from the layer's scores (heads, n - window).
  int PaperCapacity(int head, const std::vector<float>& flat, int prefix) const;

  double floor_ratio_;
  Alloc alloc_;
  int floor_;  // prompt entries each head keeps by its own scores (kPaper: the floor capacity)
};

PolicyInfo AdaKvInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_ADAKV_H_
