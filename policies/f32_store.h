// f32 store: rows kept exactly as the decoder produced them (4 bytes per value). The reference
// format every other store is measured against.
//
// Per (layer, head) the rows sit in one buffer from `begin`: dropping the oldest entries (sliding
// windows) only advances `begin`; other compactions move kept rows down in order.
#ifndef KVBENCH_POLICIES_F32_STORE_H_
#define KVBENCH_POLICIES_F32_STORE_H_

#include <vector>

#include "policies/kv_store.h"

namespace kvbench {

class F32Store : public KvStore {
 public:
  explicit F32Store(const CacheShape& shape);

  std::string name() const override { return "f32"; }
  void Append(int layer, int head, const float* rows, int n, int ld) override;
  int size(int layer, int head) const override { return at(layer, head).n; }
  void Compact(int layer, int head, absl::Span<const int> keep) override;
  void Dot(int layer, int head, const float* q, int n_q, float* scores, int ld_scores) const override;
  void Accumulate(int layer, int head, const float* w, int ld_w, int n_q, float* out) const override;
  void Read(int layer, int head, int j, float* row) const override;
  void Write(int layer, int head, int j, const float* row) override;
  KvMemory memory(int layer) const override;

 private:
  struct Rows {
    std::vector<float> buf;  // (capacity, head_dim)
    int begin = 0;           // first live row
    int n = 0;               // live rows
    const float* row(int j, int hd) const { return buf.data() + static_cast<size_t>(begin + j) * hd; }
    float* row(int j, int hd) { return buf.data() + static_cast<size_t>(begin + j) * hd; }
  };
  const Rows& at(int layer, int head) const { return rows_[layer * n_kv_heads_ + head]; }
  Rows& at(int layer, int head) { return rows_[layer * n_kv_heads_ + head]; }

  int n_kv_heads_;
  int head_dim_;
  std::vector<Rows> rows_;        // (layers * kv_heads)
  std::vector<uint64_t> allocated_;  // (layers) bytes reserved now
  std::vector<uint64_t> peak_;       // (layers) largest allocated_ so far
};

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_F32_STORE_H_
