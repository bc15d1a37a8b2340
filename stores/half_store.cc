#include "stores/half_store.h"

#include <cstring>

#include "formats/half.h"
#include "stores/quant_kernels.h"

namespace kvbench {
namespace {

class HalfCodec : public RowCodec {
 public:
  HalfCodec(HalfFormat format, int head_dim) : format_(format), head_dim_(head_dim) {}

  std::string name() const override { return format_ == HalfFormat::kF16 ? "f16" : "bf16"; }
  int head_dim() const override { return head_dim_; }
  size_t row_bytes() const override { return 2 * static_cast<size_t>(head_dim_); }

  void Encode(const float* x, float scale, uint8_t* row) const override {
    for (int d = 0; d < head_dim_; ++d) {
      const uint16_t h = format_ == HalfFormat::kF16 ? F32ToFp16(x[d]) : F32ToBf16(x[d]);
      std::memcpy(row + 2 * d, &h, 2);
    }
  }

  void DecodeReference(const uint8_t* row, float scale, float* out) const override {
    for (int d = 0; d < head_dim_; ++d) {
      uint16_t h;
      std::memcpy(&h, row + 2 * d, 2);
      out[d] = format_ == HalfFormat::kF16 ? Fp16ToF32(h) : Bf16ToF32(h);
    }
  }

  void DecodeRows(const uint8_t* rows, int n, float scale, float* out) const override {
    // Rows are contiguous, so n rows are one run of n * head_dim values.
    const auto* h = reinterpret_cast<const uint16_t*>(rows);
    if (format_ == HalfFormat::kF16) {
      DecodeF16(h, n * head_dim_, out);
    } else {
      DecodeBf16(h, n * head_dim_, out);
    }
  }

  bool Describe(const uint8_t* rows, float scale, EncodedRows* out) const override {
    out->format =
        format_ == HalfFormat::kF16 ? EncodedRows::Format::kF16 : EncodedRows::Format::kBf16;
    out->data = rows;
    out->stride = row_bytes();
    return true;
  }

 private:
  HalfFormat format_;
  int head_dim_;
};

}  // namespace

std::unique_ptr<RowCodec> MakeHalfCodec(HalfFormat format, int head_dim) {
  return std::make_unique<HalfCodec>(format, head_dim);
}

}  // namespace kvbench
