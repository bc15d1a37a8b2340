// The ggml block types of model/quant_weights.h decoded 32 values at a time into two F32x16, for
// the MatMul kernels. Each lane is computed with the operations DequantizeBlocks writes for that
// value (integer code, then Mul / MulAdd with the block's scales, which round as the scalar code
// does), so a decoded chunk equals the scalar dequantization bit for bit on every instruction set.
#ifndef KVBENCH_MODEL_QUANT_DECODE_H_
#define KVBENCH_MODEL_QUANT_DECODE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "formats/dtype.h"
#include "formats/half.h"
#include "model/quant_weights.h"
#include "model/simd.h"

namespace kvbench {
namespace quant_decode {

// 16 codes (bits [shift, shift + width) of 16 bytes), as int32 lanes.
inline simd::I32x16 Bits(const uint8_t* bytes, int shift, int mask) {
  return simd::And(simd::ShiftRight(simd::LoadU8(bytes), simd::SetI(shift)), simd::SetI(mask));
}

// Lane i: bit first + i of `word`, moved to bit 4 (the fifth bit of a legacy 5-bit code).
inline simd::I32x16 FifthBits(uint32_t word, int first) {
  const simd::I32x16 bits =
      simd::ShiftRight(simd::SetI(static_cast<int32_t>(word >> first)), simd::Iota());
  return simd::ShiftLeft(simd::And(bits, simd::SetI(1)), simd::SetI(4));
}

inline uint32_t Word(const uint8_t qh[4]) {
  uint32_t w;
  std::memcpy(&w, qh, 4);
  return w;
}

// Values 32c .. 32c + 31 of a row of type T: lanes 0..15 in *w0, 16..31 in *w1.
template <DType T>
inline void DecodeChunk(const std::byte* row, int64_t c, simd::F32x16* w0, simd::F32x16* w1) {
  if constexpr (T == DType::kQ4_0 || T == DType::kQ5_0) {
    using Block = std::conditional_t<T == DType::kQ4_0, BlockQ4_0, BlockQ5_0>;
    const Block& b = reinterpret_cast<const Block*>(row)[c];
    simd::I32x16 lo = Bits(b.qs, 0, 0xF), hi = Bits(b.qs, 4, 0xF);
    int offset = 8;
    if constexpr (T == DType::kQ5_0) {
      const uint32_t qh = Word(b.qh);
      lo = simd::Or(lo, FifthBits(qh, 0));
      hi = simd::Or(hi, FifthBits(qh, 16));
      offset = 16;
    }
    const simd::F32x16 d = simd::Set1(HalfToF32(b.d));
    *w0 = simd::Mul(simd::ToF32(simd::SubI(lo, simd::SetI(offset))), d);
    *w1 = simd::Mul(simd::ToF32(simd::SubI(hi, simd::SetI(offset))), d);
  } else if constexpr (T == DType::kQ4_1 || T == DType::kQ5_1) {
    using Block = std::conditional_t<T == DType::kQ4_1, BlockQ4_1, BlockQ5_1>;
    const Block& b = reinterpret_cast<const Block*>(row)[c];
    simd::I32x16 lo = Bits(b.qs, 0, 0xF), hi = Bits(b.qs, 4, 0xF);
    if constexpr (T == DType::kQ5_1) {
      const uint32_t qh = Word(b.qh);
      lo = simd::Or(lo, FifthBits(qh, 0));
      hi = simd::Or(hi, FifthBits(qh, 16));
    }
    const simd::F32x16 d = simd::Set1(HalfToF32(b.d)), m = simd::Set1(HalfToF32(b.m));
    *w0 = simd::MulAdd(simd::ToF32(lo), d, m);
    *w1 = simd::MulAdd(simd::ToF32(hi), d, m);
  } else if constexpr (T == DType::kQ4_K || T == DType::kQ5_K) {
    using Block = std::conditional_t<T == DType::kQ4_K, BlockQ4_K, BlockQ5_K>;
    const Block& b = reinterpret_cast<const Block*>(row)[c / 8];
    const int j = static_cast<int>(c % 8);  // sub-block
    int sc, m;
    UnpackScaleMin(b.scales, j, &sc, &m);
    const float d1 = HalfToF32(b.d) * static_cast<float>(sc);
    const float m1 = HalfToF32(b.dmin) * static_cast<float>(m);
    const uint8_t* q = b.qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    simd::I32x16 lo = Bits(q, shift, 0xF), hi = Bits(q + 16, shift, 0xF);
    if constexpr (T == DType::kQ5_K) {
      lo = simd::Or(lo, simd::ShiftLeft(Bits(b.qh, j, 1), simd::SetI(4)));
      hi = simd::Or(hi, simd::ShiftLeft(Bits(b.qh + 16, j, 1), simd::SetI(4)));
    }
    const simd::F32x16 vd = simd::Set1(d1), vm = simd::Set1(-m1);
    *w0 = simd::MulAdd(vd, simd::ToF32(lo), vm);
    *w1 = simd::MulAdd(vd, simd::ToF32(hi), vm);
  } else {
    static_assert(T == DType::kQ6_K);
    const BlockQ6_K& b = reinterpret_cast<const BlockQ6_K*>(row)[c / 8];
    const int j = static_cast<int>(c % 8);
    const int n = j / 4, k = j % 4;  // half of the block, quarter of the half
    const uint8_t* ql = b.ql + 64 * n + 32 * (k % 2);
    const uint8_t* qh = b.qh + 32 * n;
    const int8_t* sc = b.scales + 8 * n + 2 * k;
    const float d = HalfToF32(b.d);
    const simd::I32x16 bias = simd::SetI(32);
    auto code = [&](int l) {
      const simd::I32x16 high = simd::ShiftLeft(Bits(qh + l, 2 * k, 3), simd::SetI(4));
      return simd::ToF32(simd::SubI(simd::Or(Bits(ql + l, 4 * (k / 2), 0xF), high), bias));
    };
    *w0 = simd::Mul(simd::Set1(d * static_cast<float>(sc[0])), code(0));
    *w1 = simd::Mul(simd::Set1(d * static_cast<float>(sc[1])), code(16));
  }
}

}  // namespace quant_decode
}  // namespace kvbench

#endif  // KVBENCH_MODEL_QUANT_DECODE_H_
