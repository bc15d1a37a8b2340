// PolicyCache joins a CachePolicy (which positions stay) with a key store and a value store (how
// they are held) into the KvCache the decoder calls. It owns the cell metadata (each entry's
// absolute position), computes attention through the stores, hands the probabilities to the policy,
// and applies the policy's plan at the end of each step.
//
// Positions: by default keys keep the RoPE rotation of their original position. With
// PositionMode::kCache (StreamingLLM's choice) entries are re-assigned contiguous positions ending
// at the newest token after every eviction, and the affected keys are re-rotated in the store.
#ifndef KVBENCH_POLICIES_POLICY_CACHE_H_
#define KVBENCH_POLICIES_POLICY_CACHE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "base/aligned.h"
#include "model/kv_cache.h"
#include "policies/cache_policy.h"
#include "stores/kv_store.h"

namespace kvbench {

enum class PositionMode { kOriginal, kCache };

class PolicyCache : public KvCache {
 public:
  PolicyCache(const CacheShape& shape, std::unique_ptr<CachePolicy> policy,
              std::unique_ptr<KvStore> k_store, std::unique_ptr<KvStore> v_store,
              PositionMode positions = PositionMode::kOriginal);

  void BeginStep(int pos0, int n_tokens) override;
  void Append(int layer, const float* k, const float* v) override;
  void Attend(int layer, const float* q, float* out) override;
  void EndStep() override;
  bool retains_entries() const override { return policy_->retains_entries(); }
  int n_past() const override { return n_past_; }
  KvMemory memory(int layer) const override;

  // Absolute positions of the entries of (layer, head), in order.
  absl::Span<const int32_t> positions(int layer, int head) const { return cell(layer, head).pos; }
  const CachePolicy& policy() const { return *policy_; }
  const KvStore& k_store() const { return *k_store_; }
  const KvStore& v_store() const { return *v_store_; }
  const CacheShape& shape() const { return shape_; }

  // Nanoseconds spent in policy bookkeeping (policy hooks and compaction), cumulative.
  int64_t policy_ns() const { return policy_ns_; }

 private:
  struct Cells {
    std::vector<int32_t> pos;       // absolute position of each entry
    std::vector<int32_t> rope_pos;  // position its key is rotated to (kCache mode only)
  };
  const Cells& cell(int layer, int head) const { return cells_[layer * shape_.n_kv_heads + head]; }
  Cells& cell(int layer, int head) { return cells_[layer * shape_.n_kv_heads + head]; }
  void ReRotate(int layer, int head);

  CacheShape shape_;
  std::unique_ptr<CachePolicy> policy_;
  std::unique_ptr<KvStore> k_store_;
  std::unique_ptr<KvStore> v_store_;
  PositionMode position_mode_;
  std::vector<Cells> cells_;  // (layers * kv_heads)
  int pos0_ = 0;
  int n_tokens_ = 0;
  int n_past_ = 0;
  int64_t policy_ns_ = 0;
  // Scratch reused across steps (one cache per sequence, so no sharing between threads).
  AlignedVector<float> q_group_;  // (tokens * group, head_dim)
  AlignedVector<float> scores_;   // (tokens * group, entries)
  AlignedVector<float> out_group_;
  std::vector<int> keep_;
};

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_POLICY_CACHE_H_
