#include "stores/fp8_store.h"

namespace kvbench {
namespace {

class Fp8Codec : public RowCodec {
 public:
  Fp8Codec(Fp8Format format, int head_dim) : format_(format), head_dim_(head_dim) {}

  std::string name() const override { return format_ == Fp8Format::kE4M3 ? "fp8_e4m3" : "fp8_e5m2"; }
  int head_dim() const override { return head_dim_; }
  size_t row_bytes() const override { return static_cast<size_t>(head_dim_); }
  float max_finite() const override { return Fp8MaxFinite(format_); }

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

 private:
  Fp8Format format_;
  int head_dim_;
};

}  // namespace

std::unique_ptr<RowCodec> MakeFp8Codec(Fp8Format format, int head_dim) {
  return std::make_unique<Fp8Codec>(format, head_dim);
}

}  // namespace kvbench
