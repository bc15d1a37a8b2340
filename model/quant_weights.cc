#include "model/quant_weights.h"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "base/check.h"
#include "formats/half.h"

namespace kvbench {
namespace {

template <typename Block>
const Block* Blocks(const std::byte* row) {
  return reinterpret_cast<const Block*>(row);
}

uint32_t HighBits(const uint8_t qh[4]) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  return bits;
}

// Legacy blocks: code j of 32 (0..15, or 0..31 with the fifth bit).
int Nibble(const uint8_t* qs, int j) { return j < kQK / 2 ? qs[j] & 0xF : qs[j - kQK / 2] >> 4; }
int FifthBit(uint32_t qh, int j) { return static_cast<int>((qh >> j) & 1) << 4; }

void DequantizeQ4_0(const BlockQ4_0& b, float* y) {
  const float d = HalfToF32(b.d);
  for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(Nibble(b.qs, j) - 8) * d;
}

void DequantizeQ4_1(const BlockQ4_1& b, float* y) {
  const float d = HalfToF32(b.d), m = HalfToF32(b.m);
  for (int j = 0; j < kQK; ++j) y[j] = std::fma(static_cast<float>(Nibble(b.qs, j)), d, m);
}

void DequantizeQ5_0(const BlockQ5_0& b, float* y) {
  const float d = HalfToF32(b.d);
  const uint32_t qh = HighBits(b.qh);
  for (int j = 0; j < kQK; ++j)
    y[j] = static_cast<float>((Nibble(b.qs, j) | FifthBit(qh, j)) - 16) * d;
}

void DequantizeQ5_1(const BlockQ5_1& b, float* y) {
  const float d = HalfToF32(b.d), m = HalfToF32(b.m);
  const uint32_t qh = HighBits(b.qh);
  for (int j = 0; j < kQK; ++j)
    y[j] = std::fma(static_cast<float>(Nibble(b.qs, j) | FifthBit(qh, j)), d, m);
}

// Q4_K and Q5_K in ggml's order: 64 values (two sub-blocks sharing 32 code bytes) at a time.
template <typename Block>
void DequantizeK45(const Block& b, float* y) {
  constexpr bool kFifthBit = std::is_same_v<Block, BlockQ5_K>;
  const float d = HalfToF32(b.d), dmin = HalfToF32(b.dmin);
  for (int g = 0; g < 4; ++g) {
    const uint8_t* q = b.qs + 32 * g;
    for (int half = 0; half < 2; ++half) {
      const int j = 2 * g + half;  // sub-block
      int sc, m;
      UnpackScaleMin(b.scales, j, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) {
        int code = half == 0 ? q[l] & 0xF : q[l] >> 4;
        if constexpr (kFifthBit) code |= ((b.qh[l] >> j) & 1) << 4;
        y[32 * j + l] = std::fma(d1, static_cast<float>(code), -m1);
      }
    }
  }
}

// Q6_K in ggml's order: two halves of 128; in each, l < 32 gives four values from ql[l],
// ql[l + 32] (low and high nibbles) and the four 2-bit pairs of qh[l].
void DequantizeQ6_K(const BlockQ6_K& b, float* y) {
  const float d = HalfToF32(b.d);
  for (int n = 0; n < 2; ++n) {
    const uint8_t* ql = b.ql + 64 * n;
    const uint8_t* qh = b.qh + 32 * n;
    const int8_t* sc = b.scales + 8 * n;
    float* yh = y + 128 * n;
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0 & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2 & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
      yh[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
      yh[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      yh[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      yh[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
  }
}

template <typename Block, typename Fn>
void EachBlock(const std::byte* row, int64_t n, int block_values, Fn fn, float* out) {
  const Block* blocks = Blocks<Block>(row);
  for (int64_t b = 0; b < n / block_values; ++b) fn(blocks[b], out + b * block_values);
}

}  // namespace

void UnpackScaleMin(const uint8_t* scales, int j, int* scale, int* min) {
  if (j < 4) {
    *scale = scales[j] & 63;
    *min = scales[j + 4] & 63;
  } else {
    *scale = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
    *min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

void DequantizeBlocks(DType type, const std::byte* row, int64_t n, float* out) {
  KVBENCH_CHECK(n % BlockValues(type) == 0, "%lld values of %s are not whole blocks",
                static_cast<long long>(n), DTypeName(type));
  switch (type) {
    case DType::kQ4_0:
      return EachBlock<BlockQ4_0>(row, n, kQK, DequantizeQ4_0, out);
    case DType::kQ4_1:
      return EachBlock<BlockQ4_1>(row, n, kQK, DequantizeQ4_1, out);
    case DType::kQ5_0:
      return EachBlock<BlockQ5_0>(row, n, kQK, DequantizeQ5_0, out);
    case DType::kQ5_1:
      return EachBlock<BlockQ5_1>(row, n, kQK, DequantizeQ5_1, out);
    case DType::kQ4_K:
      return EachBlock<BlockQ4_K>(row, n, kQK_K, DequantizeK45<BlockQ4_K>, out);
    case DType::kQ5_K:
      return EachBlock<BlockQ5_K>(row, n, kQK_K, DequantizeK45<BlockQ5_K>, out);
    case DType::kQ6_K:
      return EachBlock<BlockQ6_K>(row, n, kQK_K, DequantizeQ6_K, out);
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ8_0:
      break;
  }
  KVBENCH_CHECK(false, "DequantizeBlocks of %s, which is not a ggml block type", DTypeName(type));
}

}  // namespace kvbench
