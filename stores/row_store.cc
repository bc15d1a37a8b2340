#include "stores/row_store.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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
  for (int j = 0; j < n; ++j) DecodeReference(rows + j * row_bytes(), scale, out + static_cast<size_t>(j) * hd);
}

RowStore::RowStore(const CacheShape& shape, std::unique_ptr<RowCodec> codec, RowStoreOptions options)
    : codec_(std::move(codec)),
      options_(std::move(options)),
      name_(options_.name.empty() ? codec_->name() : options_.name),
      n_kv_heads_(shape.n_kv_heads),
      head_dim_(shape.head_dim),
      row_bytes_(codec_->row_bytes()),
      rows_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads, Rows{.rows = RowBuffer(row_bytes_)}),
      allocated_(shape.n_layers, 0),
      peak_(shape.n_layers, 0) {
  KVBENCH_CHECK(codec_->head_dim() == head_dim_, "codec %s built for head_dim %d, cache has %d",
                codec_->name().c_str(), codec_->head_dim(), head_dim_);
  if (options_.scale_mode != ScaleMode::kNone) {
    KVBENCH_CHECK(codec_->max_finite() > 0, "codec %s has no store scale", codec_->name().c_str());
    const float fixed = options_.calibrate ? 0.0f : options_.amax > 0 ? options_.amax / codec_->max_finite() : 1.0f;
    for (Rows& r : rows_) r.scale = fixed;
  }
}

void RowStore::Calibrate(int layer, int head, const float* rows, int n, int ld) {
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    for (int d = 0; d < head_dim_; ++d) {
      const float a = std::fabs(rows[static_cast<size_t>(i) * ld + d]);
      if (std::isfinite(a)) amax = std::max(amax, a);
    }
  }
  // An all-zero first block would leave no information: any positive scale encodes zeros exactly,
  // so fall back to 1 (no scaling) rather than 0.
  const float scale = amax > 0 ? amax / codec_->max_finite() : 1.0f;
  if (options_.scale_mode == ScaleMode::kPerHead) {
    at(layer, head).scale = scale;
  } else {
    for (int h = 0; h < n_kv_heads_; ++h) at(layer, h).scale = scale;
  }
}

void RowStore::Append(int layer, int head, const float* rows, int n, int ld) {
  Rows& r = at(layer, head);
  if (r.scale == 0.0f && n > 0) Calibrate(layer, head, rows, n, ld);
  r.encoded |= n > 0;
  uint8_t* dst = r.rows.Extend(n, &allocated_[layer]);
  peak_[layer] = std::max(peak_[layer], allocated_[layer]);
  for (int i = 0; i < n; ++i) codec_->Encode(rows + static_cast<size_t>(i) * ld, r.scale, dst + i * row_bytes_);
}

void RowStore::Compact(int layer, int head, absl::Span<const int> keep) {
  Rows& r = at(layer, head);
  const int m = static_cast<int>(keep.size());
  KVBENCH_CHECK(m <= r.rows.size() && (m == 0 || (keep.front() >= 0 && keep.back() < r.rows.size())),
                "%s: keep list out of range (%d entries)", name_.c_str(), r.rows.size());
  r.rows.Compact(keep);
}

void RowStore::Dot(int layer, int head, const float* q, int n_q, float* scores, int ld_scores) const {
  const Rows& r = at(layer, head);
  float* tile = TileScratch(head_dim_);
  for (int j0 = 0; j0 < r.rows.size(); j0 += kTileRows) {
    const int nt = std::min(kTileRows, r.rows.size() - j0);
    codec_->DecodeRows(row(r, j0), nt, r.scale, tile);
    DotRowsF32(tile, nt, head_dim_, q, n_q, scores + j0, ld_scores);
  }
}

void RowStore::Accumulate(int layer, int head, const float* w, int ld_w, int n_q, float* out) const {
  const Rows& r = at(layer, head);
  std::fill(out, out + static_cast<size_t>(n_q) * head_dim_, 0.0f);
  float* tile = TileScratch(head_dim_);
  for (int j0 = 0; j0 < r.rows.size(); j0 += kTileRows) {
    const int nt = std::min(kTileRows, r.rows.size() - j0);
    codec_->DecodeRows(row(r, j0), nt, r.scale, tile);
    AccumulateRowsF32(tile, nt, head_dim_, w + j0, ld_w, n_q, out);
  }
}

void RowStore::Read(int layer, int head, int j, float* out) const {
  const Rows& r = at(layer, head);
  KVBENCH_CHECK(j >= 0 && j < r.rows.size(), "%s: row %d of %d", name_.c_str(), j, r.rows.size());
  codec_->DecodeReference(row(r, j), r.scale, out);
}

void RowStore::Write(int layer, int head, int j, const float* in) {
  Rows& r = at(layer, head);
  KVBENCH_CHECK(j >= 0 && j < r.rows.size(), "%s: row %d of %d", name_.c_str(), j, r.rows.size());
  codec_->Encode(in, r.scale, row(r, j));  // re-quantizes this row only
}

KvMemory RowStore::memory(int layer) const {
  KvMemory m;
  uint64_t scale_bytes = 0;
  bool encoded_any = false;
  for (int h = 0; h < n_kv_heads_; ++h) {
    const Rows& r = at(layer, h);
    m.logical += static_cast<uint64_t>(r.rows.size()) * row_bytes_;
    if (options_.scale_mode == ScaleMode::kPerHead && r.encoded) scale_bytes += sizeof(float);
    encoded_any |= r.encoded;
  }
  if (options_.scale_mode == ScaleMode::kPerLayer && encoded_any) scale_bytes += sizeof(float);
  m.logical += scale_bytes;
  m.allocated = allocated_[layer] + scale_bytes;
  m.peak = peak_[layer] + scale_bytes;
  return m;
}

}  // namespace kvbench
