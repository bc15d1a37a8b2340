// FP8 number formats (OCP 8-bit floating point, as in vLLM's FP8 KV cache), emulated in software.
//
//   e4m3 ("E4M3FN"): 1 sign, 4 exponent (bias 7), 3 mantissa bits. No infinities; S.1111.111 is
//                    NaN, so the largest finite value is 1.75 * 2^8 = 448. Subnormals down to 2^-9.
//   e5m2:            1 sign, 5 exponent (bias 15), 2 mantissa bits, IEEE-like: exponent 31 is
//                    inf/NaN, largest finite 1.75 * 2^15 = 57344. Subnormals down to 2^-16.
//
// Encoding rounds to nearest, ties to even, and saturates: anything beyond the largest finite value
// (infinities included) becomes +-max finite, as vLLM's and NVIDIA's saturating conversions do. NaN
// stays NaN. The relative error of a value in the normal range is at most 2^-(mantissa bits + 1):
// 2^-4 for e4m3, 2^-3 for e5m2. Decoding goes through a 256-entry table.
#ifndef KVBENCH_STORES_FP8_H_
#define KVBENCH_STORES_FP8_H_

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace kvbench {

enum class Fp8Format { kE4M3, kE5M2 };

struct Fp8Traits {
  int exp_bits;
  int mant_bits;
  int bias;
  uint8_t max_code;  // positive code of the largest finite value
  uint8_t nan_code;
  bool has_inf;
};

constexpr Fp8Traits Fp8TraitsOf(Fp8Format f) {
  return f == Fp8Format::kE4M3 ? Fp8Traits{4, 3, 7, 0x7e, 0x7f, false}
                               : Fp8Traits{5, 2, 15, 0x7b, 0x7e, true};
}

// The value of a code, computed from the definition (the table below is built from this).
constexpr float Fp8DecodeSlow(Fp8Format f, uint8_t code) {
  const Fp8Traits t = Fp8TraitsOf(f);
  const bool neg = code & 0x80;
  const int exp = (code >> t.mant_bits) & ((1 << t.exp_bits) - 1);
  const int mant = code & ((1 << t.mant_bits) - 1);
  float v = 0;
  if (f == Fp8Format::kE4M3 && (code & 0x7f) == 0x7f)
    return std::numeric_limits<float>::quiet_NaN();
  if (t.has_inf && exp == (1 << t.exp_bits) - 1) {
    v = mant == 0 ? std::numeric_limits<float>::infinity()
                  : std::numeric_limits<float>::quiet_NaN();
  } else {
    // value = (exp ? 1 + mant / 2^M : mant / 2^M) * 2^(max(exp, 1) - bias), built by doubling so it
    // stays a constant expression.
    float m = exp == 0 ? static_cast<float>(mant) / static_cast<float>(1 << t.mant_bits)
                       : 1.0f + static_cast<float>(mant) / static_cast<float>(1 << t.mant_bits);
    int e = (exp == 0 ? 1 : exp) - t.bias;
    for (; e > 0; --e) m *= 2.0f;
    for (; e < 0; ++e) m *= 0.5f;
    v = m;
  }
  return neg ? -v : v;
}

inline float Fp8MaxFinite(Fp8Format f) { return Fp8DecodeSlow(f, Fp8TraitsOf(f).max_code); }

inline const std::array<float, 256>& Fp8Table(Fp8Format f) {
  static const std::array<float, 256> kE4M3 = [] {
    std::array<float, 256> t{};
    for (int c = 0; c < 256; ++c) t[c] = Fp8DecodeSlow(Fp8Format::kE4M3, static_cast<uint8_t>(c));
    return t;
  }();
  static const std::array<float, 256> kE5M2 = [] {
    std::array<float, 256> t{};
    for (int c = 0; c < 256; ++c) t[c] = Fp8DecodeSlow(Fp8Format::kE5M2, static_cast<uint8_t>(c));
    return t;
  }();
  return f == Fp8Format::kE4M3 ? kE4M3 : kE5M2;
}

inline float Fp8Decode(Fp8Format f, uint8_t code) { return Fp8Table(f)[code]; }

inline uint8_t Fp8Encode(Fp8Format f, float x) {
  const Fp8Traits t = Fp8TraitsOf(f);
  if (std::isnan(x)) return t.nan_code;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const float a = std::fabs(x);
  if (a == 0) return sign;
  const int emin = 1 - t.bias;  // exponent of the smallest normal
  int e = std::ilogb(a);        // a = 1.m * 2^e (inf gives INT_MAX: saturates below)
  if (e > 64) return sign | t.max_code;
  // Quantum (spacing of representable values) at a's binade; subnormals share the smallest
  // normal's.
  const int q_exp = (e < emin ? emin : e) - t.mant_bits;
  // a / 2^q_exp is exact (power-of-two scaling, no underflow for these ranges); rint ties to even.
  const float q = std::nearbyint(std::ldexp(a, -q_exp));
  uint32_t code;
  if (e < emin) {
    code = static_cast<uint32_t>(q);  // subnormal; q == 2^M lands exactly on the smallest normal
  } else {
    // q in [2^M, 2^(M+1)]; q == 2^(M+1) carries into the exponent field, as it should.
    code = (static_cast<uint32_t>(e + t.bias) << t.mant_bits) + static_cast<uint32_t>(q) -
           (1u << t.mant_bits);
  }
  if (code > t.max_code) code = t.max_code;
  return static_cast<uint8_t>(sign | code);
}

}  // namespace kvbench

#endif  // KVBENCH_STORES_FP8_H_
