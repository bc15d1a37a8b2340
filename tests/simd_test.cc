// model/simd.h promises that its AVX-512, AVX2 and scalar implementations give the same bits, so
// kernels written against it (and so the logits) do not depend on the machine. Every operation the
// kernels use is checked here, on random and special inputs, for each implementation pair the host
// can run (on an AVX2-only machine: avx2 vs scalar; on AVX-512: all three).
#include "model/simd.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "formats/half.h"
#include "gtest/gtest.h"

namespace kvbench {
namespace {

// Array-in, array-out wrappers of one implementation, so implementations can be compared.
struct Ops {
  std::string name;
  void (*mul_add)(const float* a, const float* b, const float* c, float* out);
  void (*exp)(const float* x, float* out);
  float (*reduce_add)(const float* x);
  void (*reduce_add8)(const float* x, float* out);       // x: 8 x 16
  void (*horizontal_sums8)(const float* x, float* out);  // x: 8 x 8
  void (*load_n)(const float* x, int n,
                 float* out);  // LoadN(n), KeepFirst(n - 1), StoreN(n) on zeros
  void (*max)(const float* a, const float* b, float* out);
  void (*load_f16)(const uint16_t* x, float* out);
  void (*load_bf16)(const uint16_t* x, float* out);
  void (*load_i8)(const int8_t* x, float* out);
  void (*unpack)(const uint8_t* x, int shift,
                 float* out);  // ((u8 >> shift) & 7 | bit 4 of lane) as f32
  void (*half_bits)(const uint16_t* x, float* out);  // HalfBitsToF32 of the codes widened
};

#define KVBENCH_OPS(NS)                                                                                 \
  Ops {                                                                                                 \
#NS,                                                                                                  \
      [](const float* a, const float* b, const float* c, float* out) {                                      \
        NS::Store(out, NS::MulAdd(NS::Load(a), NS::Load(b), NS::Load(c)));                                  \
      },                                                                                                    \
      [](const float* x, float* out) { NS::Store(out, NS::Exp(NS::Load(x))); },                             \
      [](const float* x) { return NS::ReduceAdd(NS::Load(x)); },                                            \
      [](const float* x, float* out) {                                                                      \
        NS::F32x16 v[8];                                                                                    \
        for (int i = 0; i < 8; ++i) v[i] = NS::Load(x + 16 * i);                                            \
        NS::ReduceAdd8(v, out);                                                                             \
      },                                                                                                    \
      [](const float* x, float* out) {                                                                      \
        NS::F32x8 v[8];                                                                                     \
        for (int i = 0; i < 8; ++i) v[i] = NS::Load8(x + 8 * i);                                            \
        NS::HorizontalSums8(v, out);                                                                        \
      },                                                                                                    \
      [](const float* x, int n, float* out) {                                                               \
        NS::Store(out, NS::Zero());                                                                         \
        NS::F32x16 v = NS::KeepFirst(NS::LoadN(x, n), n > 0 ? n - 1 : 0);                                   \
        NS::StoreN(out, v, n);                                                                              \
      },                                                                                                    \
      [](const float* a, const float* b, float* out) { NS::Store(out, NS::Max(NS::Load(a), NS::Load(b))); }, \
      [](const uint16_t* x, float* out) { NS::Store(out, NS::LoadF16(x)); },                                \
      [](const uint16_t* x, float* out) { NS::Store(out, NS::LoadBf16(x)); },                               \
      [](const int8_t* x, float* out) { NS::Store(out, NS::LoadI8(x)); },                                   \
      [](const uint8_t* x, int shift, float* out) {                                                         \
        const NS::I32x16 v = NS::ShiftRight(NS::LoadU8(x), NS::SetI(shift));                                \
        const NS::I32x16 bit = NS::ShiftLeft(NS::And(NS::Iota(), NS::SetI(1)), NS::SetI(4));                \
        NS::Store(out, NS::ToF32(NS::SubI(NS::Or(NS::And(v, NS::SetI(7)), bit), NS::SetI(3))));             \
      },                                                                                                    \
      [](const uint16_t* x, float* out) {                                                                   \
        const uint8_t* b = reinterpret_cast<const uint8_t*>(x);                                             \
        const NS::I32x16 lo = NS::LoadU8(b), hi = NS::LoadU8(b + 16);                                       \
        NS::Store(out, NS::HalfBitsToF32(NS::Or(NS::ShiftLeft(hi, NS::SetI(8)), lo)));                      \
      } \
  }

std::vector<Ops> Implementations() {
  std::vector<Ops> ops = {KVBENCH_OPS(simd_scalar)};
#if defined(KVBENCH_SIMD_AVX2)
  ops.push_back(KVBENCH_OPS(simd_avx2));
#endif
#if defined(KVBENCH_SIMD_AVX512)
  ops.push_back(KVBENCH_OPS(simd_avx512));
#endif
  return ops;
}

// Bitwise equality, NaNs equal to each other whatever their payload.
void ExpectSameBits(const float* a, const float* b, int n, const std::string& what) {
  for (int i = 0; i < n; ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    ASSERT_EQ(std::bit_cast<uint32_t>(a[i]), std::bit_cast<uint32_t>(b[i]))
        << what << " lane " << i << ": " << a[i] << " vs " << b[i];
  }
}

// Random floats across magnitudes and signs, with zeros, subnormals and infinities mixed in.
std::vector<float> Floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
  std::uniform_int_distribution<int> expo(-40, 40), pick(0, 63);
  std::vector<float> x(n);
  for (float& v : x) {
    switch (pick(rng)) {
      case 0:
        v = 0.0f;
        break;
      case 1:
        v = -0.0f;
        break;
      case 2:
        v = std::numeric_limits<float>::denorm_min() * 77;
        break;
      case 3:
        v = std::numeric_limits<float>::infinity();
        break;
      default:
        v = std::ldexp(mant(rng), expo(rng));
    }
  }
  return x;
}

class SimdTest : public testing::Test {
 protected:
  void ForEachPair(const std::function<void(const Ops&, const Ops&)>& f) {
    const std::vector<Ops> ops = Implementations();
    for (size_t i = 1; i < ops.size(); ++i) f(ops[0], ops[i]);
    if (ops.size() < 2) GTEST_SKIP() << "only the scalar implementation is built for this host";
  }
};

TEST_F(SimdTest, ArithmeticAndReductionsAgree) {
  const std::vector<float> a = Floats(16 * 500, 1), b = Floats(16 * 500, 2),
                           c = Floats(16 * 500, 3);
  ForEachPair([&](const Ops& ref, const Ops& x) {
    float r[16], y[16];
    for (size_t k = 0; k + 16 <= a.size(); k += 16) {
      ref.mul_add(&a[k], &b[k], &c[k], r);
      x.mul_add(&a[k], &b[k], &c[k], y);
      ExpectSameBits(r, y, 16, x.name + " MulAdd");
      ref.max(&a[k], &b[k], r);
      x.max(&a[k], &b[k], y);
      ExpectSameBits(r, y, 16, x.name + " Max");
      const float s0 = ref.reduce_add(&a[k]), s1 = x.reduce_add(&a[k]);
      ExpectSameBits(&s0, &s1, 1, x.name + " ReduceAdd");
    }
    for (size_t k = 0; k + 128 <= a.size(); k += 128) {
      float r8[8], y8[8], single[8];
      ref.reduce_add8(&a[k], r8);
      x.reduce_add8(&a[k], y8);
      ExpectSameBits(r8, y8, 8, x.name + " ReduceAdd8");
      for (int i = 0; i < 8; ++i) single[i] = x.reduce_add(&a[k + 16 * i]);
      ExpectSameBits(single, y8, 8, x.name + " ReduceAdd8 vs ReduceAdd");
      ref.horizontal_sums8(&a[k], r8);
      x.horizontal_sums8(&a[k], y8);
      ExpectSameBits(r8, y8, 8, x.name + " HorizontalSums8");
    }
  });
}

TEST_F(SimdTest, ExpAgreesAndIsAccurate) {
  // Softmax feeds x - max <= 0, SwiGLU any -g: cover underflow to overflow.
  std::vector<float> x;
  for (float v = -110.0f; v <= 95.0f; v += 0.00731f) x.push_back(v);
  for (float v :
       {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity(), 1000.0f})
    x.push_back(v);
  while (x.size() % 16 != 0) x.push_back(0.0f);
  ForEachPair([&](const Ops& ref, const Ops& y) {
    float r[16], o[16];
    for (size_t k = 0; k < x.size(); k += 16) {
      ref.exp(&x[k], r);
      y.exp(&x[k], o);
      ExpectSameBits(r, o, 16, y.name + " Exp");
    }
  });
  // And it is e^x to about 1 ulp (2e-7 relative) where the result is normal.
  const Ops scalar = Implementations()[0];
  float r[16];
  for (size_t k = 0; k < x.size(); k += 16) {
    scalar.exp(&x[k], r);
    for (int i = 0; i < 16; ++i) {
      const double want = std::exp(static_cast<double>(x[k + i]));
      if (want < 1e-37 || want > 3e38) continue;
      EXPECT_NEAR(r[i], want, 3e-7 * want) << "x = " << x[k + i];
    }
  }
}

TEST_F(SimdTest, PartialLoadsAndStoresTouchOnlyTheirLanes) {
  const std::vector<float> a = Floats(16, 4);
  ForEachPair([&](const Ops& ref, const Ops& x) {
    for (int n = 0; n <= 16; ++n) {
      float r[16], y[16];
      ref.load_n(a.data(), n, r);
      x.load_n(a.data(), n, y);
      ExpectSameBits(r, y, 16, x.name + " LoadN/KeepFirst/StoreN n=" + std::to_string(n));
    }
  });
  // The scalar definition itself: lanes < n - 1 loaded, lane n - 1 cleared, lanes >= n untouched.
  float out[16];
  Implementations()[0].load_n(a.data(), 5, out);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], a[i]);
  for (int i = 4; i < 16; ++i) EXPECT_EQ(out[i], 0.0f);
}

TEST_F(SimdTest, ConversionsAgreeOnEveryCode) {
  std::vector<uint16_t> halves(65536);
  for (int i = 0; i < 65536; ++i) halves[i] = static_cast<uint16_t>(i);
  std::vector<int8_t> bytes(256);
  for (int i = 0; i < 256; ++i) bytes[i] = static_cast<int8_t>(i - 128);
  ForEachPair([&](const Ops& ref, const Ops& x) {
    float r[16], y[16];
    for (int k = 0; k < 65536; k += 16) {
      ref.load_f16(&halves[k], r);
      x.load_f16(&halves[k], y);
      ExpectSameBits(r, y, 16, x.name + " LoadF16");
      ref.load_bf16(&halves[k], r);
      x.load_bf16(&halves[k], y);
      ExpectSameBits(r, y, 16, x.name + " LoadBf16");
    }
    // HalfBitsToF32 on lanes (hi << 8) | lo built from two byte loads: every fp16 code, as
    // 16 low bytes and 16 high bytes.
    std::vector<uint16_t> split(16);
    for (int k = 0; k < 65536; k += 16) {
      auto* b = reinterpret_cast<uint8_t*>(split.data());
      for (int i = 0; i < 16; ++i) {
        b[i] = static_cast<uint8_t>(halves[k + i]);
        b[16 + i] = static_cast<uint8_t>(halves[k + i] >> 8);
      }
      ref.half_bits(split.data(), r);
      x.half_bits(split.data(), y);
      ExpectSameBits(r, y, 16, x.name + " HalfBitsToF32");
    }
    for (int k = 0; k < 256; k += 16) {
      ref.load_i8(&bytes[k], r);
      x.load_i8(&bytes[k], y);
      ExpectSameBits(r, y, 16, x.name + " LoadI8");
      for (int shift = 0; shift < 8; ++shift) {
        ref.unpack(reinterpret_cast<const uint8_t*>(&bytes[k]), shift, r);
        x.unpack(reinterpret_cast<const uint8_t*>(&bytes[k]), shift, y);
        ExpectSameBits(r, y, 16, x.name + " integer ops");
      }
    }
  });
  // The scalar conversions are the formats' definitions.
  float r[16];
  Implementations()[0].load_f16(&halves[0x3c00], r);
  EXPECT_EQ(r[0], 1.0f);
  Implementations()[0].load_bf16(&halves[0x3f80], r);
  EXPECT_EQ(r[0], 1.0f);
}

}  // namespace
}  // namespace kvbench
