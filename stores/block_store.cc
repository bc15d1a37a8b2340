#include "stores/block_store.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#include "formats/half.h"
#include "stores/quant_kernels.h"

namespace kvbench {
namespace {

// The 4- and 5-bit types differ only in code width and whether the block has a min; q8_0 is its
// own case.
template <BlockType T>
struct Traits;
template <>
struct Traits<BlockType::kQ8_0> {
  static constexpr int kBits = 8;
  static constexpr bool kHasMin = false;
  static constexpr const char* kName = "q8_0";
};
template <>
struct Traits<BlockType::kQ4_0> {
  static constexpr int kBits = 4;
  static constexpr bool kHasMin = false;
  static constexpr const char* kName = "q4_0";
};
template <>
struct Traits<BlockType::kQ4_1> {
  static constexpr int kBits = 4;
  static constexpr bool kHasMin = true;
  static constexpr const char* kName = "q4_1";
};
template <>
struct Traits<BlockType::kQ5_0> {
  static constexpr int kBits = 5;
  static constexpr bool kHasMin = false;
  static constexpr const char* kName = "q5_0";
};
template <>
struct Traits<BlockType::kQ5_1> {
  static constexpr int kBits = 5;
  static constexpr bool kHasMin = true;
  static constexpr const char* kName = "q5_1";
};

template <BlockType T>
constexpr size_t Bytes(int qk) {
  using Tr = Traits<T>;
  if constexpr (Tr::kBits == 8) return 2 + static_cast<size_t>(qk);
  return 2 + (Tr::kHasMin ? 2 : 0) + (Tr::kBits == 5 ? static_cast<size_t>(qk) / 8 : 0) +
         static_cast<size_t>(qk) / 2;
}

// Offsets inside a block.
template <BlockType T>
struct Layout {
  static constexpr size_t kQh = Traits<T>::kHasMin ? 4 : 2;
  static size_t qs(int qk) {
    return kQh + (Traits<T>::kBits == 5 ? static_cast<size_t>(qk) / 8 : 0);
  }
};

void PutHalf(uint8_t* p, float v) {
  const uint16_t h = F32ToFp16(v);
  std::memcpy(p, &h, 2);
}
float GetHalf(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return Fp16ToF32(h);
}

template <BlockType T>
void Quantize(const float* x, int qk, uint8_t* block) {
  using Tr = Traits<T>;
  if constexpr (T == BlockType::kQ8_0) {
    float amax = 0.0f;
    for (int j = 0; j < qk; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    PutHalf(block, d);
    for (int j = 0; j < qk; ++j)
      block[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * id)));
  } else {
    constexpr int kLevels = 1 << Tr::kBits;  // 16 or 32
    float d, id, m = 0.0f;
    if constexpr (Tr::kHasMin) {
      float min = FLT_MAX, max = -FLT_MAX;
      for (int j = 0; j < qk; ++j) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
      }
      d = (max - min) / (kLevels - 1);
      m = min;
      id = d != 0.0f ? 1.0f / d : 0.0f;
      PutHalf(block, d);
      PutHalf(block + 2, m);
    } else {
      float amax = 0.0f, max = 0.0f;  // max: the signed value of largest magnitude (first one wins)
      for (int j = 0; j < qk; ++j) {
        if (amax < std::fabs(x[j])) {
          amax = std::fabs(x[j]);
          max = x[j];
        }
      }
      d = max / -(kLevels / 2);
      id = d != 0.0f ? 1.0f / d : 0.0f;
      PutHalf(block, d);
    }
    const int half = qk / 2;
    uint8_t* qs = block + Layout<T>::qs(qk);
    uint8_t* qh = block + Layout<T>::kQh;
    if constexpr (Tr::kBits == 5) std::memset(qh, 0, qk / 8);
    for (int j = 0; j < half; ++j) {
      uint8_t c[2];
      for (int s = 0; s < 2; ++s) {
        const float v = x[j + s * half];
        if constexpr (Tr::kHasMin) {
          const float t = (v - m) * id;
          // q5_1's reference has no clamp (the largest value lands on 31 exactly); q4_1 clamps.
          c[s] = Tr::kBits == 5
                     ? static_cast<uint8_t>(t + 0.5f)
                     : static_cast<uint8_t>(
                           std::min(kLevels - 1, static_cast<int>(static_cast<int8_t>(t + 0.5f))));
        } else {
          const float t = v * id;
          c[s] = static_cast<uint8_t>(std::min(
              kLevels - 1, static_cast<int>(static_cast<int8_t>(t + (kLevels / 2 + 0.5f)))));
        }
      }
      qs[j] = static_cast<uint8_t>((c[0] & 0x0f) | ((c[1] & 0x0f) << 4));
      if constexpr (Tr::kBits == 5) {
        qh[j / 8] |= static_cast<uint8_t>(((c[0] >> 4) & 1) << (j % 8));
        qh[(j + half) / 8] |= static_cast<uint8_t>(((c[1] >> 4) & 1) << ((j + half) % 8));
      }
    }
  }
}

template <BlockType T>
void DequantizeReference(const uint8_t* block, int qk, float* y) {
  using Tr = Traits<T>;
  const float d = GetHalf(block);
  if constexpr (T == BlockType::kQ8_0) {
    for (int j = 0; j < qk; ++j) y[j] = static_cast<float>(static_cast<int8_t>(block[2 + j])) * d;
  } else {
    const float m = Tr::kHasMin ? GetHalf(block + 2) : 0.0f;
    const int zero = Tr::kHasMin ? 0 : (1 << Tr::kBits) / 2;
    const uint8_t* qs = block + Layout<T>::qs(qk);
    const uint8_t* qh = block + Layout<T>::kQh;
    for (int j = 0; j < qk; ++j) {
      const int half = qk / 2;
      int c = j < half ? (qs[j] & 0x0f) : (qs[j - half] >> 4);
      if constexpr (Tr::kBits == 5) c |= ((qh[j / 8] >> (j % 8)) & 1) << 4;
      y[j] = Tr::kHasMin ? static_cast<float>(c) * d + m : static_cast<float>(c - zero) * d;
    }
  }
}

// Vectorised decoding of one block (DecodeNibbles / DecodeInt8 are exact, so this equals the
// reference bit for bit).
template <BlockType T>
void DequantizeFast(const uint8_t* block, int qk, float* y) {
  using Tr = Traits<T>;
  const float d = GetHalf(block);
  if constexpr (T == BlockType::kQ8_0) {
    DecodeInt8(reinterpret_cast<const int8_t*>(block + 2), qk, d, y);
  } else {
    const float m = Tr::kHasMin ? GetHalf(block + 2) : 0.0f;
    const int zero = Tr::kHasMin ? 0 : (1 << Tr::kBits) / 2;
    DecodeNibbles(block + Layout<T>::qs(qk), Tr::kBits == 5 ? block + Layout<T>::kQh : nullptr, qk,
                  zero, d, m, y);
  }
}

template <BlockType T>
class BlockCodec : public RowCodec {
 public:
  explicit BlockCodec(int head_dim)
      : head_dim_(head_dim), qk_(BlockValues(head_dim)), block_bytes_(Bytes<T>(qk_)) {}

  std::string name() const override { return Traits<T>::kName; }
  int head_dim() const override { return head_dim_; }
  size_t row_bytes() const override { return static_cast<size_t>(head_dim_ / qk_) * block_bytes_; }

  void Encode(const float* x, float scale, uint8_t* row) const override {
    for (int b = 0; b < head_dim_ / qk_; ++b) Quantize<T>(x + b * qk_, qk_, row + b * block_bytes_);
  }
  void DecodeReference(const uint8_t* row, float scale, float* out) const override {
    for (int b = 0; b < head_dim_ / qk_; ++b)
      DequantizeReference<T>(row + b * block_bytes_, qk_, out + b * qk_);
  }
  void DecodeRows(const uint8_t* rows, int n, float scale, float* out) const override {
    // Rows are contiguous runs of blocks: n rows are n * head_dim / qk blocks in a row.
    const int blocks = n * (head_dim_ / qk_);
    if (qk_ == 32) {  // llama.cpp blocks: one decode loop over the whole tile
      if constexpr (T == BlockType::kQ8_0) {
        DecodeQ8_0Blocks32(rows, blocks, out);
      } else {
        DecodeNibbleBlocks32(rows, blocks, Traits<T>::kHasMin, Traits<T>::kBits == 5, out);
      }
      return;
    }
    for (int b = 0; b < blocks; ++b)
      DequantizeFast<T>(rows + b * block_bytes_, qk_, out + static_cast<size_t>(b) * qk_);
  }

  // Rows of whole llama.cpp blocks (qk = 32); the one-block rows of the tiny head sizes take the
  // tile path.
  bool Describe(const uint8_t* rows, float scale, EncodedRows* out) const override {
    if (qk_ != 32) return false;
    out->format = T == BlockType::kQ8_0 ? EncodedRows::Format::kQ8_0 : EncodedRows::Format::kNibble;
    out->data = rows;
    out->stride = row_bytes();
    out->has_min = Traits<T>::kHasMin;
    out->five_bit = Traits<T>::kBits == 5;
    return true;
  }

 private:
  int head_dim_;
  int qk_;
  size_t block_bytes_;
};

template <typename F>
auto Dispatch(BlockType type, F&& f) {
  switch (type) {
    case BlockType::kQ8_0:
      return f.template operator()<BlockType::kQ8_0>();
    case BlockType::kQ4_0:
      return f.template operator()<BlockType::kQ4_0>();
    case BlockType::kQ4_1:
      return f.template operator()<BlockType::kQ4_1>();
    case BlockType::kQ5_0:
      return f.template operator()<BlockType::kQ5_0>();
    case BlockType::kQ5_1:
      break;
  }
  return f.template operator()<BlockType::kQ5_1>();
}

}  // namespace

size_t BlockBytes(BlockType type, int qk) {
  return Dispatch(type, [&]<BlockType T>() { return Bytes<T>(qk); });
}

void QuantizeBlock(BlockType type, const float* x, int qk, uint8_t* block) {
  Dispatch(type, [&]<BlockType T>() { Quantize<T>(x, qk, block); });
}

void DequantizeBlockReference(BlockType type, const uint8_t* block, int qk, float* y) {
  Dispatch(type, [&]<BlockType T>() { DequantizeReference<T>(block, qk, y); });
}

std::unique_ptr<RowCodec> MakeBlockCodec(BlockType type, int head_dim) {
  return Dispatch(type, [&]<BlockType T>() -> std::unique_ptr<RowCodec> {
    return std::make_unique<BlockCodec<T>>(head_dim);
  });
}

}  // namespace kvbench
