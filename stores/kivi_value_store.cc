#include "stores/kivi_value_store.h"

#include <algorithm>
#include <cstring>

#include "formats/half.h"
#include "stores/kivi_quant.h"
#include "stores/quant_kernels.h"

namespace kvbench {

KiviValueStore::KiviValueStore(const CacheShape& shape, const KiviOptions& options)
    : KiviStore(shape, KvRole::kValue, options),
      channel_group_(std::min(options.group, shape.head_dim)),
      row_bytes_(RowBytes(options, shape.head_dim)),
      rows_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads) {}

size_t KiviValueStore::RowBytes(const KiviOptions& options, int head_dim) {
  const int channel_group = std::min(options.group, head_dim);
  return 4 * static_cast<size_t>(head_dim / channel_group) +
         static_cast<size_t>(head_dim) * options.bits / 8;
}

void KiviValueStore::EncodeRow(const float* x, uint8_t* row) const {
  const int hd = head_dim(), g = channel_group_, levels = (1 << options().bits) - 1;
  uint8_t* unpacked = KiviCodeRowScratch(hd);
  for (int k = 0; k < hd / g; ++k) {
    const float* xs = x + k * g;
    float lo = xs[0], hi = xs[0];
    for (int c = 1; c < g; ++c) {
      lo = std::min(lo, xs[c]);
      hi = std::max(hi, xs[c]);
    }
    uint16_t scale_h, min_h;
    KiviMinMaxParams(lo, hi, levels, &scale_h, &min_h);
    std::memcpy(row + 4 * k, &scale_h, 2);
    std::memcpy(row + 4 * k + 2, &min_h, 2);
    const float scale = Fp16ToF32(scale_h), min = Fp16ToF32(min_h);
    for (int c = 0; c < g; ++c) unpacked[k * g + c] = KiviCode(xs[c], scale, min, levels);
  }
  PackCodes(unpacked, options().bits, hd, row + 4 * (hd / g));
}

void KiviValueStore::DecodeRow(const uint8_t* row, float* out) const {
  const int hd = head_dim(), g = channel_group_;
  UnpackCodesReference(row + 4 * (hd / g), options().bits, hd, out);
  for (int k = 0; k < hd / g; ++k) {
    uint16_t scale_h, min_h;
    std::memcpy(&scale_h, row + 4 * k, 2);
    std::memcpy(&min_h, row + 4 * k + 2, 2);
    const float scale = Fp16ToF32(scale_h), min = Fp16ToF32(min_h);
    for (int c = 0; c < g; ++c) out[k * g + c] = out[k * g + c] * scale + min;
  }
}

// Unpacking is exact, then the same multiply and add per element as DecodeRow.
void KiviValueStore::DecodeRows(const uint8_t* rows, int n, float* out) const {
  const int hd = head_dim(), g = channel_group_, n_groups = hd / g;
  UnpackCodeRows(rows + 4 * n_groups, row_bytes_, n, options().bits, hd, out);
  for (int j = 0; j < n; ++j) {
    const uint8_t* row = rows + static_cast<size_t>(j) * row_bytes_;
    float* o = out + static_cast<size_t>(j) * hd;
    for (int k = 0; k < n_groups; ++k) {
      uint16_t scale_h, min_h;
      std::memcpy(&scale_h, row + 4 * k, 2);
      std::memcpy(&min_h, row + 4 * k + 2, 2);
      const float scale = HalfToF32(scale_h), min = HalfToF32(min_h);
      float* os = o + k * g;
      for (int c = 0; c < g; ++c) os[c] = os[c] * scale + min;
    }
  }
}

EncodedRows KiviValueStore::Encoded(const Rows& quantized) const {
  EncodedRows e;
  e.format = EncodedRows::Format::kKiviValue;
  e.data = quantized.data();
  e.stride = row_bytes_;
  e.bits = options().bits;
  e.group = channel_group_;
  return e;
}

void KiviValueStore::QuantizeRows(int layer, int head, const float* rows, int n) {
  Rows& quantized = at(layer, head);
  const size_t first = quantized.size() / row_bytes_;
  quantized.resize((first + n) * row_bytes_);
  for (int t = 0; t < n; ++t) {
    EncodeRow(rows + static_cast<size_t>(t) * head_dim(), &quantized[(first + t) * row_bytes_]);
  }
}

void KiviValueStore::CompactQuantized(int layer, int head, absl::Span<const int> keep) {
  Rows& quantized = at(layer, head);
  for (size_t k = 0; k < keep.size(); ++k) {
    if (keep[k] != static_cast<int>(k)) {
      std::memmove(&quantized[k * row_bytes_], &quantized[keep[k] * row_bytes_], row_bytes_);
    }
  }
  quantized.resize(keep.size() * row_bytes_);
  if (quantized.capacity() >= 2 * quantized.size() + 4096) quantized.shrink_to_fit();
}

void KiviValueStore::DotQuantized(int layer, int head, int n_visible, const float* q, int n_q,
                                  float* scores, int ld) const {
  const Rows& quantized = at(layer, head);
  const int hd = head_dim(), n = std::min(n_visible, n_quantized(layer, head));
  const EncodedRows encoded = Encoded(quantized);
  if (CanFuse(encoded, hd, n_q)) return DotRowsFused(encoded, n, hd, q, n_q, scores, ld);
  std::vector<float>& tile = GetKiviScratch().tile;
  tile.resize(static_cast<size_t>(kTileRows) * hd);
  for (int j = 0; j < n; j += kTileRows) {
    const int nt = std::min(kTileRows, n - j);
    DecodeRows(&quantized[j * row_bytes_], nt, tile.data());
    DotRowsF32(tile.data(), nt, hd, q, n_q, scores + j, ld);
  }
}

void KiviValueStore::AccumulateQuantized(int layer, int head, int n_visible, const float* w,
                                         int ld_w, int n_q, float* out) const {
  const Rows& quantized = at(layer, head);
  const int hd = head_dim(), n = std::min(n_visible, n_quantized(layer, head));
  const EncodedRows encoded = Encoded(quantized);
  if (CanFuse(encoded, hd, n_q)) return AccumulateRowsFused(encoded, n, hd, w, ld_w, n_q, out);
  std::vector<float>& tile = GetKiviScratch().tile;
  tile.resize(static_cast<size_t>(kTileRows) * hd);
  for (int j = 0; j < n; j += kTileRows) {
    const int nt = std::min(kTileRows, n - j);
    DecodeRows(&quantized[j * row_bytes_], nt, tile.data());
    AccumulateRowsF32(tile.data(), nt, hd, w + j, ld_w, n_q, out);
  }
}

void KiviValueStore::ReadQuantized(int layer, int head, int j, float* row) const {
  DecodeRow(&at(layer, head)[j * row_bytes_], row);
}

uint64_t KiviValueStore::QuantizedBytes(int layer, int head) const {
  return static_cast<uint64_t>(n_quantized(layer, head)) * row_bytes_;
}

uint64_t KiviValueStore::QuantizedCapacity(int layer, int head) const {
  return at(layer, head).capacity();
}

}  // namespace kvbench
