#include "stores/f32_store.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "stores/quant_kernels.h"

namespace kvbench {

F32Store::F32Store(const CacheShape& shape)
    : n_kv_heads_(shape.n_kv_heads),
      head_dim_(shape.head_dim),
      rows_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads,
            RowBuffer(shape.head_dim * sizeof(float))),
      allocated_(shape.n_layers, 0),
      peak_(shape.n_layers, 0) {}

uint64_t F32Store::LayerBytes(const CacheShape& shape, int64_t entries) {
  return static_cast<uint64_t>(entries) * shape.head_dim * sizeof(float) * shape.n_kv_heads;
}

void F32Store::Append(int layer, int head, const float* rows, int n, int ld) {
  uint8_t* dst = at(layer, head).Extend(n, &allocated_[layer]);
  peak_[layer] = std::max(peak_[layer], allocated_[layer]);
  const size_t bytes = head_dim_ * sizeof(float);
  for (int i = 0; i < n; ++i)
    std::memcpy(dst + i * bytes, rows + static_cast<size_t>(i) * ld, bytes);
}

void F32Store::Compact(int layer, int head, absl::Span<const int> keep) {
  at(layer, head).Compact(keep);
}

// Both run the shared tile kernels (stores/quant_kernels.h) straight on the rows.
void F32Store::Dot(int layer, int head, int n, const float* q, int n_q, float* scores,
                   int ld_scores) const {
  KVBENCH_CHECK(n >= 0 && n <= size(layer, head), "f32: %d of %d entries", n, size(layer, head));
  DotRowsF32(row(layer, head, 0), n, head_dim_, q, n_q, scores, ld_scores);
}

void F32Store::Accumulate(int layer, int head, int n, const float* w, int ld_w, int n_q,
                          float* out) const {
  KVBENCH_CHECK(n >= 0 && n <= size(layer, head), "f32: %d of %d entries", n, size(layer, head));
  std::fill(out, out + static_cast<size_t>(n_q) * head_dim_, 0.0f);
  AccumulateRowsF32(row(layer, head, 0), n, head_dim_, w, ld_w, n_q, out);
}

void F32Store::Read(int layer, int head, int j, float* out) const {
  std::memcpy(out, row(layer, head, j), head_dim_ * sizeof(float));
}

KvMemory F32Store::memory(int layer) const {
  KvMemory m;
  for (int h = 0; h < n_kv_heads_; ++h) {
    m.logical += static_cast<uint64_t>(size(layer, h)) * head_dim_ * sizeof(float);
  }
  m.allocated = allocated_[layer];
  m.peak = peak_[layer];
  return m;
}

}  // namespace kvbench
