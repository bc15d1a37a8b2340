// Number formats of weight tensors as they are stored in model files.
//
// Weights stay in their file format in memory (F16/BF16 are never widened to f32 as a whole); the
// matrix-vector kernels in ops.h convert inside the dot product. Q8_0 is llama.cpp's block format:
// blocks of 32 int8 values with one fp16 scale (34 bytes per 32 values).
#ifndef KVBENCH_FORMATS_DTYPE_H_
#define KVBENCH_FORMATS_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kvbench {

enum class DType : uint8_t { kF32, kF16, kBF16, kQ8_0 };

inline constexpr int kQ8_0BlockSize = 32;
inline constexpr int kQ8_0BlockBytes = 2 + kQ8_0BlockSize;  // fp16 scale + 32 x int8

const char* DTypeName(DType type);

// Bytes that `n` consecutive values of `type` occupy. For Q8_0, n must be a multiple of 32.
inline size_t RowBytes(DType type, int64_t n) {
  switch (type) {
    case DType::kF32:
      return static_cast<size_t>(n) * 4;
    case DType::kF16:
    case DType::kBF16:
      return static_cast<size_t>(n) * 2;
    case DType::kQ8_0:
      return static_cast<size_t>(n / kQ8_0BlockSize) * kQ8_0BlockBytes;
  }
  return 0;
}

}  // namespace kvbench

#endif  // KVBENCH_FORMATS_DTYPE_H_
