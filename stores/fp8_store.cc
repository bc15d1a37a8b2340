#include "stores/fp8_store.h"

#include <algorithm>
#include <cmath>
#include <memory>

namespace kvbench {
namespace {

class Fp8Codec : public RowCodec {
 public:
  Fp8Codec(Fp8Format format, int head_dim) : format_(format), head_dim_(head_dim) {}

  std::string name() const override {
    return format_ == Fp8Format::kE4M3 ? "fp8_e4m3" : "fp8_e5m2";
  }
  int head_dim() const override { return head_dim_; }
  size_t row_bytes() const override { return static_cast<size_t>(head_dim_); }

  void Encode(const float* x, float scale, uint8_t* row) const override {
    for (int i = 0; i < head_dim_; ++i) row[i] = Fp8Encode(format_, x[i] / scale);
  }

  void DecodeReference(const uint8_t* row, float scale, float* out) const override {
    for (int i = 0; i < head_dim_; ++i) out[i] = Fp8DecodeSlow(format_, row[i]) * scale;
  }

  // Table lookup (the table is built from Fp8DecodeSlow, so this is exact).
  void DecodeRows(const uint8_t* rows, int n, float scale, float* out) const override {
    const float* table = Fp8Table(format_).data();
    const size_t total = static_cast<size_t>(n) * head_dim_;
    for (size_t i = 0; i < total; ++i) out[i] = table[rows[i]] * scale;
  }

  bool Describe(const uint8_t* rows, float scale, EncodedRows* out) const override {
    out->format =
        format_ == Fp8Format::kE4M3 ? EncodedRows::Format::kFp8E4M3 : EncodedRows::Format::kFp8E5M2;
    out->data = rows;
    out->stride = row_bytes();
    out->scale = scale;
    return true;
  }

 private:
  Fp8Format format_;
  int head_dim_;
};

}  // namespace

Fp8Store::Fp8Store(const CacheShape& shape, const Fp8StoreOptions& options, std::string name)
    : RowStore(shape, std::make_unique<Fp8Codec>(options.format, shape.head_dim), std::move(name)),
      options_(options),
      scales_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads,
              options.calibrate_range > 0 ? 0.0f
              : options.amax > 0          ? options.amax / Fp8MaxFinite(options.format)
                                          : 1.0f),
      encoded_(scales_.size(), false) {}

uint64_t Fp8Store::LayerBytes(Fp8ScaleScope scope, const CacheShape& shape, int64_t entries) {
  if (entries <= 0) return 0;
  const uint64_t scales = scope == Fp8ScaleScope::kHead ? shape.n_kv_heads : 1;
  return RowStore::LayerBytes(shape.head_dim, shape, entries) + scales * sizeof(float);
}

void Fp8Store::BeforeEncode(int layer, int head, const float* rows, int n, int ld) {
  const size_t at = static_cast<size_t>(layer) * n_kv_heads() + head;
  if (scales_[at] == 0.0f) Calibrate(layer, head, rows, n, ld);
  encoded_[at] = true;
}

void Fp8Store::Calibrate(int layer, int head, const float* rows, int n, int ld) {
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    for (int d = 0; d < head_dim(); ++d) {
      const float a = std::fabs(rows[static_cast<size_t>(i) * ld + d]);
      if (std::isfinite(a)) amax = std::max(amax, a);
    }
  }
  // An all-zero first block would leave no information: any positive scale encodes zeros exactly,
  // so fall back to 1 (no scaling) rather than 0.
  const float scale = amax > 0 ? amax / options_.calibrate_range : 1.0f;
  float* layer_scales = &scales_[static_cast<size_t>(layer) * n_kv_heads()];
  if (options_.scope == Fp8ScaleScope::kHead) {
    layer_scales[head] = scale;
  } else {
    std::fill(layer_scales, layer_scales + n_kv_heads(), scale);
  }
}

uint64_t Fp8Store::scale_bytes(int layer) const {
  const auto first = encoded_.begin() + static_cast<ptrdiff_t>(layer) * n_kv_heads();
  const int encoded = static_cast<int>(std::count(first, first + n_kv_heads(), true));
  const int scales = options_.scope == Fp8ScaleScope::kHead ? encoded : std::min(encoded, 1);
  return static_cast<uint64_t>(scales) * sizeof(float);
}

}  // namespace kvbench
