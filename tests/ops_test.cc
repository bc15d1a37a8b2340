// Every MatMul kernel (per weight dtype, 1..N vectors, tails) against its scalar reference, on the
// matrix shapes the micro-benchmarks time. Tolerance: 1e-5 of the output scale (the vector kernels
// sum in a different order than the scalar loop; both are f32).
#include "model/ops.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/model.h"

namespace kvbench {
namespace {

WeightMatrix RandomMatrix(Model& holder, DType dtype, int rows, int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const size_t row_bytes = RowBytes(dtype, cols);
  std::byte* data = holder.Allocate(row_bytes * rows);
  std::vector<float> row(cols);
  for (int r = 0; r < rows; ++r) {
    for (float& v : row) v = dist(rng);
    QuantizeRow(dtype, row.data(), cols, data + row_bytes * r);
  }
  return WeightMatrix{.dtype = dtype, .rows = rows, .cols = cols, .data = data};
}

struct Shape {
  int rows, cols;
};

class MatMulTest : public testing::TestWithParam<DType> {};

TEST_P(MatMulTest, MatchesScalarReference) {
  const DType dtype = GetParam();
  // Bench shapes (scaled where they would be slow in a test) and awkward sizes for the tails.
  const std::vector<Shape> shapes = {{2048, 2048}, {512, 5632}, {64, 64},
                                     {172, 64},    {33, 96},    {7, 160}};
  for (const Shape& s : shapes) {
    if (dtype == DType::kQ8_0 && s.cols % 32 != 0) continue;
    Model holder;
    const WeightMatrix w = RandomMatrix(holder, dtype, s.rows, s.cols, 1);
    for (int n_vec : {1, 3, 4, 7, 70}) {
      std::mt19937 rng(2);
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      std::vector<float> x(static_cast<size_t>(n_vec) * s.cols);
      for (float& v : x) v = dist(rng);
      std::vector<float> fast(static_cast<size_t>(n_vec) * s.rows), ref(fast.size());
      MatMul(w, x.data(), n_vec, fast.data());
      MatMulReference(w, x.data(), n_vec, ref.data());
      float scale = 0.0f, diff = 0.0f;
      for (size_t i = 0; i < ref.size(); ++i) {
        scale = std::max(scale, std::fabs(ref[i]));
        diff = std::max(diff, std::fabs(fast[i] - ref[i]));
      }
      EXPECT_LE(diff, 1e-5f * scale)
          << DTypeName(dtype) << " " << s.rows << "x" << s.cols << " n_vec " << n_vec;
    }
  }
}

// A row's result must not depend on the batch around it (what makes lockstep evaluation exact).
TEST_P(MatMulTest, RowsAreBatchInvariant) {
  const DType dtype = GetParam();
  Model holder;
  const WeightMatrix w = RandomMatrix(holder, dtype, 96, 256, 3);
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int n_vec = 70;
  std::vector<float> x(static_cast<size_t>(n_vec) * 256);
  for (float& v : x) v = dist(rng);
  std::vector<float> batch(static_cast<size_t>(n_vec) * 96), one(96);
  MatMul(w, x.data(), n_vec, batch.data());
  for (int v = 0; v < n_vec; ++v) {
    MatMul(w, &x[static_cast<size_t>(v) * 256], 1, one.data());
    ASSERT_TRUE(std::equal(one.begin(), one.end(), batch.begin() + v * 96)) << "vector " << v;
  }
}

// Several matrices in one pass give exactly what one MatMul each gives.
TEST_P(MatMulTest, FusedOutputsEqualSeparateCalls) {
  const DType dtype = GetParam();
  Model holder;
  const WeightMatrix a = RandomMatrix(holder, dtype, 96, 256, 5),
                     b = RandomMatrix(holder, dtype, 33, 256, 6),
                     c = RandomMatrix(holder, dtype, 200, 256, 7);
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int n_vec : {1, 2, 5, 17}) {
    std::vector<float> x(static_cast<size_t>(n_vec) * 256);
    for (float& v : x) v = dist(rng);
    std::vector<float> ya(96 * n_vec), yb(33 * n_vec), yc(200 * n_vec), fa(ya.size()),
        fb(yb.size()), fc(yc.size());
    MatMul(a, x.data(), n_vec, ya.data());
    MatMul(b, x.data(), n_vec, yb.data());
    MatMul(c, x.data(), n_vec, yc.data());
    MatMuls({{&a, fa.data()}, {&b, fb.data()}, {&c, fc.data()}}, x.data(), n_vec);
    EXPECT_EQ(ya, fa) << n_vec;
    EXPECT_EQ(yb, fb) << n_vec;
    EXPECT_EQ(yc, fc) << n_vec;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, MatMulTest,
                         testing::Values(DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0),
                         [](const testing::TestParamInfo<DType>& info) {
                           return std::string(DTypeName(info.param));
                         });

TEST(OpsTest, DequantizeInvertsQuantizeWithinTheFormatsStep) {
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = std::sin(0.3f * i) * (i % 7 + 1);
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) {
    std::vector<std::byte> enc(RowBytes(dtype, 64));
    std::vector<float> back(64);
    QuantizeRow(dtype, x.data(), 64, enc.data());
    DequantizeRow(dtype, enc.data(), 64, back.data());
    for (int i = 0; i < 64; ++i) {
      const float bound = dtype == DType::kF32    ? 0.0f
                          : dtype == DType::kF16  ? std::fabs(x[i]) * 0x1p-11f
                          : dtype == DType::kBF16 ? std::fabs(x[i]) * 0x1p-8f
                                                  : 7.0f / 127.0f / 2.0f * 1.001f;  // amax/127/2
      EXPECT_LE(std::fabs(back[i] - x[i]), bound) << DTypeName(dtype) << " " << i;
    }
  }
}

}  // namespace
}  // namespace kvbench

namespace kvbench {
namespace {

// RMSNorm against a double-precision reference (relative error within 1e-6 of the output scale),
// and bit-identical wherever its buffers sit: the same values at every offset within a cache line
// give the same outputs (no alignment peel).
TEST(OpsTest, RmsNormMatchesDoubleReferenceAtEveryAlignment) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  constexpr float kEps = 1e-5f;
  constexpr int kMaxOffset = 16;  // floats in a 64-byte line
  for (int n : {1, 7, 16, 17, 64, 260}) {
    std::vector<float> x(n), w(n);
    for (float& v : x) v = dist(rng);
    for (float& v : w) v = dist(rng);
    double ss = 0.0, scale = 0.0;
    for (float v : x) ss += static_cast<double>(v) * v;
    const double inv = 1.0 / std::sqrt(ss / n + kEps);
    std::vector<double> want(n);
    for (int i = 0; i < n; ++i) scale = std::max(scale, std::fabs(want[i] = x[i] * inv * w[i]));
    std::vector<float> first;
    for (int offset = 0; offset < kMaxOffset; ++offset) {
      std::vector<float> xs(offset + n), ws(offset + n), out(offset + n);
      std::copy(x.begin(), x.end(), xs.begin() + offset);
      std::copy(w.begin(), w.end(), ws.begin() + offset);
      RmsNorm(xs.data() + offset, ws.data() + offset, n, kEps, out.data() + offset);
      const std::vector<float> got(out.begin() + offset, out.end());
      if (offset == 0) {
        for (int i = 0; i < n; ++i) EXPECT_NEAR(got[i], want[i], 1e-6 * scale) << "n " << n;
        first = got;
      } else {
        EXPECT_EQ(got, first) << "n " << n << " offset " << offset;
      }
    }
  }
}

// The vectorised softmax against a double-precision reference: relative error per probability
// within 1e-6, probabilities summing to 1, extreme scores underflowing to exactly 0.
TEST(OpsTest, SoftmaxMatchesDoubleReference) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-30.0f, 30.0f);
  for (int n : {1, 2, 15, 16, 17, 100, 1000}) {
    std::vector<float> x(n);
    for (float& v : x) v = dist(rng);
    if (n > 2) x[1] = -1e4f;  // underflows
    std::vector<double> want(n);
    // The reference starts from the same f32 differences x - max, so it measures the exp and the
    // normalisation, not the rounding of the subtraction both share.
    const float max = *std::max_element(x.begin(), x.end());
    double sum = 0.0;
    for (int i = 0; i < n; ++i) sum += want[i] = std::exp(static_cast<double>(x[i] - max));
    std::vector<float> got = x;
    Softmax(got.data(), n);
    double total = 0.0;
    for (int i = 0; i < n; ++i) {
      want[i] /= sum;
      total += got[i];
      EXPECT_NEAR(got[i], want[i], 1e-6 * want[i] + 1e-30) << "n " << n << " i " << i;
    }
    EXPECT_NEAR(total, 1.0, 1e-5) << "n " << n;
    if (n > 2) EXPECT_EQ(got[1], 0.0f);
  }
}

}  // namespace
}  // namespace kvbench
