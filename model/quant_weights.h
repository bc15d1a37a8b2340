// ggml's block formats for weights (Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K), byte for byte as
// ggml-common.h lays them out, and their scalar dequantization: the reference the MatMul kernels
// (model/quant_decode.h, model/ops.cc) are tested against.
//
// Legacy blocks hold 32 values with one fp16 scale d (and, for the _1 types, an fp16 minimum m).
// 4-bit codes are packed two to a byte: value j < 16 is the low nibble of qs[j], value j + 16 its
// high nibble. The 5-bit types keep the fifth bits of all 32 values in the little-endian word qh
// (bit j for value j).
//
// K blocks hold QK_K = 256 values. Q4_K and Q5_K: 8 sub-blocks of 32, each with a 6-bit scale and
// a 6-bit minimum packed into 12 bytes (UnpackScaleMin); value = d * scale * q - dmin * minimum.
// Codes of sub-blocks 2g and 2g + 1 share the 32 bytes qs[32g..]: low nibbles for 2g, high for
// 2g + 1; Q5_K's fifth bit of value l of sub-block j is bit j of qh[l]. Q6_K: 16 sub-blocks of 16
// with int8 scales, value = d * scale * (q - 32); the low 4 bits in ql, the high 2 in qh.
//
// Every value is computed with the roundings written in DequantizeBlocks (fused where it says
// fma): the vector decoders reproduce them lane by lane, so kernels and reference see the same
// weights.
#ifndef KVBENCH_MODEL_QUANT_WEIGHTS_H_
#define KVBENCH_MODEL_QUANT_WEIGHTS_H_

#include <cstddef>
#include <cstdint>

#include "formats/dtype.h"

namespace kvbench {

inline constexpr int kQK = 32;           // values per legacy block (QK4_0 = QK4_1 = QK5_0 = QK5_1)
inline constexpr int kQK_K = 256;        // values per K super-block
inline constexpr int kKScaleBytes = 12;  // K_SCALE_SIZE: 8 scales + 8 minimums of 6 bits

struct BlockQ4_0 {
  uint16_t d;           // fp16 scale
  uint8_t qs[kQK / 2];  // nibbles
};
struct BlockQ4_1 {
  uint16_t d, m;  // fp16 scale and minimum
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // fifth bits, little-endian uint32
  uint8_t qs[kQK / 2];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ4_K {
  uint16_t d, dmin;  // fp16 super-block scales of the sub-block scales and minimums
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];      // low 4 bits
  uint8_t qh[kQK_K / 4];      // high 2 bits
  int8_t scales[kQK_K / 16];  // one per 16 values
  uint16_t d;                 // fp16
};

static_assert(sizeof(BlockQ4_0) == BlockBytes(DType::kQ4_0));
static_assert(sizeof(BlockQ4_1) == BlockBytes(DType::kQ4_1));
static_assert(sizeof(BlockQ5_0) == BlockBytes(DType::kQ5_0));
static_assert(sizeof(BlockQ5_1) == BlockBytes(DType::kQ5_1));
static_assert(sizeof(BlockQ4_K) == BlockBytes(DType::kQ4_K));
static_assert(sizeof(BlockQ5_K) == BlockBytes(DType::kQ5_K));
static_assert(sizeof(BlockQ6_K) == BlockBytes(DType::kQ6_K));

// True for the types of this file (not F32/F16/BF16/Q8_0).
constexpr bool IsGgmlBlockType(DType type) {
  switch (type) {
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      return true;
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ8_0:
      return false;
  }
  return false;
}

// Scale and minimum (each 0..63) of sub-block j (0..7) of a Q4_K / Q5_K block: j < 4 are the low
// 6 bits of bytes j and j + 4; j >= 4 take their low 4 bits from byte j + 4 (scale: low nibble,
// minimum: high nibble) and their high 2 bits from the top bits of bytes j - 4 and j.
void UnpackScaleMin(const uint8_t* scales, int j, int* scale, int* min);

// out[i] = value i of the row, for n values (a multiple of BlockValues(type)) of a block type.
void DequantizeBlocks(DType type, const std::byte* row, int64_t n, float* out);

}  // namespace kvbench

#endif  // KVBENCH_MODEL_QUANT_WEIGHTS_H_
