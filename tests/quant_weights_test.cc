// The ggml block types (model/quant_weights.h): every layout checked bit for bit against blocks
// this test packs itself from chosen codes and scales, following ggml-common.h's field order and
// quantize_row_*_ref's bit packing (an independent writing of the layout: a decoder that swaps
// nibbles, bits or sub-block scales gives wrong values). Scales are powers of two and codes small
// integers, so every expected value is exact in f32 whatever the order of the multiplies.
//
// The MatMul kernels then run on random blocks against the scalar reference (tolerance 1e-5 of
// the output scale, as tests/ops_test.cc declares for the other types), equal the F32 kernel on
// the dequantized matrix bit for bit where they take f32 activations, and give each vector the
// same bits whatever the batch.
#include "model/quant_weights.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "formats/half.h"
#include "gtest/gtest.h"
#include "model/model.h"
#include "model/ops.h"
#include "model/quant_dot.h"
#include "tests/random_blocks.h"

namespace kvbench {
namespace {

constexpr DType kBlockTypes[] = {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                                 DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

void PutHalf(std::vector<uint8_t>& out, size_t at, float v) {
  const uint16_t h = F32ToFp16(v);
  std::memcpy(out.data() + at, &h, 2);
}

// A power of two in [2^-6, 2^2], exact in fp16.
float PowerOfTwo(std::mt19937& rng) {
  return std::ldexp(1.0f, std::uniform_int_distribution<int>(-6, 2)(rng));
}

struct Packed {
  std::vector<uint8_t> bytes;
  std::vector<float> want;  // the values the block stands for
};

// Legacy 32-value blocks: bytes [d][m if _1][qh if 5-bit][qs: value j low nibble, j + 16 high].
Packed PackLegacy(DType type, std::mt19937& rng) {
  const bool five = type == DType::kQ5_0 || type == DType::kQ5_1;
  const bool has_min = type == DType::kQ4_1 || type == DType::kQ5_1;
  const int levels = five ? 32 : 16;
  std::array<int, 32> q;
  for (int& c : q) c = std::uniform_int_distribution<int>(0, levels - 1)(rng);
  const float d = PowerOfTwo(rng), m = has_min ? -3.0f * PowerOfTwo(rng) : 0.0f;
  Packed p;
  p.bytes.assign(BlockBytes(type), 0);
  size_t at = 0;
  PutHalf(p.bytes, at, d);
  at += 2;
  if (has_min) {
    PutHalf(p.bytes, at, m);
    at += 2;
  }
  if (five) {
    uint32_t qh = 0;
    for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>(q[j] >> 4) << j;
    std::memcpy(p.bytes.data() + at, &qh, 4);
    at += 4;
  }
  for (int j = 0; j < 16; ++j) p.bytes[at + j] = (q[j] & 0xF) | (q[j + 16] & 0xF) << 4;
  for (int j = 0; j < 32; ++j) {
    p.want.push_back(has_min ? q[j] * d + m : (q[j] - levels / 2) * d);
  }
  return p;
}

// Q4_K / Q5_K: [d][dmin][12 scale bytes][qh (Q5_K): 32][qs: 128]. quantize_row_q4_K_ref packs the
// eight 6-bit scales L and minimums M as: j < 4: scales[j] = L, scales[j + 4] = M; j >= 4:
// scales[j + 4] = L & 15 | (M & 15) << 4, and the top two bits of L and M go to bits 6..7 of
// scales[j - 4] and scales[j].
Packed PackK45(DType type, std::mt19937& rng) {
  const bool five = type == DType::kQ5_K;
  std::array<int, 256> q;
  for (int& c : q) c = std::uniform_int_distribution<int>(0, five ? 31 : 15)(rng);
  std::array<int, 8> sc, mn;
  for (int j = 0; j < 8; ++j) {
    sc[j] = std::uniform_int_distribution<int>(0, 63)(rng);
    mn[j] = std::uniform_int_distribution<int>(0, 63)(rng);
  }
  const float d = PowerOfTwo(rng) / 64, dmin = PowerOfTwo(rng) / 64;
  Packed p;
  p.bytes.assign(BlockBytes(type), 0);
  PutHalf(p.bytes, 0, d);
  PutHalf(p.bytes, 2, dmin);
  uint8_t* s = p.bytes.data() + 4;
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = sc[j];
      s[j + 4] = mn[j];
    } else {
      s[j + 4] = (sc[j] & 0xF) | (mn[j] & 0xF) << 4;
      s[j - 4] |= (sc[j] >> 4) << 6;
      s[j] |= (mn[j] >> 4) << 6;
    }
  }
  uint8_t* qh = p.bytes.data() + 16;
  uint8_t* qs = qh + (five ? 32 : 0);
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      qs[32 * g + l] = (q[64 * g + l] & 0xF) | (q[64 * g + 32 + l] & 0xF) << 4;
    }
  }
  if (five) {
    for (int i = 0; i < 256; ++i) qh[i % 32] |= (q[i] >> 4) << (i / 32);
  }
  for (int i = 0; i < 256; ++i) {
    p.want.push_back(d * sc[i / 32] * q[i] - dmin * mn[i / 32]);
  }
  return p;
}

// Q6_K: [ql: 128][qh: 64][scales: 16 x int8][d]. In each half of 128 values, value l (< 32) and
// l + 64 share ql[l] (low, high nibble), l + 32 and l + 96 share ql[l + 32]; qh[l] holds the top
// two bits of l, l + 32, l + 64, l + 96 at bits 0, 2, 4, 6.
Packed PackQ6_K(std::mt19937& rng) {
  std::array<int, 256> q;  // 0..63, the value is q - 32
  for (int& c : q) c = std::uniform_int_distribution<int>(0, 63)(rng);
  std::array<int, 16> sc;
  for (int& c : sc) c = std::uniform_int_distribution<int>(-128, 127)(rng);
  const float d = PowerOfTwo(rng) / 256;
  Packed p;
  p.bytes.assign(BlockBytes(DType::kQ6_K), 0);
  uint8_t* ql = p.bytes.data();
  uint8_t* qh = ql + 128;
  for (int n = 0; n < 2; ++n) {
    for (int l = 0; l < 32; ++l) {
      const int* v = &q[128 * n + l];
      ql[64 * n + l] = (v[0] & 0xF) | (v[64] & 0xF) << 4;
      ql[64 * n + l + 32] = (v[32] & 0xF) | (v[96] & 0xF) << 4;
      qh[32 * n + l] = (v[0] >> 4) | (v[32] >> 4) << 2 | (v[64] >> 4) << 4 | (v[96] >> 4) << 6;
    }
  }
  for (int i = 0; i < 16; ++i) p.bytes[192 + i] = static_cast<uint8_t>(static_cast<int8_t>(sc[i]));
  PutHalf(p.bytes, 208, d);
  for (int i = 0; i < 256; ++i) p.want.push_back(d * sc[i / 16] * (q[i] - 32));
  return p;
}

Packed Pack(DType type, std::mt19937& rng) {
  if (type == DType::kQ6_K) return PackQ6_K(rng);
  if (BlockValues(type) == kQK_K) return PackK45(type, rng);
  return PackLegacy(type, rng);
}

class QuantWeightsTest : public testing::TestWithParam<DType> {};

TEST_P(QuantWeightsTest, DequantizesHandPackedBlocksExactly) {
  const DType type = GetParam();
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    // Three blocks in a row, so that a wrong block stride shows too.
    std::vector<uint8_t> row;
    std::vector<float> want;
    for (int b = 0; b < 3; ++b) {
      const Packed p = Pack(type, rng);
      row.insert(row.end(), p.bytes.begin(), p.bytes.end());
      want.insert(want.end(), p.want.begin(), p.want.end());
    }
    ASSERT_EQ(row.size(), RowBytes(type, want.size()));
    std::vector<float> got(want.size());
    DequantizeRow(type, reinterpret_cast<const std::byte*>(row.data()), want.size(), got.data());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << DTypeName(type) << " value " << i << " trial " << trial;
    }
  }
}

// A Q4_0 block spelled out byte by byte: d = 0.5 (fp16 0x3800), qs[0] = 0x1F, qs[15] = 0x80.
TEST(QuantWeightsTest, Q4_0ByHand) {
  std::array<uint8_t, 18> block = {0x00, 0x38, 0x1F};
  block[17] = 0x80;
  std::array<float, 32> got;
  DequantizeRow(DType::kQ4_0, reinterpret_cast<const std::byte*>(block.data()), 32, got.data());
  EXPECT_EQ(got[0], (15 - 8) * 0.5f);  // low nibble of qs[0]
  EXPECT_EQ(got[16], (1 - 8) * 0.5f);  // high nibble of qs[0]
  EXPECT_EQ(got[15], (0 - 8) * 0.5f);  // low nibble of qs[15]
  EXPECT_EQ(got[31], (8 - 8) * 0.5f);  // high nibble of qs[15]
  EXPECT_EQ(got[1], -4.0f);
}

std::vector<float> RandomVectors(int n_vec, int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_vec) * cols);
  for (float& v : x) v = dist(rng);
  return x;
}

struct Shape {
  int rows, cols;
};

TEST_P(QuantWeightsTest, MatMulMatchesScalarReference) {
  const DType type = GetParam();
  const int block = BlockValues(type);
  // kvb-docs-12M's shapes (384 columns only for the 32-value types) and awkward row counts.
  std::vector<Shape> shapes = {{1024, 512}, {33, 256}, {7, 768}};
  if (block == 32) shapes.insert(shapes.end(), {{1024, 384}, {384, 1024}, {5, 96}});
  for (const Shape& s : shapes) {
    Model holder;
    const WeightMatrix w = RandomBlocks(holder, type, s.rows, s.cols, 1);
    for (int n_vec : {1, 2, 3, 4, 7, 70}) {
      const std::vector<float> x = RandomVectors(n_vec, s.cols, 2);
      std::vector<float> fast(static_cast<size_t>(n_vec) * s.rows), ref(fast.size());
      MatMul(w, x.data(), n_vec, fast.data());
      MatMulReference(w, x.data(), n_vec, ref.data());
      float scale = 0.0f, diff = 0.0f;
      for (size_t i = 0; i < ref.size(); ++i) {
        scale = std::max(scale, std::fabs(ref[i]));
        diff = std::max(diff, std::fabs(fast[i] - ref[i]));
      }
      ASSERT_GT(scale, 0.0f);
      EXPECT_LE(diff, 1e-5f * scale)
          << DTypeName(type) << " " << s.rows << "x" << s.cols << " n_vec " << n_vec;
    }
  }
}

// The f32-activation kernel (Q4_1, Q5_1) decodes exactly the reference's weights and sums them
// as the F32 kernel does. The other types multiply 8-bit activations (tests/quant_dot_test.cc).
TEST_P(QuantWeightsTest, MatMulEqualsF32KernelOnDequantizedWeights) {
  const DType type = GetParam();
  if (UsesQ8Activations(type)) GTEST_SKIP() << "8-bit activations: quant_dot_test";
  const int rows = 40, cols = 512;
  Model holder;
  const WeightMatrix w = RandomBlocks(holder, type, rows, cols, 5);
  auto* f32 = reinterpret_cast<float*>(holder.Allocate(sizeof(float) * rows * cols));
  for (int r = 0; r < rows; ++r) DequantizeRow(type, w.row(r), cols, f32 + r * cols);
  const WeightMatrix wf{.dtype = DType::kF32,
                        .rows = rows,
                        .cols = cols,
                        .data = reinterpret_cast<const std::byte*>(f32)};
  for (int n_vec : {1, 3, 5}) {
    const std::vector<float> x = RandomVectors(n_vec, cols, 6);
    std::vector<float> got(static_cast<size_t>(n_vec) * rows), want(got.size());
    MatMul(w, x.data(), n_vec, got.data());
    MatMul(wf, x.data(), n_vec, want.data());
    EXPECT_EQ(got, want) << DTypeName(type) << " n_vec " << n_vec;
  }
}

TEST_P(QuantWeightsTest, RowsAreBatchInvariant) {
  const DType type = GetParam();
  const int rows = 96, cols = 512, n_vec = 70;
  Model holder;
  const WeightMatrix w = RandomBlocks(holder, type, rows, cols, 3);
  const std::vector<float> x = RandomVectors(n_vec, cols, 4);
  std::vector<float> batch(static_cast<size_t>(n_vec) * rows), one(rows);
  MatMul(w, x.data(), n_vec, batch.data());
  for (int v = 0; v < n_vec; ++v) {
    MatMul(w, &x[static_cast<size_t>(v) * cols], 1, one.data());
    ASSERT_TRUE(std::equal(one.begin(), one.end(), batch.begin() + v * rows)) << "vector " << v;
  }
}

INSTANTIATE_TEST_SUITE_P(BlockTypes, QuantWeightsTest, testing::ValuesIn(kBlockTypes),
                         [](const testing::TestParamInfo<DType>& info) {
                           return std::string(DTypeName(info.param));
                         });

}  // namespace
}  // namespace kvbench
