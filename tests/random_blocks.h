// Random weight matrices of the ggml block types for kernel tests: random code bytes, with the
// fp16 scales set to a realistic range (all-random scales would include infinities and NaNs).
#ifndef KVBENCH_TESTS_RANDOM_BLOCKS_H_
#define KVBENCH_TESTS_RANDOM_BLOCKS_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "formats/half.h"
#include "gtest/gtest.h"
#include "model/model.h"
#include "model/weights.h"

namespace kvbench {

inline WeightMatrix RandomBlocks(Model& holder, DType type, int rows, int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  const size_t row_bytes = RowBytes(type, cols);
  std::byte* data = holder.Allocate(row_bytes * rows);
  auto* bytes = reinterpret_cast<uint8_t*>(data);
  for (size_t i = 0; i < row_bytes * rows; ++i) bytes[i] = byte(rng);
  const int block_bytes = BlockBytes(type);
  const size_t n_blocks = row_bytes * rows / block_bytes;
  auto put = [&](size_t at, float v) {
    const uint16_t h = F32ToFp16(v);
    std::memcpy(bytes + at, &h, 2);
  };
  for (size_t b = 0; b < n_blocks; ++b) {
    const size_t at = b * block_bytes;
    switch (type) {
      case DType::kQ4_1:
      case DType::kQ5_1:
        put(at + 2, scale(rng));
        [[fallthrough]];
      case DType::kQ8_0:
      case DType::kQ4_0:
      case DType::kQ5_0:
        put(at, scale(rng));
        break;
      case DType::kQ4_K:
      case DType::kQ5_K:
        put(at, std::fabs(scale(rng)) / 16);
        put(at + 2, std::fabs(scale(rng)) / 16);
        break;
      case DType::kQ6_K:
        put(at + 208, scale(rng) / 32);
        break;
      default:
        ADD_FAILURE() << DTypeName(type);
    }
  }
  return WeightMatrix{.dtype = type, .rows = rows, .cols = cols, .data = data};
}

}  // namespace kvbench

#endif  // KVBENCH_TESTS_RANDOM_BLOCKS_H_
