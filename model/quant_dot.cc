#include "model/quant_dot.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "formats/half.h"
#include "model/quant_weights.h"
#include "model/simd.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace kvbench {
namespace {

bool IsKType(DType type) { return BlockValues(type) == kQK_K; }

float Sum8(const float* a) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

float LoadHalf(const uint16_t& h) { return HalfToF32(h); }

// ---------------------------------------------------------------------------------------------
// Scalar codes of one block, in value order.

// A legacy block's 32 signed codes and its scale.
void LegacyCodes(DType type, const std::byte* block, int8_t codes[32], float* d) {
  switch (type) {
    case DType::kQ8_0: {
      uint16_t h;
      std::memcpy(&h, block, 2);
      *d = HalfToF32(h);
      std::memcpy(codes, block + 2, 32);
      return;
    }
    case DType::kQ4_0: {
      const auto& b = *reinterpret_cast<const BlockQ4_0*>(block);
      *d = LoadHalf(b.d);
      for (int j = 0; j < 16; ++j) {
        codes[j] = static_cast<int8_t>((b.qs[j] & 0xF) - 8);
        codes[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) - 8);
      }
      return;
    }
    case DType::kQ5_0: {
      const auto& b = *reinterpret_cast<const BlockQ5_0*>(block);
      *d = LoadHalf(b.d);
      uint32_t qh;
      std::memcpy(&qh, b.qh, 4);
      for (int j = 0; j < 16; ++j) {
        codes[j] = static_cast<int8_t>(((b.qs[j] & 0xF) | ((qh >> j & 1) << 4)) - 16);
        codes[j + 16] = static_cast<int8_t>(((b.qs[j] >> 4) | ((qh >> (j + 16) & 1) << 4)) - 16);
      }
      return;
    }
    default:
      KVBENCH_CHECK(false, "%s is not a legacy block type of the 8-bit dot", DTypeName(type));
  }
}

// A K block's 256 codes (Q4_K / Q5_K: 0..31 unsigned; Q6_K: -32..31), its group scales (eight
// groups of 32 values; Q6_K: sixteen of 16), minimums (Q4_K / Q5_K) and super-block scales.
struct KCodes {
  int codes[kQK_K];
  int scales[16];
  int mins[8];
  float d, dmin;
};

void KBlockCodes(DType type, const std::byte* block, KCodes* out) {
  if (type == DType::kQ6_K) {
    const auto& b = *reinterpret_cast<const BlockQ6_K*>(block);
    out->d = LoadHalf(b.d);
    out->dmin = 0.0f;
    for (int i = 0; i < 16; ++i) out->scales[i] = b.scales[i];
    for (int n = 0; n < 2; ++n) {
      const uint8_t* ql = b.ql + 64 * n;
      const uint8_t* qh = b.qh + 32 * n;
      int* y = out->codes + 128 * n;
      for (int l = 0; l < 32; ++l) {
        y[l] = ((ql[l] & 0xF) | ((qh[l] >> 0 & 3) << 4)) - 32;
        y[l + 32] = ((ql[l + 32] & 0xF) | ((qh[l] >> 2 & 3) << 4)) - 32;
        y[l + 64] = ((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
        y[l + 96] = ((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
      }
    }
    return;
  }
  KVBENCH_CHECK(type == DType::kQ4_K || type == DType::kQ5_K);
  const bool five = type == DType::kQ5_K;
  // Q4_K and Q5_K share the leading fields (d, dmin, scales); Q5_K then has qh before qs.
  const auto& head = *reinterpret_cast<const BlockQ4_K*>(block);
  const uint8_t* qh = five ? reinterpret_cast<const BlockQ5_K*>(block)->qh : nullptr;
  const uint8_t* qs = five ? reinterpret_cast<const BlockQ5_K*>(block)->qs : head.qs;
  out->d = LoadHalf(head.d);
  out->dmin = LoadHalf(head.dmin);
  for (int j = 0; j < 8; ++j) UnpackScaleMin(head.scales, j, &out->scales[j], &out->mins[j]);
  for (int j = 0; j < 8; ++j) {
    const uint8_t* q = qs + 32 * (j / 2);
    for (int l = 0; l < 32; ++l) {
      int code = j % 2 == 0 ? q[l] & 0xF : q[l] >> 4;
      if (five) code |= ((qh[l] >> j) & 1) << 4;
      out->codes[32 * j + l] = code;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// AVX2 tiles (also the AVX-512 builds' path: the lanes are defined on eight 32-bit sums).
#if defined(__AVX2__)

// The eight 6-bit scales and minimums of a Q4_K / Q5_K block, unpacked four bytes at a time (the
// word form of UnpackScaleMin): out[0..7] scales, out[8..15] minimums.
void UnpackScalesMins(const uint8_t* packed, uint8_t out[16]) {
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  uint32_t w[3];
  std::memcpy(w, packed, 12);
  const uint32_t u[4] = {w[0] & kLow6, (w[2] & kLow4) | (((w[0] >> 6) & kLow2) << 4), w[1] & kLow6,
                         ((w[2] >> 4) & kLow4) | (((w[1] >> 6) & kLow2) << 4)};
  std::memcpy(out, u, 16);
}

inline __m256i SignedDot(__m256i w, __m256i x) {
  // |w| (unsigned) times x with w's sign: maddubs multiplies unsigned by signed bytes, and a
  // pair of products is at most 2 * 128 * 127 < 2^15, so nothing saturates.
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

// Byte i = 0x10 when bit i of `bits` is set (the fifth bit of a Q5_0 code).
inline __m256i FifthBitBytes(uint32_t bits) {
  const __m256i spread =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int32_t>(bits)),
                          _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                             0x0202020202020202, 0x0303030303030303));
  const __m256i mask = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, mask), mask),
                          _mm256_set1_epi8(0x10));
}

template <DType T>
inline __m256i LegacyCodesAvx2(const std::byte* block, float* d) {
  if constexpr (T == DType::kQ8_0) {
    uint16_t h;
    std::memcpy(&h, block, 2);
    *d = HalfToF32(h);
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
  } else {
    using Block = std::conditional_t<T == DType::kQ4_0, BlockQ4_0, BlockQ5_0>;
    const Block& b = *reinterpret_cast<const Block*>(block);
    *d = HalfToF32(b.d);
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
    const __m128i low4 = _mm_set1_epi8(0x0F);
    __m256i codes =
        _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), low4), _mm_and_si128(q, low4));
    if constexpr (T == DType::kQ5_0) {
      uint32_t qh;
      std::memcpy(&qh, b.qh, 4);
      return _mm256_sub_epi8(_mm256_or_si256(codes, FifthBitBytes(qh)), _mm256_set1_epi8(16));
    } else {
      return _mm256_sub_epi8(codes, _mm256_set1_epi8(8));
    }
  }
}

inline float Sum8(__m256 v) {
  alignas(32) float a[8];
  _mm256_store_ps(a, v);
  return Sum8(a);
}

template <DType T, int R, int V>
void LegacyTile(const std::byte* w, size_t row_bytes, const std::byte* xq, size_t xq_bytes,
                int64_t cols, float* y, size_t ld_y) {
  constexpr int kBlockBytes = BlockBytes(T);
  __m256 acc[R][V];
  for (auto& row : acc) {
    for (auto& a : row) a = _mm256_setzero_ps();
  }
  const std::byte* next_tile = w + PrefetchAhead(R * row_bytes);
  for (int64_t b = 0; b < cols / kQK; ++b) {
    __m256i codes[R];
    float dw[R];
    PrefetchSpanL2(next_tile + b * R * kBlockBytes, R * kBlockBytes);
    for (int r = 0; r < R; ++r) {
      const std::byte* block = w + r * row_bytes + b * kBlockBytes;
      codes[r] = LegacyCodesAvx2<T>(block, &dw[r]);
    }
    for (int v = 0; v < V; ++v) {
      const BlockQ8x32& x = reinterpret_cast<const BlockQ8x32*>(xq + v * xq_bytes)[b];
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs));
      for (int r = 0; r < R; ++r) {
        acc[r][v] = _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * x.d),
                                    _mm256_cvtepi32_ps(SignedDot(codes[r], xv)), acc[r][v]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) y[v * ld_y + r] = Sum8(acc[r][v]);
  }
}

#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
// The legacy tile for pairs of vectors on AVX-512 VNNI: one zmm holds the eight lanes of a row
// with vector v (low half) and with vector v + 1 (high half). vpdpbusd multiplies unsigned by
// signed bytes, so the activations go in as u = x + 128 (x ^ 0x80) and each lane starts from
// -128 * (its four codes' sum): the lane is then sum(w * x) exactly, the same int32 as the AVX2
// tile's maddubs + madd (nothing saturates: vpdpbusd adds into int32). Each half is scaled and
// summed in LegacyTile's order, so the outputs are bit for bit those of the AVX2 tile and of
// Q8DotReference. Four instructions per pair of outputs and block (dpbusd, convert, scale, FMA)
// where the AVX2 tile takes about six per output: prefill of Q8_0 / Q4_0 / Q5_0 weights.
template <DType T, int R, int V>
void LegacyTileVnni(const std::byte* w, size_t row_bytes, const std::byte* xq, size_t xq_bytes,
                    int64_t cols, float* y, size_t ld_y) {
  static_assert(V % 2 == 0);
  constexpr int kPairs = V / 2, kBlockBytes = BlockBytes(T);
  __m512 acc[R][kPairs];
  for (auto& row : acc) {
    for (auto& a : row) a = _mm512_setzero_ps();
  }
  const std::byte* next_tile = w + PrefetchAhead(R * row_bytes);
  for (int64_t b = 0; b < cols / kQK; ++b) {
    PrefetchSpanL2(next_tile + b * R * kBlockBytes, R * kBlockBytes);
    __m512i u[kPairs];
    __m512 xd[kPairs];
    for (int p = 0; p < kPairs; ++p) {
      const BlockQ8x32& x0 = reinterpret_cast<const BlockQ8x32*>(xq + (2 * p) * xq_bytes)[b];
      const BlockQ8x32& x1 = reinterpret_cast<const BlockQ8x32*>(xq + (2 * p + 1) * xq_bytes)[b];
      u[p] = _mm512_inserti64x4(
          _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x0.qs))),
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x1.qs)), 1);
      u[p] = _mm512_xor_si512(u[p], _mm512_set1_epi8(static_cast<char>(0x80)));
      xd[p] =
          _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(x0.d)), _mm256_set1_ps(x1.d), 1);
    }
    for (int r = 0; r < R; ++r) {
      float dw;
      const __m512i codes =
          _mm512_broadcast_i64x4(LegacyCodesAvx2<T>(w + r * row_bytes + b * kBlockBytes, &dw));
      const __m512i offset =
          _mm512_sub_epi32(_mm512_setzero_si512(),
                           _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                                               _mm512_set1_epi8(static_cast<char>(0x80)), codes));
      const __m512 vdw = _mm512_set1_ps(dw);
      for (int p = 0; p < kPairs; ++p) {
        const __m512i sums = _mm512_dpbusd_epi32(offset, u[p], codes);
        acc[r][p] = _mm512_fmadd_ps(_mm512_mul_ps(vdw, xd[p]), _mm512_cvtepi32_ps(sums), acc[r][p]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int p = 0; p < kPairs; ++p) {
      y[(2 * p) * ld_y + r] = Sum8(_mm512_castps512_ps256(acc[r][p]));
      y[(2 * p + 1) * ld_y + r] = Sum8(_mm512_extractf32x8_ps(acc[r][p], 1));
    }
  }
}
#endif

// Codes of group g (values 32g .. 32g + 31) of a K block and their scales as 16 int16 lanes.
template <DType T>
inline __m256i KGroupCodes(const std::byte* block, int g, const uint8_t* scales_mins,
                           __m256i* scale) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  if constexpr (T == DType::kQ6_K) {
    const BlockQ6_K& b = *reinterpret_cast<const BlockQ6_K*>(block);
    const int n = g / 4, k = g % 4;
    const __m256i ql =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * n + 32 * (k % 2)));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * n));
    const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(ql, _mm_cvtsi32_si128(4 * (k / 2))), low4);
    const __m256i hi = _mm256_slli_epi16(
        _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * k)), _mm256_set1_epi8(3)), 4);
    *scale = _mm256_set_m128i(_mm_set1_epi16(b.scales[2 * g + 1]), _mm_set1_epi16(b.scales[2 * g]));
    return _mm256_sub_epi8(_mm256_or_si256(lo, hi), _mm256_set1_epi8(32));
  } else {
    using Block = std::conditional_t<T == DType::kQ4_K, BlockQ4_K, BlockQ5_K>;
    const Block& b = *reinterpret_cast<const Block*>(block);
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * (g / 2)));
    __m256i codes = _mm256_and_si256(g % 2 == 0 ? q : _mm256_srli_epi16(q, 4), low4);
    if constexpr (T == DType::kQ5_K) {
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh));
      const __m256i bit =
          _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(g)), _mm256_set1_epi8(1));
      codes = _mm256_or_si256(codes, _mm256_slli_epi16(bit, 4));
    }
    *scale = _mm256_set1_epi16(scales_mins[g]);
    return codes;
  }
}

template <DType T, int R, int V>
void KTile(const std::byte* w, size_t row_bytes, const std::byte* xq, size_t xq_bytes, int64_t cols,
           float* y, size_t ld_y) {
  constexpr bool kMins = T != DType::kQ6_K;
  constexpr int kBlockBytes = BlockBytes(T);
  __m256 acc[R][V];
  __m128 mins[R][V];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) {
      acc[r][v] = _mm256_setzero_ps();
      mins[r][v] = _mm_setzero_ps();
    }
  }
  for (int64_t i = 0; i < cols / kQK_K; ++i) {
    const std::byte* blocks[R];
    float dw[R], dmin[R];
    alignas(16) uint8_t scales_mins[R][16];
    PrefetchSpanL2(w + PrefetchAhead(R * row_bytes) + i * R * kBlockBytes, R * kBlockBytes);
    for (int r = 0; r < R; ++r) {
      blocks[r] = w + r * row_bytes + i * kBlockBytes;
      if constexpr (kMins) {
        const BlockQ4_K& head = *reinterpret_cast<const BlockQ4_K*>(blocks[r]);
        dw[r] = HalfToF32(head.d);
        dmin[r] = HalfToF32(head.dmin);
        UnpackScalesMins(head.scales, scales_mins[r]);
      } else {
        dw[r] = HalfToF32(reinterpret_cast<const BlockQ6_K*>(blocks[r])->d);
      }
    }
    const BlockQ8x256* x[V];
    for (int v = 0; v < V; ++v) x[v] = reinterpret_cast<const BlockQ8x256*>(xq + v * xq_bytes) + i;
    __m256i sums[R][V];
    for (auto& row : sums) {
      for (auto& s : row) s = _mm256_setzero_si256();
    }
    for (int g = 0; g < 8; ++g) {
      __m256i codes[R], scale[R];
      for (int r = 0; r < R; ++r)
        codes[r] = KGroupCodes<T>(blocks[r], g, scales_mins[r], &scale[r]);
      for (int v = 0; v < V; ++v) {
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[v]->qs + 32 * g));
        for (int r = 0; r < R; ++r) {
          // Q4_K / Q5_K codes are unsigned and go to maddubs as they are (2 * 31 * 127 < 2^15);
          // Q6_K's are signed.
          __m256i pairs;
          if constexpr (kMins) {
            pairs = _mm256_maddubs_epi16(codes[r], xv);
          } else {
            pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(codes[r], codes[r]),
                                         _mm256_sign_epi8(xv, codes[r]));
          }
          sums[r][v] = _mm256_add_epi32(sums[r][v], _mm256_madd_epi16(pairs, scale[r]));
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int v = 0; v < V; ++v) {
        acc[r][v] = _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * x[v]->d), _mm256_cvtepi32_ps(sums[r][v]),
                                    acc[r][v]);
      }
    }
    if constexpr (kMins) {
      for (int r = 0; r < R; ++r) {
        const __m128i m = _mm_cvtepu8_epi16(
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(scales_mins[r] + 8)));
        for (int v = 0; v < V; ++v) {
          const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[v]->sums));
          mins[r][v] = _mm_fmadd_ps(_mm_set1_ps(dmin[r] * x[v]->d),
                                    _mm_cvtepi32_ps(_mm_madd_epi16(m, s)), mins[r][v]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) {
      alignas(16) float m[4];
      _mm_store_ps(m, mins[r][v]);
      y[v * ld_y + r] = Sum8(acc[r][v]) - ((m[0] + m[1]) + (m[2] + m[3]));
    }
  }
}

template <DType T, int R, int V>
void Tile(const std::byte* w, size_t row_bytes, const std::byte* xq, size_t xq_bytes, int64_t cols,
          float* y, size_t ld_y) {
  if constexpr (BlockValues(T) == kQK_K) {
    KTile<T, R, V>(w, row_bytes, xq, xq_bytes, cols, y, ld_y);
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
  } else if constexpr (V % 2 == 0) {
    LegacyTileVnni<T, R, V>(w, row_bytes, xq, xq_bytes, cols, y, ld_y);
#endif
  } else {
    LegacyTile<T, R, V>(w, row_bytes, xq, xq_bytes, cols, y, ld_y);
  }
}

// Rows R at a time, then one at a time, for V vectors.
template <DType T, int R, int V>
void Rows(const std::byte* w, size_t row_bytes, int n_rows, const std::byte* xq, size_t xq_bytes,
          int64_t cols, float* y, size_t ld_y) {
  int r = 0;
  for (; r + R <= n_rows; r += R)
    Tile<T, R, V>(w + r * row_bytes, row_bytes, xq, xq_bytes, cols, y + r, ld_y);
  for (; r < n_rows; ++r)
    Tile<T, 1, V>(w + r * row_bytes, row_bytes, xq, xq_bytes, cols, y + r, ld_y);
}

// Tiles: 16 ymm registers hold the accumulators (two per output for the K types), the codes of
// the tile's rows and the scale vectors. Vectors four at a time share each decoded weight group;
// a single vector (decode) takes several rows for independent FMA chains.
template <DType T>
void DotsTyped(const std::byte* w, size_t row_bytes, int n_rows, const std::byte* xq,
               size_t xq_bytes, int n_vec, int64_t cols, float* y, size_t ld_y) {
  constexpr bool kK = BlockValues(T) == kQK_K;
  constexpr int kSingleRows = kK ? 2 : 4;
  // Four rows a tile for the VNNI legacy tile (one zmm accumulator per row and vector pair), two
  // for AVX2's.
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
  constexpr int kQuadRows = kK ? 1 : 4;
#else
  constexpr int kQuadRows = kK ? 1 : 2;
#endif
  int v = 0;
  for (; v + 4 <= n_vec; v += 4) {
    Rows<T, kQuadRows, 4>(w, row_bytes, n_rows, xq + v * xq_bytes, xq_bytes, cols, y + v * ld_y,
                          ld_y);
  }
  for (; v + 2 <= n_vec; v += 2) {
    Rows<T, 2, 2>(w, row_bytes, n_rows, xq + v * xq_bytes, xq_bytes, cols, y + v * ld_y, ld_y);
  }
  for (; v < n_vec; ++v) {
    Rows<T, kSingleRows, 1>(w, row_bytes, n_rows, xq + v * xq_bytes, xq_bytes, cols, y + v * ld_y,
                            ld_y);
  }
}

#endif  // __AVX2__

}  // namespace

size_t Q8ActivationBytes(DType type, int64_t cols) {
  KVBENCH_CHECK(UsesQ8Activations(type), "%s has no 8-bit activation dot", DTypeName(type));
  return IsKType(type) ? sizeof(BlockQ8x256) * static_cast<size_t>(cols / kQK_K)
                       : sizeof(BlockQ8x32) * static_cast<size_t>(cols / kQK);
}

void QuantizeActivations(DType type, const float* x, int64_t cols, std::byte* out) {
  const int block = IsKType(type) ? kQK_K : kQK;
  KVBENCH_CHECK(cols % block == 0, "%lld activations are not whole blocks of %d",
                static_cast<long long>(cols), block);
  for (int64_t b = 0; b < cols / block; ++b) {
    const float* xb = x + b * block;
    float amax = 0.0f;
    for (int j = 0; j < block; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    int8_t q[kQK_K];
    for (int j = 0; j < block; ++j) q[j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));
    const float d = amax / 127.0f;
    if (block == kQK) {
      auto* y = reinterpret_cast<BlockQ8x32*>(out) + b;
      y->d = d;
      std::memcpy(y->qs, q, kQK);
    } else {
      auto* y = reinterpret_cast<BlockQ8x256*>(out) + b;
      y->d = d;
      std::memcpy(y->qs, q, kQK_K);
      for (int g = 0; g < 8; ++g) {
        int s = 0;
        for (int j = 0; j < 32; ++j) s += q[32 * g + j];
        y->sums[g] = static_cast<int16_t>(s);
      }
    }
  }
}

float Q8DotReference(DType type, const std::byte* row, const std::byte* xq, int64_t cols) {
  KVBENCH_CHECK(UsesQ8Activations(type), "%s has no 8-bit activation dot", DTypeName(type));
  float lanes[8] = {}, mins[4] = {};
  if (!IsKType(type)) {
    const auto* x = reinterpret_cast<const BlockQ8x32*>(xq);
    for (int64_t b = 0; b < cols / kQK; ++b) {
      int8_t codes[32];
      float dw;
      LegacyCodes(type, row + b * BlockBytes(type), codes, &dw);
      const float d = dw * x[b].d;
      for (int k = 0; k < 8; ++k) {
        int32_t s = 0;
        for (int i = 4 * k; i < 4 * k + 4; ++i) s += codes[i] * x[b].qs[i];
        lanes[k] = std::fma(d, static_cast<float>(s), lanes[k]);
      }
    }
    return Sum8(lanes);
  }
  const auto* x = reinterpret_cast<const BlockQ8x256*>(xq);
  KCodes k;
  for (int64_t b = 0; b < cols / kQK_K; ++b) {
    KBlockCodes(type, row + b * BlockBytes(type), &k);
    int32_t sums[8] = {};
    for (int g = 0; g < 8; ++g) {
      for (int lane = 0; lane < 8; ++lane) {
        const int scale = type == DType::kQ6_K ? k.scales[2 * g + lane / 4] : k.scales[g];
        int32_t s = 0;
        for (int i = 32 * g + 4 * lane; i < 32 * g + 4 * lane + 4; ++i)
          s += k.codes[i] * x[b].qs[i];
        sums[lane] += scale * s;
      }
    }
    const float d = k.d * x[b].d;
    for (int lane = 0; lane < 8; ++lane)
      lanes[lane] = std::fma(d, static_cast<float>(sums[lane]), lanes[lane]);
    if (type != DType::kQ6_K) {
      const float dm = k.dmin * x[b].d;
      for (int t = 0; t < 4; ++t) {
        const int32_t s =
            k.mins[2 * t] * x[b].sums[2 * t] + k.mins[2 * t + 1] * x[b].sums[2 * t + 1];
        mins[t] = std::fma(dm, static_cast<float>(s), mins[t]);
      }
    }
  }
  return Sum8(lanes) - ((mins[0] + mins[1]) + (mins[2] + mins[3]));
}

void Q8Dots(DType type, const std::byte* w, size_t row_bytes, int n_rows, const std::byte* xq,
            size_t xq_bytes, int n_vec, int64_t cols, float* y, size_t ld_y) {
#if defined(__AVX2__)
  switch (type) {
    case DType::kQ8_0:
      return DotsTyped<DType::kQ8_0>(w, row_bytes, n_rows, xq, xq_bytes, n_vec, cols, y, ld_y);
    case DType::kQ4_0:
      return DotsTyped<DType::kQ4_0>(w, row_bytes, n_rows, xq, xq_bytes, n_vec, cols, y, ld_y);
    case DType::kQ5_0:
      return DotsTyped<DType::kQ5_0>(w, row_bytes, n_rows, xq, xq_bytes, n_vec, cols, y, ld_y);
    case DType::kQ4_K:
      return DotsTyped<DType::kQ4_K>(w, row_bytes, n_rows, xq, xq_bytes, n_vec, cols, y, ld_y);
    case DType::kQ5_K:
      return DotsTyped<DType::kQ5_K>(w, row_bytes, n_rows, xq, xq_bytes, n_vec, cols, y, ld_y);
    case DType::kQ6_K:
      return DotsTyped<DType::kQ6_K>(w, row_bytes, n_rows, xq, xq_bytes, n_vec, cols, y, ld_y);
    default:
      break;
  }
  KVBENCH_CHECK(false, "%s has no 8-bit activation dot", DTypeName(type));
#else
  for (int v = 0; v < n_vec; ++v) {
    for (int r = 0; r < n_rows; ++r) {
      y[v * ld_y + r] = Q8DotReference(type, w + r * row_bytes, xq + v * xq_bytes, cols);
    }
  }
#endif
}

}  // namespace kvbench
