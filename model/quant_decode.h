// Q4_1 and Q5_1 blocks (model/quant_weights.h) decoded 32 values at a time into two F32x16, for
// the f32 MatMul kernel. Each lane is computed with the operations DequantizeBlocks writes for that
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

// Values 32c .. 32c + 31 of a row of type T: lanes 0..15 in *w0, 16..31 in *w1. Only the types
// with a minimum (Q4_1, Q5_1) take this f32 path; the others multiply 8-bit activations
// (model/quant_dot.h).
template <DType T>
inline void DecodeChunk(const std::byte* row, int64_t c, simd::F32x16* w0, simd::F32x16* w1) {
  static_assert(T == DType::kQ4_1 || T == DType::kQ5_1);
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
}

}  // namespace quant_decode
}  // namespace kvbench

#endif  // KVBENCH_MODEL_QUANT_DECODE_H_
