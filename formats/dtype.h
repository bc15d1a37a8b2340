// Number formats of weight tensors as they are stored in model files.
//
// Weights stay in their file format in memory (F16/BF16 are never widened to f32 as a whole); the
// matrix-vector kernels in ops.h convert inside the dot product. The other types are ggml's block
// formats: a row is a run of fixed-size blocks, each holding `BlockValues` values in `BlockBytes`
// bytes (codes plus fp16 scales; the exact layouts and their decoding are in
// model/quant_weights.h):
//
//   Q8_0  32 values  34 bytes   8-bit codes, one scale
//   Q4_0  32         18         4-bit codes, one scale                 (q - 8) * d
//   Q4_1  32         20         4-bit codes, scale and minimum         q * d + m
//   Q5_0  32         22         5-bit codes, one scale                 (q - 16) * d
//   Q5_1  32         24         5-bit codes, scale and minimum         q * d + m
//   Q4_K  256        144        8 x 32 4-bit codes, 6-bit sub-scales and sub-minimums
//   Q5_K  256        176        as Q4_K with a fifth bit per code
//   Q6_K  256        210        16 x 16 6-bit codes, 8-bit sub-scales
//
// A row of a block type must hold whole blocks: the K types (QK_K = 256) need rows that are a
// multiple of 256 values, which is why llama-quantize falls back to Q5_0 for rows of 384.
#ifndef KVBENCH_FORMATS_DTYPE_H_
#define KVBENCH_FORMATS_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kvbench {

enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kQ8_0,
  kQ4_0,
  kQ4_1,
  kQ5_0,
  kQ5_1,
  kQ4_K,
  kQ5_K,
  kQ6_K
};

inline constexpr int kQ8_0BlockSize = 32;
inline constexpr int kQ8_0BlockBytes = 2 + kQ8_0BlockSize;  // fp16 scale + 32 x int8

const char* DTypeName(DType type);

// Values per block: 1 for F32/F16/BF16, 32 for the legacy block types, 256 for the K types.
constexpr int BlockValues(DType type) {
  switch (type) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
      return 1;
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ5_1:
      return 32;
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      return 256;
  }
  return 1;
}

// Bytes of one block (of one value for F32/F16/BF16).
constexpr int BlockBytes(DType type) {
  switch (type) {
    case DType::kF32:
      return 4;
    case DType::kF16:
    case DType::kBF16:
      return 2;
    case DType::kQ8_0:
      return kQ8_0BlockBytes;
    case DType::kQ4_0:
      return 2 + 16;
    case DType::kQ4_1:
      return 2 + 2 + 16;
    case DType::kQ5_0:
      return 2 + 4 + 16;
    case DType::kQ5_1:
      return 2 + 2 + 4 + 16;
    case DType::kQ4_K:
      return 2 + 2 + 12 + 128;
    case DType::kQ5_K:
      return 2 + 2 + 12 + 32 + 128;
    case DType::kQ6_K:
      return 128 + 64 + 16 + 2;
  }
  return 0;
}

// Bytes that `n` consecutive values of `type` occupy; n must be a multiple of BlockValues(type).
inline size_t RowBytes(DType type, int64_t n) {
  return static_cast<size_t>(n / BlockValues(type)) * static_cast<size_t>(BlockBytes(type));
}

}  // namespace kvbench

#endif  // KVBENCH_FORMATS_DTYPE_H_
