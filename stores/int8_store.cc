#include "stores/int8_store.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "stores/quant_kernels.h"

namespace kvbench {
namespace {

class Int8Codec : public RowCodec {
 public:
  explicit Int8Codec(int head_dim) : head_dim_(head_dim) {}

  std::string name() const override { return "int8"; }
  int head_dim() const override { return head_dim_; }
  size_t row_bytes() const override { return sizeof(float) + static_cast<size_t>(head_dim_); }

  void Encode(const float* x, float scale, uint8_t* row) const override {
    float amax = 0;
    for (int i = 0; i < head_dim_; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    std::memcpy(row, &d, sizeof(float));
    for (int i = 0; i < head_dim_; ++i) {
      const float q = std::clamp(std::round(x[i] * id), -127.0f, 127.0f);
      row[sizeof(float) + i] = static_cast<uint8_t>(static_cast<int8_t>(q));
    }
  }

  void DecodeReference(const uint8_t* row, float scale, float* out) const override {
    float d;
    std::memcpy(&d, row, sizeof(float));
    for (int i = 0; i < head_dim_; ++i)
      out[i] = static_cast<float>(static_cast<int8_t>(row[sizeof(float) + i])) * d;
  }

  void DecodeRows(const uint8_t* rows, int n, float scale, float* out) const override {
    for (int j = 0; j < n; ++j) {
      const uint8_t* row = rows + static_cast<size_t>(j) * row_bytes();
      float d;
      std::memcpy(&d, row, sizeof(float));
      DecodeInt8(reinterpret_cast<const int8_t*>(row + sizeof(float)), head_dim_, d,
                 out + static_cast<size_t>(j) * head_dim_);
    }
  }

  bool Describe(const uint8_t* rows, float scale, EncodedRows* out) const override {
    out->format = EncodedRows::Format::kInt8;
    out->data = rows;
    out->stride = row_bytes();
    return true;
  }

 private:
  int head_dim_;
};

}  // namespace

std::unique_ptr<RowCodec> MakeInt8Codec(int head_dim) {
  return std::make_unique<Int8Codec>(head_dim);
}

}  // namespace kvbench
