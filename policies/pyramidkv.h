// pyramidkv: "PyramidKV: Dynamic KV Cache Compression based on Pyramidal Information Funneling"
// (Cai et al., arXiv:2406.02069): lower layers spread attention widely, upper layers focus, so give
// lower layers more of the budget. SnapKV's selection with a per-layer budget:
//   keep(p in layer l) <=> p in the last `window` prompt tokens || pool(s)(p) among the top k_l
//   k_max = 2 (budget - window) - k_min,  k_min = (budget - window) / beta,
//   k_l = k_max - l * (k_max - k_min) / (L - 1)          (integer division, as KVCache-Factory)
// When k_max would exceed the prompt before the window, k_max = prompt - window and k_min is raised
// to keep the mean. The layers average about `budget` entries per KV head (integer steps round a
// little up). One-shot at the end of prefill, then full, like snapkv.
#ifndef KVBENCH_POLICIES_PYRAMIDKV_H_
#define KVBENCH_POLICIES_PYRAMIDKV_H_

#include "policies/snapkv.h"

namespace kvbench {

class PyramidKvPolicy : public SnapKvPolicy {
 public:
  // beta >= 1 (PyramidKvInfo checks).
  PyramidKvPolicy(const CacheShape& shape, const SnapKvOptions& options, int beta)
      : SnapKvPolicy(shape, options), beta_(beta) {}

 protected:
  int PrefixBudget(int layer, int prompt_len) const override;

 private:
  int beta_;
};

PolicyInfo PyramidKvInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_PYRAMIDKV_H_
