#include "policies/f32_store.h"

#include <algorithm>
#include <cstring>

#include "policies/quant_kernels.h"
#include "policies/row_compaction.h"

namespace kvbench {

F32Store::F32Store(const CacheShape& shape)
    : n_kv_heads_(shape.n_kv_heads),
      head_dim_(shape.head_dim),
      rows_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads),
      allocated_(shape.n_layers, 0),
      peak_(shape.n_layers, 0) {}

void F32Store::Append(int layer, int head, const float* rows, int n, int ld) {
  Rows& r = at(layer, head);
  const size_t hd = head_dim_;
  const size_t needed = (static_cast<size_t>(r.begin) + r.n + n) * hd;
  if (needed > r.buf.size()) {
    if (static_cast<size_t>(r.n + n) * hd * 2 <= r.buf.size()) {
      // Plenty of room once the dropped prefix is reclaimed: slide the live rows down.
      std::memmove(r.buf.data(), r.row(0, hd), static_cast<size_t>(r.n) * hd * sizeof(float));
      r.begin = 0;
    } else {
      std::vector<float> grown(std::max<size_t>(2 * (r.n + n), 16) * hd);
      std::memcpy(grown.data(), r.row(0, hd), static_cast<size_t>(r.n) * hd * sizeof(float));
      allocated_[layer] += (grown.size() - r.buf.size()) * sizeof(float);
      peak_[layer] = std::max(peak_[layer], allocated_[layer]);
      r.buf.swap(grown);
      r.begin = 0;
    }
  }
  for (int i = 0; i < n; ++i) std::memcpy(r.row(r.n + i, hd), rows + static_cast<size_t>(i) * ld, hd * sizeof(float));
  r.n += n;
}

void F32Store::Compact(int layer, int head, absl::Span<const int> keep) {
  Rows& r = at(layer, head);
  const size_t hd = head_dim_;
  r.begin += CompactRows(keep, r.n, [&](int dst, int src, int count) {
    std::memmove(r.row(dst, hd), r.row(src, hd), count * hd * sizeof(float));
  });
  r.n = static_cast<int>(keep.size());
}

// Both run the shared AVX-512 tile kernels (policies/quant_kernels.h) straight on the rows.
void F32Store::Dot(int layer, int head, const float* q, int n_q, float* scores, int ld_scores) const {
  const Rows& r = at(layer, head);
  DotRowsF32(r.row(0, head_dim_), r.n, head_dim_, q, n_q, scores, ld_scores);
}

void F32Store::Accumulate(int layer, int head, const float* w, int ld_w, int n_q, float* out) const {
  const Rows& r = at(layer, head);
  std::fill(out, out + static_cast<size_t>(n_q) * head_dim_, 0.0f);
  AccumulateRowsF32(r.row(0, head_dim_), r.n, head_dim_, w, ld_w, n_q, out);
}

void F32Store::Read(int layer, int head, int j, float* row) const {
  std::memcpy(row, at(layer, head).row(j, head_dim_), head_dim_ * sizeof(float));
}

void F32Store::Write(int layer, int head, int j, const float* row) {
  std::memcpy(at(layer, head).row(j, head_dim_), row, head_dim_ * sizeof(float));
}

KvMemory F32Store::memory(int layer) const {
  KvMemory m;
  for (int h = 0; h < n_kv_heads_; ++h) {
    const Rows& r = at(layer, h);
    m.logical += static_cast<uint64_t>(r.n) * head_dim_ * sizeof(float);
  }
  m.allocated = allocated_[layer];
  m.peak = peak_[layer];
  return m;
}

}  // namespace kvbench
