// pyramidkv: "PyramidKV: Dynamic KV Cache Compression based on Pyramidal Information Funneling"
// (Cai et al., arXiv:2406.02069): lower layers spread attention widely, upper layers focus, so give
// lower layers more of the budget. SnapKV's selection with a per-layer budget:
//   keep(p in layer l) <=> p in the last `window` prompt tokens || pool(s)(p) among the top k_l
// How k_l is set (`alloc`), each after its source:
//   factory (default; KVCache-Factory's pyramidkv_utils.py PyramidKVCluster, the authors' code):
//     base = budget - window; prompt n <= budget: nothing evicted; n < 2 base: SnapKV's uniform
//     k_l = base (the short-prompt fallback); else
//     k_max = 2 base - k_min,  k_min = base / beta,                    (integer division)
//     if k_max >= n - window: k_max = n - window, k_min = 2 base - k_max  (keeps the mean)
//     k_l = k_max - l * ((k_max - k_min) / (L - 1))
//   kvpress (kvpress PyramidKVPress.get_layer_budget, at 8bb29b9): the layer keeps n_l entries,
//     window included, in floats: min = budget / beta, max = 2 budget - min; if max >= n - window:
//     max = n - window, min = 2 budget - max; unless n >= max >= min >= window (else the uniform
//     round(budget), kvpress's SnapKV fallback), n_l = round(max - l (max - min) / (L - 1)),
//     k_l = n_l - window. (kvpress's budget is n (1 - compression_ratio): give budget = that.)
//   kvbench (the rule before issue 16): factory's steps without the n < 2 base fallback.
// The layers average about `budget` entries per KV head (integer steps round a little up). One-shot
// at the end of prefill, then full, like snapkv.
#ifndef KVBENCH_POLICIES_PYRAMIDKV_H_
#define KVBENCH_POLICIES_PYRAMIDKV_H_

#include "policies/snapkv.h"

namespace kvbench {

class PyramidKvPolicy : public SnapKvPolicy {
 public:
  // beta >= 1 (PyramidKvInfo checks).
  enum class Alloc { kFactory, kKvpress, kKvbench };
  PyramidKvPolicy(const CacheShape& shape, const SnapKvOptions& options, int beta, Alloc alloc)
      : SnapKvPolicy(shape, options), beta_(beta), alloc_(alloc) {}

 protected:
  int PrefixBudget(int layer, int prompt_len) const override;

 private:
  int beta_;
  Alloc alloc_;
};

PolicyInfo PyramidKvInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_PYRAMIDKV_H_
