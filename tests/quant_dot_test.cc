// The 8-bit activation dot products (model/quant_dot.h):
// - the vector kernels (through MatMul, every tile shape and tail) equal the scalar definition
//   Q8DotReference bit for bit;
// - that definition is the exact dot of the dequantized weights (DequantizeBlocks, tested in
//   quant_weights_test against hand-packed blocks) with the dequantized activations, up to f32
//   rounding: a wrong code, scale or minimum shows here;
// - the activation quantization error stays within its bound, half a step per value;
// - QuantizeActivations' scales, codes and group sums.
#include "model/quant_dot.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "formats/half.h"
#include "gtest/gtest.h"
#include "model/model.h"
#include "model/ops.h"
#include "model/quant_weights.h"
#include "tests/random_blocks.h"

namespace kvbench {
namespace {

constexpr DType kTypes[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ5_0,
                            DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

std::vector<float> RandomVectors(int n, int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n) * cols);
  for (float& v : x) v = dist(rng);
  return x;
}

std::vector<float> Dequantized(DType type, const std::byte* xq, int cols) {
  std::vector<float> out(cols);
  if (BlockValues(type) == kQK_K) {
    const auto* b = reinterpret_cast<const BlockQ8x256*>(xq);
    for (int i = 0; i < cols; ++i) out[i] = b[i / kQK_K].d * b[i / kQK_K].qs[i % kQK_K];
  } else {
    const auto* b = reinterpret_cast<const BlockQ8x32*>(xq);
    for (int i = 0; i < cols; ++i) out[i] = b[i / kQK].d * b[i / kQK].qs[i % kQK];
  }
  return out;
}

class QuantDotTest : public testing::TestWithParam<DType> {};

TEST_P(QuantDotTest, KernelsEqualTheScalarDefinitionBitForBit) {
  const DType type = GetParam();
  const bool k = BlockValues(type) == kQK_K;
  struct Shape {
    int rows, cols;
  };
  std::vector<Shape> shapes = {{97, 512}, {5, 256}, {48, 1024}};
  if (!k) shapes.insert(shapes.end(), {{33, 96}, {1024, 384}});
  for (const Shape& s : shapes) {
    Model holder;
    const WeightMatrix w = RandomBlocks(holder, type, s.rows, s.cols, 11);
    for (int n_vec : {1, 2, 3, 4, 5, 7, 9, 70}) {
      const std::vector<float> x = RandomVectors(n_vec, s.cols, 12);
      std::vector<float> fast(static_cast<size_t>(n_vec) * s.rows), ref(fast.size());
      MatMul(w, x.data(), n_vec, fast.data());
      MatMulReference(w, x.data(), n_vec, ref.data());
      ASSERT_EQ(fast, ref) << DTypeName(type) << " " << s.rows << "x" << s.cols << " n_vec "
                           << n_vec;
    }
  }
}

TEST_P(QuantDotTest, DefinitionIsTheDotOfTheDequantizedValues) {
  const DType type = GetParam();
  const int rows = 64, cols = 1024;
  Model holder;
  const WeightMatrix w = RandomBlocks(holder, type, rows, cols, 21);
  const std::vector<float> x = RandomVectors(1, cols, 22);
  std::vector<std::byte> xq(Q8ActivationBytes(type, cols));
  QuantizeActivations(type, x.data(), cols, xq.data());
  const std::vector<float> xd = Dequantized(type, xq.data(), cols);
  std::vector<float> wd(cols);
  for (int r = 0; r < rows; ++r) {
    DequantizeRow(type, w.row(r), cols, wd.data());
    double exact = 0.0, magnitude = 0.0;
    for (int i = 0; i < cols; ++i) {
      exact += static_cast<double>(wd[i]) * xd[i];
      magnitude += std::fabs(static_cast<double>(wd[i]) * xd[i]);
    }
    const float got = Q8DotReference(type, w.row(r), xq.data(), cols);
    EXPECT_NEAR(got, exact, 1e-6 * magnitude) << DTypeName(type) << " row " << r;
  }
}

TEST_P(QuantDotTest, ActivationErrorIsWithinHalfAStep) {
  const DType type = GetParam();
  const int block = BlockValues(type) == kQK_K ? kQK_K : kQK;
  const int rows = 32, cols = 1024;
  Model holder;
  const WeightMatrix w = RandomBlocks(holder, type, rows, cols, 31);
  const std::vector<float> x = RandomVectors(1, cols, 32);
  std::vector<float> got(rows);
  MatMul(w, x.data(), 1, got.data());
  std::vector<float> wd(cols);
  for (int r = 0; r < rows; ++r) {
    DequantizeRow(type, w.row(r), cols, wd.data());
    double exact = 0.0, bound = 0.0;
    for (int b = 0; b < cols / block; ++b) {
      float amax = 0.0f;
      for (int j = 0; j < block; ++j) amax = std::max(amax, std::fabs(x[b * block + j]));
      double weight_mass = 0.0;
      for (int j = 0; j < block; ++j) {
        exact += static_cast<double>(wd[b * block + j]) * x[b * block + j];
        weight_mass += std::fabs(wd[b * block + j]);
      }
      bound += weight_mass * (amax / 127.0) / 2;
    }
    EXPECT_LE(std::fabs(got[r] - exact), bound * 1.001 + 1e-6) << DTypeName(type) << " row " << r;
    EXPECT_GT(bound, 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantDotTest, testing::ValuesIn(kTypes),
                         [](const testing::TestParamInfo<DType>& info) {
                           return std::string(DTypeName(info.param));
                         });

TEST(QuantizeActivationsTest, ScalesCodesAndGroupSums) {
  std::vector<float> x(256, 0.0f);
  for (int i = 32; i < 256; ++i) x[i] = static_cast<float>(i % 7) - 3.0f;
  x[40] = 6.35f;  // the block maximum: code 127
  x[41] = -6.35f;
  std::vector<std::byte> legacy(Q8ActivationBytes(DType::kQ4_0, 256));
  QuantizeActivations(DType::kQ4_0, x.data(), 256, legacy.data());
  const auto* b = reinterpret_cast<const BlockQ8x32*>(legacy.data());
  EXPECT_EQ(b[0].d, 0.0f);  // an all-zero block
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b[0].qs[j], 0);
  EXPECT_FLOAT_EQ(b[1].d, 6.35f / 127);
  EXPECT_EQ(b[1].qs[8], 127);
  EXPECT_EQ(b[1].qs[9], -127);
  EXPECT_EQ(b[1].qs[0], static_cast<int8_t>(std::nearbyint(x[32] * (127 / 6.35f))));

  std::vector<std::byte> large(Q8ActivationBytes(DType::kQ4_K, 256));
  QuantizeActivations(DType::kQ4_K, x.data(), 256, large.data());
  const auto* k = reinterpret_cast<const BlockQ8x256*>(large.data());
  EXPECT_FLOAT_EQ(k->d, 6.35f / 127);
  for (int g = 0; g < 8; ++g) {
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += k->qs[32 * g + j];
    EXPECT_EQ(k->sums[g], sum) << "group " << g;
  }
}

}  // namespace
}  // namespace kvbench
