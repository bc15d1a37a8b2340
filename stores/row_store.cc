#include "stores/row_store.h"

#include <algorithm>

#include "base/check.h"
#include "stores/quant_kernels.h"

namespace kvbench {
namespace {

// f32 scratch for one decoded tile (kTileRows, head_dim), reused by every call on this thread.
float* TileScratch(int head_dim) {
  thread_local std::vector<float> tile;
  const size_t need = static_cast<size_t>(kTileRows) * head_dim;
  if (tile.size() < need) tile.resize(need);
  return tile.data();
}

}  // namespace

void RowCodec::DecodeRows(const uint8_t* rows, int n, float scale, float* out) const {
  const int hd = head_dim();
  for (int j = 0; j < n; ++j) {
    DecodeReference(rows + j * row_bytes(), scale, out + static_cast<size_t>(j) * hd);
  }
}

RowStore::RowStore(const CacheShape& shape, std::unique_ptr<RowCodec> codec, std::string name)
    : codec_(std::move(codec)),
      name_(name.empty() ? codec_->name() : std::move(name)),
      n_kv_heads_(shape.n_kv_heads),
      head_dim_(shape.head_dim),
      row_bytes_(codec_->row_bytes()),
      rows_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads, RowBuffer(row_bytes_)),
      allocated_(shape.n_layers, 0),
      peak_(shape.n_layers, 0) {
  KVBENCH_CHECK(codec_->head_dim() == head_dim_, "codec %s built for head_dim %d, cache has %d",
                codec_->name().c_str(), codec_->head_dim(), head_dim_);
}

uint64_t RowStore::LayerBytes(size_t row_bytes, const CacheShape& shape, int64_t entries) {
  return static_cast<uint64_t>(entries) * row_bytes * shape.n_kv_heads;
}

void RowStore::Append(int layer, int head, const float* rows, int n, int ld) {
  if (n > 0) BeforeEncode(layer, head, rows, n, ld);
  const float s = scale(layer, head);
  uint8_t* dst = at(layer, head).Extend(n, &allocated_[layer]);
  peak_[layer] = std::max(peak_[layer], allocated_[layer]);
  for (int i = 0; i < n; ++i) {
    codec_->Encode(rows + static_cast<size_t>(i) * ld, s, dst + i * row_bytes_);
  }
}

void RowStore::Compact(int layer, int head, absl::Span<const int> keep) {
  RowBuffer& rows = at(layer, head);
  const int m = static_cast<int>(keep.size());
  KVBENCH_CHECK(m <= rows.size() && (m == 0 || (keep.front() >= 0 && keep.back() < rows.size())),
                "%s: keep list out of range (%d entries)", name_.c_str(), rows.size());
  rows.Compact(keep);
}

void RowStore::Dot(int layer, int head, int n, const float* q, int n_q, float* scores,
                   int ld_scores) const {
  const RowBuffer& rows = at(layer, head);
  KVBENCH_CHECK(n >= 0 && n <= rows.size(), "%s: %d of %d entries", name_.c_str(), n, rows.size());
  const float s = scale(layer, head);
  EncodedRows encoded;
  if (codec_->Describe(rows.row(0), s, &encoded) && CanFuse(encoded, head_dim_, n_q)) {
    return DotRowsFused(encoded, n, head_dim_, q, n_q, scores, ld_scores);
  }
  float* tile = TileScratch(head_dim_);
  for (int j0 = 0; j0 < n; j0 += kTileRows) {
    const int nt = std::min(kTileRows, n - j0);
    codec_->DecodeRows(rows.row(j0), nt, s, tile);
    DotRowsF32(tile, nt, head_dim_, q, n_q, scores + j0, ld_scores);
  }
}

void RowStore::Accumulate(int layer, int head, int n, const float* w, int ld_w, int n_q,
                          float* out) const {
  const RowBuffer& rows = at(layer, head);
  KVBENCH_CHECK(n >= 0 && n <= rows.size(), "%s: %d of %d entries", name_.c_str(), n, rows.size());
  const float s = scale(layer, head);
  std::fill(out, out + static_cast<size_t>(n_q) * head_dim_, 0.0f);
  EncodedRows encoded;
  if (codec_->Describe(rows.row(0), s, &encoded) && CanFuse(encoded, head_dim_, n_q)) {
    return AccumulateRowsFused(encoded, n, head_dim_, w, ld_w, n_q, out);
  }
  float* tile = TileScratch(head_dim_);
  for (int j0 = 0; j0 < n; j0 += kTileRows) {
    const int nt = std::min(kTileRows, n - j0);
    codec_->DecodeRows(rows.row(j0), nt, s, tile);
    AccumulateRowsF32(tile, nt, head_dim_, w + j0, ld_w, n_q, out);
  }
}

void RowStore::Read(int layer, int head, int j, float* out) const {
  const RowBuffer& rows = at(layer, head);
  KVBENCH_CHECK(j >= 0 && j < rows.size(), "%s: row %d of %d", name_.c_str(), j, rows.size());
  codec_->DecodeReference(rows.row(j), scale(layer, head), out);
}

KvMemory RowStore::memory(int layer) const {
  KvMemory m;
  for (int h = 0; h < n_kv_heads_; ++h) {
    m.logical += static_cast<uint64_t>(at(layer, h).size()) * row_bytes_;
  }
  const uint64_t scales = scale_bytes(layer);
  m.logical += scales;
  m.allocated = allocated_[layer] + scales;
  m.peak = peak_[layer] + scales;
  return m;
}

}  // namespace kvbench
