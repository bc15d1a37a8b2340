// knorm: "A Simple and Effective L2 Norm-Based Strategy for KV Cache Compression" (Devoto et al.,
// arXiv:2406.11430): keys with a low L2 norm draw high attention, so keep the lowest-norm keys.
//   keep(p) <=> ||k_p||_2 among the `budget` smallest of its KV head
//
// Needs no attention scores: the norm is taken from the keys as they are appended (RoPE is a
// rotation, so the norm is the same before and after it). Decode steps evict after every step (a
// new token whose key norm is large may be evicted at once); a prefill block attends in full and is
// cut at its EndStep. Ties keep the older entry.
#ifndef KVBENCH_POLICIES_KNORM_H_
#define KVBENCH_POLICIES_KNORM_H_

#include "policies/cache_policy.h"
#include "policies/score_utils.h"

namespace kvbench {

class KnormPolicy : public CachePolicy {
 public:
  KnormPolicy(const CacheShape& shape, int budget);

  std::string name() const override;
  void OnAppend(int layer, int head, const float* keys, int n, int ld) override;
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) override;
  uint64_t metadata_bytes(int layer) const override { return neg_norm_.bytes(layer); }
  int64_t max_entries(int layer) const override { return budget_; }

 private:
  int head_dim_;
  int budget_;
  PerEntry<float> neg_norm_;  // -||k||_2 per entry: the top-k of it are the smallest norms
};

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_KNORM_H_
