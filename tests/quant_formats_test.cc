// Number formats of the KV stores: llama.cpp block bytes on hand-computed blocks, round-trip error
// bounds on random data, fp8 rounding and saturation, and every vector kernel against its scalar
// reference.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/half.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stores/block_store.h"
#include "stores/fp8.h"
#include "stores/half_store.h"
#include "stores/int8_store.h"
#include "stores/quant_kernels.h"

namespace kvbench {
namespace {

using ::testing::ElementsAreArray;

std::vector<uint8_t> Quantize(BlockType type, const std::vector<float>& x) {
  std::vector<uint8_t> block(BlockBytes(type, static_cast<int>(x.size())));
  QuantizeBlock(type, x.data(), static_cast<int>(x.size()), block.data());
  return block;
}

std::vector<float> RandomVector(std::mt19937& rng, int n, float sigma) {
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// ---- llama.cpp block layouts, bytes written out by hand --------------------------------------

TEST(BlockLayout, SizesMatchLlamaCpp) {
  EXPECT_EQ(BlockBytes(BlockType::kQ8_0, 32), 34u);  // sizeof(block_q8_0)
  EXPECT_EQ(BlockBytes(BlockType::kQ4_0, 32), 18u);
  EXPECT_EQ(BlockBytes(BlockType::kQ4_1, 32), 20u);
  EXPECT_EQ(BlockBytes(BlockType::kQ5_0, 32), 22u);
  EXPECT_EQ(BlockBytes(BlockType::kQ5_1, 32), 24u);
  EXPECT_EQ(BlockBytes(BlockType::kQ4_0, 8), 6u);  // head_dim 8: one block of 8 values
  EXPECT_EQ(BlockBytes(BlockType::kQ5_1, 8), 9u);  // d, m, 1 byte of qh, 4 of qs
}

TEST(BlockLayout, Q8_0HandComputed) {
  // amax 127 -> d = 1 exactly (fp16 0x3C00); q = round(x / d), halves away from zero.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = -127.0f;
  x[2] = 0.5f;   // -> 1
  x[3] = -0.5f;  // -> -1
  x[4] = 2.4f;   // -> 2
  x[5] = -2.6f;  // -> -3
  std::vector<uint8_t> expected(34, 0);
  expected[0] = 0x00;
  expected[1] = 0x3c;
  expected[2] = 0x7f;  // 127
  expected[3] = 0x81;  // -127
  expected[4] = 0x01;
  expected[5] = 0xff;  // -1
  expected[6] = 0x02;
  expected[7] = 0xfd;  // -3
  EXPECT_THAT(Quantize(BlockType::kQ8_0, x), ElementsAreArray(expected));
}

TEST(BlockLayout, Q4_0HandComputed) {
  // Largest magnitude is -8 -> d = -8 / -8 = 1 (0x3C00); q = min(15, (int8)(x / d + 8.5)).
  // qs[j] = q_j | q_{j+16} << 4.
  std::vector<float> x(32, 0.0f);
  x[0] = -8.0f;                             // 0.5 -> 0
  x[16] = 7.0f;                             // 15.5 -> 15
  x[1] = 0.5f;                              // 9.0 -> 9
  x[17] = 3.0f;                             // 11.5 -> 11
  x[2] = -0.5f;                             // 8.0 -> 8
  x[18] = 0.4f;                             // 8.9 -> 8
  std::vector<uint8_t> expected(18, 0x88);  // zeros: 8 | 8 << 4
  expected[0] = 0x00;
  expected[1] = 0x3c;
  expected[2] = 0xf0;  // 0 | 15 << 4
  expected[3] = 0xb9;  // 9 | 11 << 4
  expected[4] = 0x88;
  EXPECT_THAT(Quantize(BlockType::kQ4_0, x), ElementsAreArray(expected));

  // Largest magnitude +8 -> d = -1 (0xBC00): the positive extreme maps to code 0, and -8 clamps at
  // 15 (x_hat = -7: q4_0's one-sided clamp).
  std::vector<float> y(32, 0.0f);
  y[0] = 8.0f;    // 8 * -1 + 8.5 = 0.5 -> 0
  y[16] = -8.0f;  // 16.5 -> 16 -> 15
  std::vector<uint8_t> expected_y(18, 0x88);
  expected_y[0] = 0x00;
  expected_y[1] = 0xbc;
  expected_y[2] = 0xf0;
  EXPECT_THAT(Quantize(BlockType::kQ4_0, y), ElementsAreArray(expected_y));
  std::vector<float> back(32);
  DequantizeBlockReference(BlockType::kQ4_0, expected_y.data(), 32, back.data());
  EXPECT_EQ(back[0], 8.0f);
  EXPECT_EQ(back[16], -7.0f);
}

TEST(BlockLayout, Q4_1HandComputed) {
  // min 0, max 15 -> d = 1 (0x3C00), m = 0; x[j] = j and x[j + 16] = 15 - j.
  std::vector<float> x(32);
  for (int j = 0; j < 16; ++j) {
    x[j] = static_cast<float>(j);
    x[j + 16] = static_cast<float>(15 - j);
  }
  std::vector<uint8_t> expected = {0x00, 0x3c, 0x00, 0x00};
  for (int j = 0; j < 16; ++j) expected.push_back(static_cast<uint8_t>(j | (15 - j) << 4));
  EXPECT_THAT(Quantize(BlockType::kQ4_1, x), ElementsAreArray(expected));
}

TEST(BlockLayout, Q5_0HandComputed) {
  // Largest magnitude -16 -> d = 1; q = min(31, (int8)(x + 16.5)); zeros -> 16 (nibble 0, qh bit
  // 1).
  std::vector<float> x(32, 0.0f);
  x[0] = -16.0f;  // 0
  x[16] = 15.0f;  // 31: nibble 15, high bit 1
  x[1] = 1.0f;    // 17: nibble 1, high bit 1
  std::vector<uint8_t> expected(22, 0x00);
  expected[0] = 0x00;
  expected[1] = 0x3c;
  // qh: every code but q_0 is >= 16.
  expected[2] = 0xfe;
  expected[3] = 0xff;
  expected[4] = 0xff;
  expected[5] = 0xff;
  expected[6] = 0xf0;  // q_0 = 0 | (31 & 15) << 4
  expected[7] = 0x01;  // q_1 = 17 & 15 | (16 & 15) << 4
  EXPECT_THAT(Quantize(BlockType::kQ5_0, x), ElementsAreArray(expected));
}

TEST(BlockLayout, Q5_1HandComputed) {
  // x[j] = j: min 0, max 31 -> d = 1, m = 0, q_j = j; nibbles j & 15, high bits set for j >= 16.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j);
  std::vector<uint8_t> expected = {0x00, 0x3c, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff};
  for (int j = 0; j < 16; ++j) expected.push_back(static_cast<uint8_t>(j | j << 4));
  EXPECT_THAT(Quantize(BlockType::kQ5_1, x), ElementsAreArray(expected));
}

// ---- round-trip error bounds -----------------------------------------------------------------

// |x - x_hat| per element against the format's known bound, for blocks of qk values.
void CheckBlockBound(BlockType type, int qk, uint32_t seed) {
  std::mt19937 rng(seed);
  // Rounding error of storing v as fp16: half an ulp, relative in the normal range, absolute
  // (2^-25) among subnormals.
  auto fp16_err = [](double v) { return std::max(std::fabs(v) / 2048, std::ldexp(1.0, -25)); };
  for (int trial = 0; trial < 200; ++trial) {
    const float sigma = std::pow(10.0f, static_cast<float>(trial % 7) - 3);  // 1e-3 .. 1e3
    std::vector<float> x = RandomVector(rng, qk, sigma);
    if (trial % 5 == 0) x[trial % qk] *= 8;  // an outlier
    std::vector<uint8_t> block = Quantize(type, x);
    std::vector<float> y(qk);
    DequantizeBlockReference(type, block.data(), qk, y.data());
    float amax = 0, mn = x[0], mx = x[0];
    for (float v : x) {
      amax = std::max(amax, std::fabs(v));
      mn = std::min(mn, v);
      mx = std::max(mx, v);
    }
    for (int j = 0; j < qk; ++j) {
      double bound = 0;
      switch (type) {
        case BlockType::kQ8_0: {  // d = amax / 127, |x - q d| <= d / 2
          const double d = amax / 127.0;
          bound = d / 2 + 127 * fp16_err(d);
          break;
        }
        case BlockType::kQ4_0:
        case BlockType::kQ5_0: {  // d = |max| / 8 (16); d / 2, but one step at the clamped extreme
          const double d = amax / (type == BlockType::kQ4_0 ? 8.0 : 16.0);
          bound = d + 16 * fp16_err(d);
          if (std::fabs(x[j]) < amax * 0.9) bound = d / 2 + 16 * fp16_err(d);
          break;
        }
        case BlockType::kQ4_1:
        case BlockType::kQ5_1: {  // d = (max - min) / 15 (31), |x - (q d + m)| <= d / 2
          const double d = (mx - mn) / (type == BlockType::kQ4_1 ? 15.0 : 31.0);
          bound = d / 2 + fp16_err(mn) + 31 * fp16_err(d);
          break;
        }
      }
      ASSERT_LE(std::fabs(x[j] - y[j]), bound * (1 + 1e-5) + 1e-30)
          << "type " << static_cast<int>(type) << " qk " << qk << " trial " << trial << " j " << j;
    }
  }
}

TEST(RoundTrip, LlamaCppBlocksWithinBound) {
  for (BlockType t :
       {BlockType::kQ8_0, BlockType::kQ4_0, BlockType::kQ4_1, BlockType::kQ5_0, BlockType::kQ5_1}) {
    for (int qk : {8, 16, 32}) CheckBlockBound(t, qk, 17 + qk);
  }
}

TEST(RoundTrip, HalfFormatsRelativeError) {
  std::mt19937 rng(3);
  for (HalfFormat f : {HalfFormat::kF16, HalfFormat::kBf16}) {
    auto codec = MakeHalfCodec(f, 64);
    std::vector<float> x = RandomVector(rng, 64, 3.0f), y(64);
    std::vector<uint8_t> row(codec->row_bytes());
    codec->Encode(x.data(), 1.0f, row.data());
    codec->DecodeReference(row.data(), 1.0f, y.data());
    const double rel = f == HalfFormat::kF16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
    for (int i = 0; i < 64; ++i) {
      if (std::fabs(x[i]) < 1e-4) continue;  // fp16 subnormal range: absolute, not relative
      EXPECT_LE(std::fabs(x[i] - y[i]), rel * std::fabs(x[i])) << i;
    }
  }
}

TEST(RoundTrip, Int8WithinHalfStep) {
  std::mt19937 rng(5);
  auto codec = MakeInt8Codec(16);
  std::vector<uint8_t> row(codec->row_bytes());
  EXPECT_EQ(row.size(), 20u);
  for (int trial = 0; trial < 100; ++trial) {
    std::vector<float> x = RandomVector(rng, 16, 0.01f * (trial + 1)), y(16);
    codec->Encode(x.data(), 1.0f, row.data());
    codec->DecodeReference(row.data(), 1.0f, y.data());
    float amax = 0;
    for (float v : x) amax = std::max(amax, std::fabs(v));
    for (int i = 0; i < 16; ++i) ASSERT_LE(std::fabs(x[i] - y[i]), amax / 127 / 2 * (1 + 1e-5));
  }
}

// ---- fp8 -------------------------------------------------------------------------------------

TEST(Fp8, KnownValues) {
  EXPECT_EQ(Fp8MaxFinite(Fp8Format::kE4M3), 448.0f);
  EXPECT_EQ(Fp8MaxFinite(Fp8Format::kE5M2), 57344.0f);
  EXPECT_EQ(Fp8Encode(Fp8Format::kE4M3, 1.0f), 0x38);   // 0.0111.000
  EXPECT_EQ(Fp8Encode(Fp8Format::kE5M2, 1.0f), 0x3c);   // 0.01111.00
  EXPECT_EQ(Fp8Encode(Fp8Format::kE4M3, -2.5f), 0xc2);  // 1.1000.010 = -(1 + 2/8) * 2
  EXPECT_EQ(Fp8Decode(Fp8Format::kE4M3, 0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(Fp8Decode(Fp8Format::kE5M2, 0x01), std::ldexp(1.0f, -16));
  // Saturation, infinities included; NaN stays NaN.
  EXPECT_EQ(Fp8Encode(Fp8Format::kE4M3, 1e6f), 0x7e);
  EXPECT_EQ(Fp8Encode(Fp8Format::kE4M3, -INFINITY), 0xfe);
  EXPECT_EQ(Fp8Encode(Fp8Format::kE5M2, INFINITY), 0x7b);
  EXPECT_EQ(Fp8Encode(Fp8Format::kE4M3, 464.0f), 0x7e);  // above the last midpoint: still 448
  EXPECT_TRUE(std::isnan(Fp8Decode(Fp8Format::kE4M3, Fp8Encode(Fp8Format::kE4M3, NAN))));
  EXPECT_TRUE(std::isnan(Fp8Decode(Fp8Format::kE5M2, Fp8Encode(Fp8Format::kE5M2, NAN))));
}

TEST(Fp8, EveryCodeRoundTripsAndTiesGoToEven) {
  for (Fp8Format f : {Fp8Format::kE4M3, Fp8Format::kE5M2}) {
    const uint8_t max_code = Fp8TraitsOf(f).max_code;
    for (int c = 0; c <= max_code; ++c) {
      for (uint8_t sign : {0x00, 0x80}) {
        const uint8_t code = static_cast<uint8_t>(c | sign);
        ASSERT_EQ(Fp8Encode(f, Fp8Decode(f, code)), code) << "code " << c;
      }
      if (c == max_code) break;
      // The midpoint between neighbours rounds to the even code; just off it, to the nearer one.
      const float lo = Fp8Decode(f, static_cast<uint8_t>(c)),
                  hi = Fp8Decode(f, static_cast<uint8_t>(c + 1));
      const float mid = (lo + hi) / 2;
      ASSERT_EQ(Fp8Encode(f, mid), c % 2 == 0 ? c : c + 1) << "midpoint after code " << c;
      ASSERT_EQ(Fp8Encode(f, std::nextafter(mid, 0.0f)), c);
      ASSERT_EQ(Fp8Encode(f, std::nextafter(mid, 1e9f)), c + 1);
    }
  }
}

TEST(Fp8, RelativeErrorInNormalRange) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> exp_dist(-6, 8);
  for (int i = 0; i < 20000; ++i) {
    const float x = std::exp2(exp_dist(rng)) * (i % 2 ? 1 : -1);
    const float e4 = Fp8Decode(Fp8Format::kE4M3, Fp8Encode(Fp8Format::kE4M3, x));
    ASSERT_LE(std::fabs(e4 - x), std::ldexp(std::fabs(x), -4)) << x;
    const float e5 = Fp8Decode(Fp8Format::kE5M2, Fp8Encode(Fp8Format::kE5M2, x));
    ASSERT_LE(std::fabs(e5 - x), std::ldexp(std::fabs(x), -3)) << x;
  }
}

// ---- kernels against their scalar references -------------------------------------------------

// Tolerance for f32 dot products of length hd: 1e-5 relative to sum |q_d k_d| (f32 accumulation in
// a different order than the double reference).
TEST(Kernels, DotAndAccumulateMatchReference) {
  std::mt19937 rng(7);
  for (int hd : {8, 16, 24, 48, 64, 128, 200}) {
    for (int n : {1, 5, 63, 64, 130}) {
      const int n_q = 5, ld = n + 3;
      std::vector<float> rows = RandomVector(rng, n * hd, 1.0f),
                         q = RandomVector(rng, n_q * hd, 1.0f);
      std::vector<float> s(n_q * ld, -1), s_ref(n_q * ld, -1);
      DotRowsF32(rows.data(), n, hd, q.data(), n_q, s.data(), ld);
      DotRowsF32Reference(rows.data(), n, hd, q.data(), n_q, s_ref.data(), ld);
      for (int i = 0; i < n_q; ++i) {
        for (int j = 0; j < n; ++j) {
          double mag = 0;
          for (int d = 0; d < hd; ++d) mag += std::fabs(q[i * hd + d] * rows[j * hd + d]);
          ASSERT_NEAR(s[i * ld + j], s_ref[i * ld + j], 1e-5 * mag + 1e-6) << hd << " " << n;
        }
        ASSERT_EQ(s[i * ld + n], -1.0f) << "wrote past the row";
      }
      std::vector<float> w = RandomVector(rng, n_q * ld, 1.0f);
      std::vector<float> out = RandomVector(rng, n_q * hd, 1.0f), out_ref = out;
      AccumulateRowsF32(rows.data(), n, hd, w.data(), ld, n_q, out.data());
      AccumulateRowsF32Reference(rows.data(), n, hd, w.data(), ld, n_q, out_ref.data());
      for (int i = 0; i < n_q; ++i) {
        for (int d = 0; d < hd; ++d) {
          double mag = std::fabs(out_ref[i * hd + d]);
          for (int j = 0; j < n; ++j) mag += std::fabs(w[i * ld + j] * rows[j * hd + d]);
          ASSERT_NEAR(out[i * hd + d], out_ref[i * hd + d], 1e-5 * mag + 1e-6) << hd << " " << n;
        }
      }
    }
  }
}

TEST(Kernels, HalfDecodersAreExact) {
  std::vector<uint16_t> bits(70000);
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<uint16_t>(i * 40503u);
  std::vector<float> out(bits.size());
  DecodeF16(bits.data(), static_cast<int>(bits.size()), out.data());
  for (size_t i = 0; i < bits.size(); ++i) {
    const float ref = Fp16ToF32(bits[i]);
    if (std::isnan(ref)) {
      ASSERT_TRUE(std::isnan(out[i]));
    } else {
      ASSERT_EQ(std::memcmp(&out[i], &ref, 4), 0) << std::hex << bits[i];
    }
  }
  DecodeBf16(bits.data(), static_cast<int>(bits.size()), out.data());
  for (size_t i = 0; i < bits.size(); ++i) {
    const float ref = Bf16ToF32(bits[i]);
    ASSERT_EQ(std::memcmp(&out[i], &ref, 4), 0) << std::hex << bits[i];
  }
}

TEST(Kernels, BlockDecodersAreExact) {
  std::mt19937 rng(9);
  for (BlockType t :
       {BlockType::kQ8_0, BlockType::kQ4_0, BlockType::kQ4_1, BlockType::kQ5_0, BlockType::kQ5_1}) {
    for (int hd : {8, 16, 32, 64, 128}) {
      auto codec = MakeBlockCodec(t, hd);
      const int n = 7;
      std::vector<uint8_t> rows(codec->row_bytes() * n);
      std::vector<float> x = RandomVector(rng, n * hd, 2.0f);
      for (int j = 0; j < n; ++j) codec->Encode(&x[j * hd], 1.0f, &rows[j * codec->row_bytes()]);
      std::vector<float> fast(n * hd), ref(n * hd);
      codec->DecodeRows(rows.data(), n, 1.0f, fast.data());
      for (int j = 0; j < n; ++j)
        codec->DecodeReference(&rows[j * codec->row_bytes()], 1.0f, &ref[j * hd]);
      ASSERT_EQ(std::memcmp(fast.data(), ref.data(), fast.size() * 4), 0)
          << codec->name() << " hd " << hd;
    }
  }
}

TEST(Kernels, CodeUnpackingIsExact) {
  std::mt19937 rng(13);
  for (int bits : {2, 4, 8}) {
    for (int n : {8, 16, 64, 128, 256}) {
      std::vector<uint8_t> codes(n), packed(n * bits / 8);
      for (uint8_t& c : codes) c = static_cast<uint8_t>(rng() & ((1 << bits) - 1));
      PackCodes(codes.data(), bits, n, packed.data());
      std::vector<float> fast(n), ref(n);
      UnpackCodes(packed.data(), bits, n, fast.data());
      UnpackCodesReference(packed.data(), bits, n, ref.data());
      for (int c = 0; c < n; ++c) {
        ASSERT_EQ(ref[c], static_cast<float>(codes[c])) << bits << " " << n << " " << c;
        ASSERT_EQ(fast[c], ref[c]) << bits << " " << n << " " << c;
      }
    }
  }
}

// ---- fused kernels (decode in registers) ------------------------------------------------------

// One fused format: its rows' bytes and the f32 values its reference decoder gives.
struct FusedCase {
  std::string name;
  EncodedRows rows;
  std::vector<uint8_t> bytes;
  std::vector<float> decoded;  // (n, hd), from the scalar reference decoders
  std::vector<float> channel;  // kivi keys: (2, hd) scale then min
};

std::vector<FusedCase> FusedCases(std::mt19937& rng, int n, int hd) {
  std::vector<FusedCase> cases;
  const std::vector<float> x = RandomVector(rng, n * hd, 1.5f);
  auto from_codec = [&](std::unique_ptr<RowCodec> codec, float scale) {
    FusedCase c{codec->name(),
                {},
                std::vector<uint8_t>(codec->row_bytes() * n),
                std::vector<float>(static_cast<size_t>(n) * hd),
                {}};
    for (int j = 0; j < n; ++j) {
      codec->Encode(&x[j * hd], scale, &c.bytes[j * codec->row_bytes()]);
      codec->DecodeReference(&c.bytes[j * codec->row_bytes()], scale, &c.decoded[j * hd]);
    }
    EXPECT_TRUE(codec->Describe(c.bytes.data(), scale, &c.rows)) << c.name;
    cases.push_back(std::move(c));
  };
  {
    FusedCase c{"f32", {}, std::vector<uint8_t>(x.size() * 4), x, {}};
    std::memcpy(c.bytes.data(), x.data(), c.bytes.size());
    c.rows.format = EncodedRows::Format::kF32;
    c.rows.stride = 4 * static_cast<size_t>(hd);
    cases.push_back(std::move(c));
  }
  from_codec(MakeHalfCodec(HalfFormat::kF16, hd), 1.0f);
  from_codec(MakeHalfCodec(HalfFormat::kBf16, hd), 1.0f);
  for (BlockType t :
       {BlockType::kQ8_0, BlockType::kQ4_0, BlockType::kQ4_1, BlockType::kQ5_0, BlockType::kQ5_1})
    from_codec(MakeBlockCodec(t, hd), 1.0f);
  from_codec(MakeInt8Codec(hd), 1.0f);
  // fp8: every code (NaNs included) in random order, times a store scale.
  for (Fp8Format f : {Fp8Format::kE4M3, Fp8Format::kE5M2}) {
    FusedCase c{f == Fp8Format::kE4M3 ? "fp8_e4m3" : "fp8_e5m2",
                {},
                std::vector<uint8_t>(static_cast<size_t>(n) * hd),
                std::vector<float>(static_cast<size_t>(n) * hd),
                {}};
    const float scale = 0.0371f;
    for (size_t i = 0; i < c.bytes.size(); ++i) {
      c.bytes[i] = static_cast<uint8_t>(rng());
      c.decoded[i] = Fp8DecodeSlow(f, c.bytes[i]) * scale;
    }
    c.rows.format =
        f == Fp8Format::kE4M3 ? EncodedRows::Format::kFp8E4M3 : EncodedRows::Format::kFp8E5M2;
    c.rows.stride = hd;
    c.rows.scale = scale;
    cases.push_back(std::move(c));
  }
  // KIVI: random codes in planes; keys as raw codes and with per-channel params, values with
  // fp16 (scale, min) per channel group in front of each row.
  for (int bits : {2, 4, 8}) {
    if (hd * bits / 8 % 16 != 0) continue;
    const int code_bytes = hd * bits / 8;
    std::vector<uint8_t> codes(hd);
    std::vector<uint8_t> packed(static_cast<size_t>(n) * code_bytes);
    std::vector<float> unpacked(static_cast<size_t>(n) * hd);
    for (int j = 0; j < n; ++j) {
      for (uint8_t& k : codes) k = static_cast<uint8_t>(rng() & ((1 << bits) - 1));
      PackCodes(codes.data(), bits, hd, &packed[j * code_bytes]);
      UnpackCodesReference(&packed[j * code_bytes], bits, hd, &unpacked[j * hd]);
    }
    const std::string b = std::to_string(bits);
    FusedCase raw{"kivi codes " + b, {}, packed, unpacked, {}};
    raw.rows.format = EncodedRows::Format::kKiviCodes;
    raw.rows.stride = code_bytes;
    raw.rows.bits = bits;
    cases.push_back(raw);

    FusedCase key{"kivi key " + b, {}, packed, unpacked, RandomVector(rng, 2 * hd, 0.5f)};
    for (float& v : key.channel) v = Fp16ToF32(F32ToFp16(v));
    for (int j = 0; j < n; ++j)
      for (int d = 0; d < hd; ++d)
        key.decoded[j * hd + d] = unpacked[j * hd + d] * key.channel[d] + key.channel[hd + d];
    key.rows.format = EncodedRows::Format::kKiviKey;
    key.rows.stride = code_bytes;
    key.rows.bits = bits;
    cases.push_back(std::move(key));

    for (int group : {16, 32, 64, 128}) {
      if (group > hd || hd % group != 0) continue;
      const size_t params = 4 * static_cast<size_t>(hd / group), row = params + code_bytes;
      FusedCase value{"kivi value " + b + " g" + std::to_string(group),
                      {},
                      std::vector<uint8_t>(row * n),
                      unpacked,
                      {}};
      for (int j = 0; j < n; ++j) {
        uint8_t* r = &value.bytes[j * row];
        std::memcpy(r + params, &packed[j * code_bytes], code_bytes);
        for (int k = 0; k < hd / group; ++k) {
          const std::vector<float> sm = RandomVector(rng, 2, 0.5f);
          const uint16_t hs = F32ToFp16(std::fabs(sm[0])), hm = F32ToFp16(sm[1]);
          std::memcpy(r + 4 * k, &hs, 2);
          std::memcpy(r + 4 * k + 2, &hm, 2);
          for (int d = k * group; d < (k + 1) * group; ++d)
            value.decoded[j * hd + d] = unpacked[j * hd + d] * Fp16ToF32(hs) + Fp16ToF32(hm);
        }
      }
      value.rows.format = EncodedRows::Format::kKiviValue;
      value.rows.stride = row;
      value.rows.bits = bits;
      value.rows.group = group;
      cases.push_back(std::move(value));
    }
  }
  for (FusedCase& c : cases) {
    c.rows.data = c.bytes.data();
    if (!c.channel.empty()) {
      c.rows.channel_scale = c.channel.data();
      c.rows.channel_min = c.channel.data() + hd;
    }
  }
  return cases;
}

// Same bits, NaNs equal to each other.
bool SameBits(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, 4) == 0;
}

// Each fused kernel against (a) the f32 kernels on the rows its format's reference decoder gives,
// bit for bit (the decoders are exact and the arithmetic is the same), (b) the double-precision
// reference at 1e-5 of sum |q_d k_d| (as DotAndAccumulateMatchReference), and (c) itself one query
// and one length at a time (batch invariance), over tails of 8-row blocks and 64-row tiles.
TEST(Kernels, FusedKernelsMatchTheF32KernelsOnDecodedRows) {
  std::mt19937 rng(21);
  for (int hd : {32, 64, 96, 128}) {
    for (int n : {1, 5, 8, 9, 63, 64, 65, 130}) {
      for (FusedCase& c : FusedCases(rng, n, hd)) {
        for (int n_q : {1, 3, 4, 5, 8}) {
          const std::string what = c.name + " hd " + std::to_string(hd) + " n " +
                                   std::to_string(n) + " n_q " + std::to_string(n_q);
          ASSERT_TRUE(CanFuse(c.rows, hd, n_q)) << what;
          const int ld = n + 3;
          const std::vector<float> q = RandomVector(rng, n_q * hd, 1.0f);
          std::vector<float> s(n_q * ld, -1), s_f32(n_q * ld, -1), s_ref(n_q * ld, -1);
          DotRowsFused(c.rows, n, hd, q.data(), n_q, s.data(), ld);
          DotRowsF32(c.decoded.data(), n, hd, q.data(), n_q, s_f32.data(), ld);
          DotRowsF32Reference(c.decoded.data(), n, hd, q.data(), n_q, s_ref.data(), ld);
          for (int i = 0; i < n_q; ++i) {
            for (int j = 0; j < n; ++j) {
              ASSERT_TRUE(SameBits(s[i * ld + j], s_f32[i * ld + j])) << what << " dot " << j;
              if (!std::isfinite(s_ref[i * ld + j])) continue;  // fp8 inf / NaN: bits checked
              double mag = 0;
              for (int d = 0; d < hd; ++d) mag += std::fabs(q[i * hd + d] * c.decoded[j * hd + d]);
              ASSERT_NEAR(s[i * ld + j], s_ref[i * ld + j], 1e-5 * mag + 1e-6) << what;
            }
            ASSERT_EQ(s[i * ld + n], -1.0f) << what << ": wrote past the row";
          }
          // One query over the first m rows gives the same bits as the batch.
          const int m = std::max(1, n / 2 + 1), i = n_q - 1;
          std::vector<float> one(m);
          DotRowsFused(c.rows, m, hd, &q[i * hd], 1, one.data(), m);
          for (int j = 0; j < m; ++j)
            ASSERT_TRUE(SameBits(one[j], s[i * ld + j])) << what << " lone query " << j;

          // Weights with exact zeros (masked entries: the zero-skipping path) and one row whose
          // weights are all zero.
          std::vector<float> w = RandomVector(rng, n_q * ld, 1.0f);
          for (int k = 0; k < n_q * ld; k += 7) w[k] = 0.0f;
          for (int k = 0; k < n_q; ++k) w[k * ld + n / 2] = 0.0f;
          const std::vector<float> init = RandomVector(rng, n_q * hd, 1.0f);
          std::vector<float> out = init, out_f32 = init, out_ref = init;
          AccumulateRowsFused(c.rows, n, hd, w.data(), ld, n_q, out.data());
          AccumulateRowsF32(c.decoded.data(), n, hd, w.data(), ld, n_q, out_f32.data());
          AccumulateRowsF32Reference(c.decoded.data(), n, hd, w.data(), ld, n_q, out_ref.data());
          for (int k = 0; k < n_q * hd; ++k) {
            ASSERT_TRUE(SameBits(out[k], out_f32[k])) << what << " accumulate " << k;
            if (!std::isfinite(out_ref[k])) continue;
            const int qi = k / hd, d = k % hd;
            double mag = std::fabs(out_ref[k]);
            for (int j = 0; j < n; ++j) mag += std::fabs(w[qi * ld + j] * c.decoded[j * hd + d]);
            ASSERT_NEAR(out[k], out_ref[k], 1e-5 * mag + 1e-6) << what;
          }
          // One query at a time, the same bits.
          std::vector<float> lone(init.begin() + i * hd, init.begin() + (i + 1) * hd);
          AccumulateRowsFused(c.rows, n, hd, &w[i * ld], ld, 1, lone.data());
          for (int d = 0; d < hd; ++d)
            ASSERT_TRUE(SameBits(lone[d], out[i * hd + d])) << what << " lone query " << d;
        }
      }
    }
  }
}

// The shapes the fused kernels leave to the tile path.
TEST(Kernels, CanFuseShapes) {
  EncodedRows rows;
  rows.format = EncodedRows::Format::kF16;
  EXPECT_TRUE(CanFuse(rows, 128, 4));
  EXPECT_FALSE(CanFuse(rows, 16, 4));
  EXPECT_FALSE(CanFuse(rows, 48, 4));
  EXPECT_FALSE(CanFuse(rows, 256, 4));
  EXPECT_FALSE(CanFuse(rows, 128, kFusedMaxQueries + 1));
  rows.format = EncodedRows::Format::kKiviValue;
  rows.bits = 2;
  rows.group = 32;
  EXPECT_FALSE(CanFuse(rows, 32, 1));  // 8-byte code planes
  EXPECT_TRUE(CanFuse(rows, 64, 1));
  rows.group = 8;
  EXPECT_FALSE(CanFuse(rows, 64, 1));  // channel groups smaller than a chunk
}

}  // namespace
}  // namespace kvbench
