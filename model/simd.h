// The vector types every kernel is written in: 16 f32 lanes (F32x16), 8 f32 lanes (F32x8) and
// 16 int32 lanes (I32x16), with one implementation per instruction set:
//
//   simd_avx512  one 512-bit register per F32x16        (__AVX512F__ + BW/DQ/VL)
//   simd_avx2    two 256-bit registers per F32x16       (__AVX2__ + __FMA__ + __F16C__)
//   simd_scalar  arrays and loops                      (any CPU)
//
// `simd` names the best one the build targets (-march=native picks it). Why not just intrinsics:
// the same binary family runs on Sapphire Rapids (AVX-512) and on Zen 3 (AVX2 only), and a kernel
// written once against these types is fast on both.
//
// Every operation is defined lane by lane, plus two reductions with a fixed tree, so the three
// implementations give the same bits (tests/simd_test.cc checks each pair available on the host):
// - MulAdd is fused (one rounding) everywhere; Mul and Add round once.
// - ReduceAdd(v) = Sum8(v[0..7] + v[8..15]) with Sum8(a) = ((a0+a1)+(a2+a3)) + ((a4+a5)+(a6+a7)),
//   which is also what HorizontalSums8 computes for eight vectors at once.
// - Exp is one polynomial with one final scaling, exact to the rounding of the last multiply.
// A model's logits therefore do not depend on which of these machines computed them.
#ifndef KVBENCH_MODEL_SIMD_H_
#define KVBENCH_MODEL_SIMD_H_

#include <cmath>
#include <cstdint>
#include <cstring>

#include "formats/half.h"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#define KVBENCH_SIMD_AVX512 1
#endif
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define KVBENCH_SIMD_AVX2 1
#endif

namespace kvbench {

// Constants of Exp (Cephes' expf): x = n ln2 + r, |r| <= ln2 / 2, e^r by a degree-6 polynomial.
namespace simd_exp {
inline constexpr float kMinArg = -104.0f;  // below: e^x is 0 in f32 (2^-150)
inline constexpr float kMaxArg = 89.0f;    // above: e^x is inf in f32 (and 2^n stays in range)
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
inline constexpr float kP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
}  // namespace simd_exp


// The weight kernels read a tile of R rows side by side, R streams a row apart, and rows of the
// models' matrices are 1-11 KiB: a prefetch some bytes ahead inside a row lands in a row the tile
// is already reading, and the hardware prefetchers stop at 4 KiB pages. So each step of a tile
// asks for as many bytes of a tile further on (the rows are contiguous) as it reads of its own,
// into L2 (prefetcht2 hint), at least kPrefetchAheadBytes ahead: the stream runs a fixed distance
// ahead of the arithmetic whatever the tile's size. Measured on the 2-core Zen 4 VM, one thread,
// stories110M shape: F16 decode 33 -> 65 t/s (llama.cpp: 66), Q8_0 53 -> 150 t/s (8 KiB ahead gave
// 130, one 3 KiB tile ahead 87).
inline constexpr size_t kPrefetchAheadBytes = 16384;
inline size_t PrefetchAhead(size_t tile_bytes) {
  return tile_bytes * ((kPrefetchAheadBytes + tile_bytes - 1) / tile_bytes);
}
inline void PrefetchSpanL2(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 0, 1);
}

// ---------------------------------------------------------------------------------------------
// Scalar: the definition the vector versions reproduce.
namespace simd_scalar {

// N float lanes; the 16- and 8-lane types share one definition of each operation.
template <int N>
struct Lanes {
  float v[N];
};
using F32x16 = Lanes<16>;
using F32x8 = Lanes<8>;
struct I32x16 {
  int32_t v[16];
};

#define KVBENCH_LANES(N, expr)          \
  do {                                  \
    for (int i = 0; i < (N); ++i) expr; \
  } while (0)

template <int N>
inline Lanes<N> SetN(float x) {
  Lanes<N> r;
  KVBENCH_LANES(N, r.v[i] = x);
  return r;
}
template <int N>
inline Lanes<N> LoadLanes(const float* p) {
  Lanes<N> r;
  std::memcpy(r.v, p, sizeof(r.v));
  return r;
}
template <int N>
inline void Store(float* p, Lanes<N> a) {
  std::memcpy(p, a.v, sizeof(a.v));
}
template <int N>
inline Lanes<N> Mul(Lanes<N> a, Lanes<N> b) {
  KVBENCH_LANES(N, a.v[i] *= b.v[i]);
  return a;
}
// a * b + c, one rounding.
template <int N>
inline Lanes<N> MulAdd(Lanes<N> a, Lanes<N> b, Lanes<N> c) {
  KVBENCH_LANES(N, c.v[i] = std::fma(a.v[i], b.v[i], c.v[i]));
  return c;
}

inline F32x16 Zero() { return F32x16{}; }
inline F32x16 Set1(float x) { return SetN<16>(x); }
inline F32x16 Load(const float* p) { return LoadLanes<16>(p); }
// The first n lanes from p (0 <= n <= 16), zeros after; reads nothing past p + n.
inline F32x16 LoadN(const float* p, int n) {
  F32x16 r{};
  std::memcpy(r.v, p, sizeof(float) * n);
  return r;
}
inline void StoreN(float* p, F32x16 a, int n) { std::memcpy(p, a.v, sizeof(float) * n); }
inline F32x16 LoadF16(const uint16_t* p) {
  F32x16 r;
  KVBENCH_LANES(16, r.v[i] = Fp16ToF32(p[i]));
  return r;
}
inline F32x16 LoadBf16(const uint16_t* p) {
  F32x16 r;
  KVBENCH_LANES(16, r.v[i] = Bf16ToF32(p[i]));
  return r;
}
inline F32x16 LoadI8(const int8_t* p) {
  F32x16 r;
  KVBENCH_LANES(16, r.v[i] = static_cast<float>(p[i]));
  return r;
}
inline F32x16 Add(F32x16 a, F32x16 b) {
  KVBENCH_LANES(16, a.v[i] += b.v[i]);
  return a;
}
inline F32x16 Sub(F32x16 a, F32x16 b) {
  KVBENCH_LANES(16, a.v[i] -= b.v[i]);
  return a;
}
// a > b ? a : b, lane by lane (x86's maxps, including which operand a tie or a NaN returns).
inline F32x16 Max(F32x16 a, F32x16 b) {
  KVBENCH_LANES(16, a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i]);
  return a;
}
// Lanes >= n set to 0.
inline F32x16 KeepFirst(F32x16 a, int n) {
  for (int i = n; i < 16; ++i) a.v[i] = 0.0f;
  return a;
}
inline float Sum8(const float* a) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}
inline float ReduceAdd(F32x16 a) {
  float h[8];
  KVBENCH_LANES(8, h[i] = a.v[i] + a.v[i + 8]);
  return Sum8(h);
}
inline F32x16 Exp(F32x16 x) {
  using namespace simd_exp;
  F32x16 r;
  for (int i = 0; i < 16; ++i) {
    float xi = x.v[i] > kMinArg ? x.v[i] : kMinArg;
    xi = xi < kMaxArg ? xi : kMaxArg;
    const float n = std::nearbyint(xi * kLog2e);
    float t = std::fma(-n, kLn2Hi, xi);
    t = std::fma(-n, kLn2Lo, t);
    float p = kP[0];
    for (int k = 1; k < 6; ++k) p = std::fma(p, t, kP[k]);
    p = std::fma(p * t, t, t + 1.0f);
    r.v[i] = std::ldexp(p, static_cast<int>(n));
  }
  return r;
}

inline F32x8 Load8(const float* p) { return LoadLanes<8>(p); }
inline F32x8 Zero8() { return F32x8{}; }
inline F32x8 Set1x8(float x) { return SetN<8>(x); }
inline void Store8(float* p, F32x8 a) { Store(p, a); }
inline F32x8 Mul8(F32x8 a, F32x8 b) { return Mul(a, b); }
inline F32x8 MulAdd8(F32x8 a, F32x8 b, F32x8 c) { return MulAdd(a, b, c); }
// out[j] = Sum8(p[j]) for j < 8.
inline void HorizontalSums8(const F32x8* p, float* out) { KVBENCH_LANES(8, out[i] = Sum8(p[i].v)); }
// out[j] = ReduceAdd(a[j]) for j < 8.
inline void ReduceAdd8(const F32x16* a, float* out) { KVBENCH_LANES(8, out[i] = ReduceAdd(a[i])); }

inline I32x16 SetI(int32_t x) {
  I32x16 r;
  KVBENCH_LANES(16, r.v[i] = x);
  return r;
}
inline I32x16 Iota() {
  I32x16 r;
  KVBENCH_LANES(16, r.v[i] = i);
  return r;
}
inline I32x16 LoadU8(const uint8_t* p) {
  I32x16 r;
  KVBENCH_LANES(16, r.v[i] = p[i]);
  return r;
}
inline I32x16 And(I32x16 a, I32x16 b) {
  KVBENCH_LANES(16, a.v[i] &= b.v[i]);
  return a;
}
inline I32x16 Or(I32x16 a, I32x16 b) {
  KVBENCH_LANES(16, a.v[i] |= b.v[i]);
  return a;
}
inline I32x16 SubI(I32x16 a, I32x16 b) {
  KVBENCH_LANES(16, a.v[i] -= b.v[i]);
  return a;
}
// Logical shifts by a count per lane (0..31).
inline I32x16 ShiftRight(I32x16 a, I32x16 n) {
  KVBENCH_LANES(16, a.v[i] = static_cast<int32_t>(static_cast<uint32_t>(a.v[i]) >> n.v[i]));
  return a;
}
inline I32x16 ShiftLeft(I32x16 a, I32x16 n) {
  KVBENCH_LANES(16, a.v[i] = static_cast<int32_t>(static_cast<uint32_t>(a.v[i]) << n.v[i]));
  return a;
}
inline F32x16 ToF32(I32x16 a) {
  F32x16 r;
  KVBENCH_LANES(16, r.v[i] = static_cast<float>(a.v[i]));
  return r;
}
// The low 16 bits of each lane read as an fp16 value (exact: every fp16 is an f32). The fused
// attention kernels build fp8 values as fp16 bit patterns with it.
inline F32x16 HalfBitsToF32(I32x16 a) {
  F32x16 r;
  KVBENCH_LANES(16, r.v[i] = Fp16ToF32(static_cast<uint16_t>(a.v[i])));
  return r;
}

#undef KVBENCH_LANES
}  // namespace simd_scalar

// ---------------------------------------------------------------------------------------------
#if defined(KVBENCH_SIMD_AVX2) || defined(KVBENCH_SIMD_AVX512)
namespace simd_x86 {
// 8 lanes and the eight-way transpose-add tree, shared by the AVX2 and AVX-512 versions.
struct F32x8 {
  __m256 v;
};
inline F32x8 Load8(const float* p) { return {_mm256_loadu_ps(p)}; }
inline F32x8 Zero8() { return {_mm256_setzero_ps()}; }
inline F32x8 Set1x8(float x) { return {_mm256_set1_ps(x)}; }
inline void Store8(float* p, F32x8 a) { _mm256_storeu_ps(p, a.v); }
inline F32x8 Mul8(F32x8 a, F32x8 b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline F32x8 MulAdd8(F32x8 a, F32x8 b, F32x8 c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
// hadd pairs adjacent lanes, so two rounds give ((a0+a1)+(a2+a3)) and ((a4+a5)+(a6+a7)) of four
// vectors, and the cross-lane add joins them: Sum8 of each of the eight inputs.
inline __m256 Sums8(__m256 p0, __m256 p1, __m256 p2, __m256 p3, __m256 p4, __m256 p5, __m256 p6,
                    __m256 p7) {
  const __m256 t0 = _mm256_hadd_ps(p0, p1), t1 = _mm256_hadd_ps(p2, p3);
  const __m256 t2 = _mm256_hadd_ps(p4, p5), t3 = _mm256_hadd_ps(p6, p7);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}
inline void HorizontalSums8(const F32x8* p, float* out) {
  _mm256_storeu_ps(out, Sums8(p[0].v, p[1].v, p[2].v, p[3].v, p[4].v, p[5].v, p[6].v, p[7].v));
}
inline float Sum8(__m256 a) {
  const __m128 h =
      _mm_hadd_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));  // a01 a23 a45 a67
  const __m128 q = _mm_hadd_ps(h, h);                                       // a0123 a4567
  return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
}
// 2^n for integral n in [-150, 128], as p * 2^(n/2) * 2^(n - n/2): each factor is a normal
// float, so the product rounds once, exactly as scalef / ldexp do.
inline __m256 Scale2(__m256 p, __m256 n) {
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, f1), f2);
}
}  // namespace simd_x86
#endif

#if defined(KVBENCH_SIMD_AVX2)
namespace simd_avx2 {
using namespace simd_x86;  // F32x8 and its operations

struct F32x16 {
  __m256 lo, hi;
};
struct I32x16 {
  __m256i lo, hi;
};

inline __m256i FirstLanes(int n) {  // all-ones in lanes < n of an 8-lane vector
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline F32x16 Zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
inline F32x16 Set1(float x) { return {_mm256_set1_ps(x), _mm256_set1_ps(x)}; }
inline F32x16 Load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
inline F32x16 LoadN(const float* p, int n) {
  return {_mm256_maskload_ps(p, FirstLanes(n)), _mm256_maskload_ps(p + 8, FirstLanes(n - 8))};
}
inline void Store(float* p, F32x16 a) {
  _mm256_storeu_ps(p, a.lo);
  _mm256_storeu_ps(p + 8, a.hi);
}
inline void StoreN(float* p, F32x16 a, int n) {
  _mm256_maskstore_ps(p, FirstLanes(n), a.lo);
  _mm256_maskstore_ps(p + 8, FirstLanes(n - 8), a.hi);
}
inline F32x16 LoadF16(const uint16_t* p) {
  return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)))};
}
inline __m256 Bf16x8(__m128i h) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
inline F32x16 LoadBf16(const uint16_t* p) {
  return {Bf16x8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
          Bf16x8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)))};
}
// Two 8-byte loads, each widened straight from memory (vpmovsxbd ymm, m64): no byte shuffle.
inline F32x16 LoadI8(const int8_t* p) {
  return {_mm256_cvtepi32_ps(
              _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))),
          _mm256_cvtepi32_ps(
              _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8))))};
}
inline F32x16 Add(F32x16 a, F32x16 b) {
  return {_mm256_add_ps(a.lo, b.lo), _mm256_add_ps(a.hi, b.hi)};
}
inline F32x16 Sub(F32x16 a, F32x16 b) {
  return {_mm256_sub_ps(a.lo, b.lo), _mm256_sub_ps(a.hi, b.hi)};
}
inline F32x16 Mul(F32x16 a, F32x16 b) {
  return {_mm256_mul_ps(a.lo, b.lo), _mm256_mul_ps(a.hi, b.hi)};
}
inline F32x16 MulAdd(F32x16 a, F32x16 b, F32x16 c) {
  return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
}
inline F32x16 Max(F32x16 a, F32x16 b) {
  return {_mm256_max_ps(a.lo, b.lo), _mm256_max_ps(a.hi, b.hi)};
}
inline F32x16 KeepFirst(F32x16 a, int n) {
  return {_mm256_and_ps(a.lo, _mm256_castsi256_ps(FirstLanes(n))),
          _mm256_and_ps(a.hi, _mm256_castsi256_ps(FirstLanes(n - 8)))};
}
inline float ReduceAdd(F32x16 a) { return simd_x86::Sum8(_mm256_add_ps(a.lo, a.hi)); }
inline void ReduceAdd8(const F32x16* a, float* out) {
  _mm256_storeu_ps(
      out, simd_x86::Sums8(_mm256_add_ps(a[0].lo, a[0].hi), _mm256_add_ps(a[1].lo, a[1].hi),
                           _mm256_add_ps(a[2].lo, a[2].hi), _mm256_add_ps(a[3].lo, a[3].hi),
                           _mm256_add_ps(a[4].lo, a[4].hi), _mm256_add_ps(a[5].lo, a[5].hi),
                           _mm256_add_ps(a[6].lo, a[6].hi), _mm256_add_ps(a[7].lo, a[7].hi)));
}
inline __m256 Exp8(__m256 x) {
  using namespace simd_exp;
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kMinArg)), _mm256_set1_ps(kMaxArg));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP[0]);
  for (int k = 1; k < 6; ++k) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP[k]));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  return simd_x86::Scale2(p, n);
}
inline F32x16 Exp(F32x16 x) { return {Exp8(x.lo), Exp8(x.hi)}; }

inline I32x16 SetI(int32_t x) { return {_mm256_set1_epi32(x), _mm256_set1_epi32(x)}; }
inline I32x16 Iota() {
  return {_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
          _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15)};
}
inline I32x16 LoadU8(const uint8_t* p) {
  return {_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))),
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)))};
}
inline I32x16 And(I32x16 a, I32x16 b) {
  return {_mm256_and_si256(a.lo, b.lo), _mm256_and_si256(a.hi, b.hi)};
}
inline I32x16 Or(I32x16 a, I32x16 b) {
  return {_mm256_or_si256(a.lo, b.lo), _mm256_or_si256(a.hi, b.hi)};
}
inline I32x16 SubI(I32x16 a, I32x16 b) {
  return {_mm256_sub_epi32(a.lo, b.lo), _mm256_sub_epi32(a.hi, b.hi)};
}
inline I32x16 ShiftRight(I32x16 a, I32x16 n) {
  return {_mm256_srlv_epi32(a.lo, n.lo), _mm256_srlv_epi32(a.hi, n.hi)};
}
inline I32x16 ShiftLeft(I32x16 a, I32x16 n) {
  return {_mm256_sllv_epi32(a.lo, n.lo), _mm256_sllv_epi32(a.hi, n.hi)};
}
inline F32x16 ToF32(I32x16 a) { return {_mm256_cvtepi32_ps(a.lo), _mm256_cvtepi32_ps(a.hi)}; }
// Lanes hold values < 2^16, so the unsigned saturating pack keeps each one's low 16 bits.
inline __m256 HalfBits8(__m256i a) {
  return _mm256_cvtph_ps(
      _mm_packus_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1)));
}
inline F32x16 HalfBitsToF32(I32x16 a) { return {HalfBits8(a.lo), HalfBits8(a.hi)}; }
}  // namespace simd_avx2
#endif

#if defined(KVBENCH_SIMD_AVX512)
namespace simd_avx512 {
using namespace simd_x86;  // F32x8 and its operations

struct F32x16 {
  __m512 v;
};
struct I32x16 {
  __m512i v;
};

inline __mmask16 FirstLanes(int n) {
  return n >= 16 ? 0xffff : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1);
}
inline __m256 Half8(__m512 a, int k) {
  return _mm256_castpd_ps(k == 0 ? _mm512_castpd512_pd256(_mm512_castps_pd(a))
                                 : _mm512_extractf64x4_pd(_mm512_castps_pd(a), 1));
}

inline F32x16 Zero() { return {_mm512_setzero_ps()}; }
inline F32x16 Set1(float x) { return {_mm512_set1_ps(x)}; }
inline F32x16 Load(const float* p) { return {_mm512_loadu_ps(p)}; }
inline F32x16 LoadN(const float* p, int n) { return {_mm512_maskz_loadu_ps(FirstLanes(n), p)}; }
inline void Store(float* p, F32x16 a) { _mm512_storeu_ps(p, a.v); }
inline void StoreN(float* p, F32x16 a, int n) { _mm512_mask_storeu_ps(p, FirstLanes(n), a.v); }
inline F32x16 LoadF16(const uint16_t* p) {
  return {_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)))};
}
inline F32x16 LoadBf16(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return {_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))};
}
inline F32x16 LoadI8(const int8_t* p) {
  return {_mm512_cvtepi32_ps(
      _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))))};
}
inline F32x16 Add(F32x16 a, F32x16 b) { return {_mm512_add_ps(a.v, b.v)}; }
inline F32x16 Sub(F32x16 a, F32x16 b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline F32x16 Mul(F32x16 a, F32x16 b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline F32x16 MulAdd(F32x16 a, F32x16 b, F32x16 c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline F32x16 Max(F32x16 a, F32x16 b) { return {_mm512_max_ps(a.v, b.v)}; }
inline F32x16 KeepFirst(F32x16 a, int n) { return {_mm512_maskz_mov_ps(FirstLanes(n), a.v)}; }
inline __m256 Fold(__m512 a) { return _mm256_add_ps(Half8(a, 0), Half8(a, 1)); }
inline float ReduceAdd(F32x16 a) { return simd_x86::Sum8(Fold(a.v)); }
inline void ReduceAdd8(const F32x16* a, float* out) {
  _mm256_storeu_ps(out, simd_x86::Sums8(Fold(a[0].v), Fold(a[1].v), Fold(a[2].v), Fold(a[3].v),
                                        Fold(a[4].v), Fold(a[5].v), Fold(a[6].v), Fold(a[7].v)));
}
inline F32x16 Exp(F32x16 a) {
  using namespace simd_exp;
  const __m512 x =
      _mm512_min_ps(_mm512_max_ps(a.v, _mm512_set1_ps(kMinArg)), _mm512_set1_ps(kMaxArg));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kP[0]);
  for (int k = 1; k < 6; ++k) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP[k]));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return {_mm512_scalef_ps(p, n)};
}

inline I32x16 SetI(int32_t x) { return {_mm512_set1_epi32(x)}; }
inline I32x16 Iota() {
  return {_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)};
}
inline I32x16 LoadU8(const uint8_t* p) {
  return {_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))};
}
inline I32x16 And(I32x16 a, I32x16 b) { return {_mm512_and_si512(a.v, b.v)}; }
inline I32x16 Or(I32x16 a, I32x16 b) { return {_mm512_or_si512(a.v, b.v)}; }
inline I32x16 SubI(I32x16 a, I32x16 b) { return {_mm512_sub_epi32(a.v, b.v)}; }
inline I32x16 ShiftRight(I32x16 a, I32x16 n) { return {_mm512_srlv_epi32(a.v, n.v)}; }
inline I32x16 ShiftLeft(I32x16 a, I32x16 n) { return {_mm512_sllv_epi32(a.v, n.v)}; }
inline F32x16 ToF32(I32x16 a) { return {_mm512_cvtepi32_ps(a.v)}; }
inline F32x16 HalfBitsToF32(I32x16 a) { return {_mm512_cvtph_ps(_mm512_cvtepi32_epi16(a.v))}; }
}  // namespace simd_avx512
#endif

#if defined(KVBENCH_SIMD_AVX512)
namespace simd = simd_avx512;
inline constexpr const char* kSimdName = "avx512";
#elif defined(KVBENCH_SIMD_AVX2)
namespace simd = simd_avx2;
inline constexpr const char* kSimdName = "avx2";
#else
namespace simd = simd_scalar;
inline constexpr const char* kSimdName = "scalar";
#endif

}  // namespace kvbench

#endif  // KVBENCH_MODEL_SIMD_H_
