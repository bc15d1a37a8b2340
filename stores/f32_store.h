// f32 store: rows kept exactly as the decoder produced them (4 bytes per value). The reference
// format every other store is measured against.
//
// Per (layer, head) the rows sit in one RowBuffer (row_buffer.h): dropping the oldest entries
// (sliding windows) moves nothing.
#ifndef KVBENCH_STORES_F32_STORE_H_
#define KVBENCH_STORES_F32_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "stores/kv_store.h"
#include "stores/row_buffer.h"

namespace kvbench {

class F32Store : public KvStore {
 public:
  explicit F32Store(const CacheShape& shape);

  // Logical bytes of one layer holding `entries` rows in each KV head: 4 bytes per value.
  static uint64_t LayerBytes(const CacheShape& shape, int64_t entries);

  std::string name() const override { return "f32"; }
  void Append(int layer, int head, const float* rows, int n, int ld) override;
  int size(int layer, int head) const override { return at(layer, head).size(); }
  void Compact(int layer, int head, absl::Span<const int> keep) override;
  void Dot(int layer, int head, int n, const float* q, int n_q, float* scores,
           int ld_scores) const override;
  void Accumulate(int layer, int head, int n, const float* w, int ld_w, int n_q,
                  float* out) const override;
  void Read(int layer, int head, int j, float* row) const override;
  KvMemory memory(int layer) const override;

 private:
  const RowBuffer& at(int layer, int head) const { return rows_[layer * n_kv_heads_ + head]; }
  RowBuffer& at(int layer, int head) { return rows_[layer * n_kv_heads_ + head]; }
  const float* row(int layer, int head, int j) const {
    return reinterpret_cast<const float*>(at(layer, head).row(j));
  }

  int n_kv_heads_;
  int head_dim_;
  std::vector<RowBuffer> rows_;      // (layers * kv_heads) rows of head_dim floats
  std::vector<uint64_t> allocated_;  // (layers) bytes reserved now
  std::vector<uint64_t> peak_;       // (layers) largest allocated_ so far
};

}  // namespace kvbench

#endif  // KVBENCH_STORES_F32_STORE_H_
