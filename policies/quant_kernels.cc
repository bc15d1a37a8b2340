#include "policies/quant_kernels.h"

#include <algorithm>
#include <cstring>

#include "model/half.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace kvbench {
namespace {

#if defined(__AVX512F__)
// Lanes of the last 16-float chunk of a row of hd values.
inline __mmask16 TailMask(int hd) {
  const int rem = hd % 16;
  return rem == 0 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << rem) - 1);
}

// NC = number of 16-float chunks per row (hd <= 16 * NC); the row of each key stays in registers
// while every query is dotted with it.
template <int NC>
void DotTile(const float* rows, int n, int hd, const float* q, int n_q, float* scores, int ld) {
  const __mmask16 tail = TailMask(hd);
  __m512 r[NC];
  for (int j = 0; j < n; ++j) {
    const float* kj = rows + static_cast<size_t>(j) * hd;
    for (int c = 0; c < NC; ++c) r[c] = _mm512_maskz_loadu_ps(c == NC - 1 ? tail : 0xffff, kj + 16 * c);
    for (int i = 0; i < n_q; ++i) {
      const float* qi = q + static_cast<size_t>(i) * hd;
      __m512 acc = _mm512_mul_ps(r[0], _mm512_maskz_loadu_ps(NC == 1 ? tail : 0xffff, qi));
      for (int c = 1; c < NC; ++c) {
        acc = _mm512_fmadd_ps(r[c], _mm512_maskz_loadu_ps(c == NC - 1 ? tail : 0xffff, qi + 16 * c), acc);
      }
      scores[static_cast<size_t>(i) * ld + j] = _mm512_reduce_add_ps(acc);
    }
  }
}

// head_dim 8 or 16 (the real tiny models): one reduction per score would cost more than the dot
// product itself, so eight rows are scored at once. Each row's products sit in one 256-bit vector
// (the two halves of a 16-wide row added first); a transpose-add tree turns eight such vectors into
// the eight scores. Rows past n are zeros and their scores are not stored, so every score goes
// through the same arithmetic wherever it falls in the tile.
inline __m256 EightHorizontalSums(const __m256* p) {
  const __m256 t0 = _mm256_hadd_ps(p[0], p[1]), t1 = _mm256_hadd_ps(p[2], p[3]);
  const __m256 t2 = _mm256_hadd_ps(p[4], p[5]), t3 = _mm256_hadd_ps(p[6], p[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

template <int HD>
void DotSmallHead(const float* rows, int n, const float* q, int n_q, float* scores, int ld) {
  static_assert(HD == 8 || HD == 16);
  for (int j = 0; j < n; j += 8) {
    const int nr = std::min(8, n - j);
    const float* k = rows + static_cast<size_t>(j) * HD;
    for (int i = 0; i < n_q; ++i) {
      const float* qi = q + static_cast<size_t>(i) * HD;
      const __m256 q0 = _mm256_loadu_ps(qi);
      __m256 p[8];
      for (int r = 0; r < 8; ++r) {
        if (r >= nr) {
          p[r] = _mm256_setzero_ps();
        } else if constexpr (HD == 8) {
          p[r] = _mm256_mul_ps(_mm256_loadu_ps(k + r * HD), q0);
        } else {
          p[r] = _mm256_fmadd_ps(_mm256_loadu_ps(k + r * HD + 8), _mm256_loadu_ps(qi + 8),
                                 _mm256_mul_ps(_mm256_loadu_ps(k + r * HD), q0));
        }
      }
      _mm256_mask_storeu_ps(scores + static_cast<size_t>(i) * ld + j, static_cast<__mmask8>((1u << nr) - 1),
                            EightHorizontalSums(p));
    }
  }
}

// Any hd: chunks streamed from memory.
void DotTileAny(const float* rows, int n, int hd, const float* q, int n_q, float* scores, int ld) {
  const __mmask16 tail = TailMask(hd);
  const int nc = (hd + 15) / 16;
  for (int j = 0; j < n; ++j) {
    const float* kj = rows + static_cast<size_t>(j) * hd;
    for (int i = 0; i < n_q; ++i) {
      const float* qi = q + static_cast<size_t>(i) * hd;
      __m512 acc = _mm512_setzero_ps();
      for (int c = 0; c < nc; ++c) {
        const __mmask16 m = c == nc - 1 ? tail : 0xffff;
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, kj + 16 * c), _mm512_maskz_loadu_ps(m, qi + 16 * c), acc);
      }
      scores[static_cast<size_t>(i) * ld + j] = _mm512_reduce_add_ps(acc);
    }
  }
}

// out_i (in registers, NC chunks) += w_ij * row_j over the tile, query by query; the tile is small
// enough to stay in L1 across queries.
template <int NC>
void AccumulateTile(const float* rows, int n, int hd, const float* w, int ld_w, int n_q, float* out) {
  const __mmask16 tail = TailMask(hd);
  for (int i = 0; i < n_q; ++i) {
    float* o = out + static_cast<size_t>(i) * hd;
    const float* wi = w + static_cast<size_t>(i) * ld_w;
    __m512 acc[NC];
    for (int c = 0; c < NC; ++c) acc[c] = _mm512_maskz_loadu_ps(c == NC - 1 ? tail : 0xffff, o + 16 * c);
    for (int j = 0; j < n; ++j) {
      if (wi[j] == 0.0f) continue;  // causally masked entries of a prefill block
      const __m512 p = _mm512_set1_ps(wi[j]);
      const float* vj = rows + static_cast<size_t>(j) * hd;
      for (int c = 0; c < NC; ++c) {
        acc[c] = _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(c == NC - 1 ? tail : 0xffff, vj + 16 * c), acc[c]);
      }
    }
    for (int c = 0; c < NC; ++c) _mm512_mask_storeu_ps(o + 16 * c, c == NC - 1 ? tail : 0xffff, acc[c]);
  }
}

void AccumulateTileAny(const float* rows, int n, int hd, const float* w, int ld_w, int n_q, float* out) {
  const __mmask16 tail = TailMask(hd);
  const int nc = (hd + 15) / 16;
  for (int i = 0; i < n_q; ++i) {
    float* o = out + static_cast<size_t>(i) * hd;
    const float* wi = w + static_cast<size_t>(i) * ld_w;
    for (int c = 0; c < nc; ++c) {
      const __mmask16 m = c == nc - 1 ? tail : 0xffff;
      __m512 acc = _mm512_maskz_loadu_ps(m, o + 16 * c);
      for (int j = 0; j < n; ++j) {
        acc = _mm512_fmadd_ps(_mm512_set1_ps(wi[j]),
                              _mm512_maskz_loadu_ps(m, rows + static_cast<size_t>(j) * hd + 16 * c), acc);
      }
      _mm512_mask_storeu_ps(o + 16 * c, m, acc);
    }
  }
}
#endif

}  // namespace

void DotRowsF32(const float* rows, int n, int hd, const float* q, int n_q, float* scores, int ld) {
#if defined(__AVX512F__)
  if (hd == 8) return DotSmallHead<8>(rows, n, q, n_q, scores, ld);
  if (hd == 16) return DotSmallHead<16>(rows, n, q, n_q, scores, ld);
  switch ((hd + 15) / 16) {
    case 1: return DotTile<1>(rows, n, hd, q, n_q, scores, ld);
    case 2: return DotTile<2>(rows, n, hd, q, n_q, scores, ld);
    case 3: return DotTile<3>(rows, n, hd, q, n_q, scores, ld);
    case 4: return DotTile<4>(rows, n, hd, q, n_q, scores, ld);
    case 5: return DotTile<5>(rows, n, hd, q, n_q, scores, ld);
    case 6: return DotTile<6>(rows, n, hd, q, n_q, scores, ld);
    case 7: return DotTile<7>(rows, n, hd, q, n_q, scores, ld);
    case 8: return DotTile<8>(rows, n, hd, q, n_q, scores, ld);
    default: return DotTileAny(rows, n, hd, q, n_q, scores, ld);
  }
#else
  for (int j = 0; j < n; ++j) {
    const float* kj = rows + static_cast<size_t>(j) * hd;
    for (int i = 0; i < n_q; ++i) {
      const float* qi = q + static_cast<size_t>(i) * hd;
      float acc = 0.0f;
      for (int d = 0; d < hd; ++d) acc += qi[d] * kj[d];
      scores[static_cast<size_t>(i) * ld + j] = acc;
    }
  }
#endif
}

void DotRowsF32Reference(const float* rows, int n, int hd, const float* q, int n_q, float* scores,
                         int ld) {
  for (int i = 0; i < n_q; ++i) {
    for (int j = 0; j < n; ++j) {
      double acc = 0;
      for (int d = 0; d < hd; ++d) acc += static_cast<double>(q[static_cast<size_t>(i) * hd + d]) * rows[static_cast<size_t>(j) * hd + d];
      scores[static_cast<size_t>(i) * ld + j] = static_cast<float>(acc);
    }
  }
}

void AccumulateRowsF32(const float* rows, int n, int hd, const float* w, int ld_w, int n_q, float* out) {
  // Tiles keep the rows cache-resident while every query reads them.
  for (int j0 = 0; j0 < n; j0 += kTileRows) {
    const int nt = std::min(kTileRows, n - j0);
    const float* tile = rows + static_cast<size_t>(j0) * hd;
    const float* wt = w + j0;
#if defined(__AVX512F__)
    switch ((hd + 15) / 16) {
      case 1: AccumulateTile<1>(tile, nt, hd, wt, ld_w, n_q, out); break;
      case 2: AccumulateTile<2>(tile, nt, hd, wt, ld_w, n_q, out); break;
      case 3: AccumulateTile<3>(tile, nt, hd, wt, ld_w, n_q, out); break;
      case 4: AccumulateTile<4>(tile, nt, hd, wt, ld_w, n_q, out); break;
      case 5: AccumulateTile<5>(tile, nt, hd, wt, ld_w, n_q, out); break;
      case 6: AccumulateTile<6>(tile, nt, hd, wt, ld_w, n_q, out); break;
      case 7: AccumulateTile<7>(tile, nt, hd, wt, ld_w, n_q, out); break;
      case 8: AccumulateTile<8>(tile, nt, hd, wt, ld_w, n_q, out); break;
      default: AccumulateTileAny(tile, nt, hd, wt, ld_w, n_q, out); break;
    }
#else
    for (int i = 0; i < n_q; ++i) {
      float* o = out + static_cast<size_t>(i) * hd;
      for (int j = 0; j < nt; ++j) {
        const float p = wt[static_cast<size_t>(i) * ld_w + j];
        const float* vj = tile + static_cast<size_t>(j) * hd;
        for (int d = 0; d < hd; ++d) o[d] += p * vj[d];
      }
    }
#endif
  }
}

void AccumulateRowsF32Reference(const float* rows, int n, int hd, const float* w, int ld_w, int n_q,
                                float* out) {
  for (int i = 0; i < n_q; ++i) {
    for (int d = 0; d < hd; ++d) {
      double acc = out[static_cast<size_t>(i) * hd + d];
      for (int j = 0; j < n; ++j) acc += static_cast<double>(w[static_cast<size_t>(i) * ld_w + j]) * rows[static_cast<size_t>(j) * hd + d];
      out[static_cast<size_t>(i) * hd + d] = static_cast<float>(acc);
    }
  }
}

void DecodeF16(const uint16_t* x, int n, float* out) {
  int i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
  }
#endif
  for (; i < n; ++i) out[i] = Fp16ToF32(x[i]);
}

void DecodeBf16(const uint16_t* x, int n, float* out) {
  int i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)));
    _mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
  }
#endif
  for (; i < n; ++i) out[i] = Bf16ToF32(x[i]);
}

void DecodeInt8(const int8_t* q, int n, float d, float* out) {
  int i = 0;
#if defined(__AVX512F__)
  const __m512 vd = _mm512_set1_ps(d);
  for (; i + 16 <= n; i += 16) {
    const __m512i v = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i)));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_cvtepi32_ps(v), vd));
  }
#endif
  for (; i < n; ++i) out[i] = static_cast<float>(q[i]) * d;
}

void DecodeNibbles(const uint8_t* qs, const uint8_t* qh, int qk, int zero, float d, float m, float* out) {
  const int half = qk / 2;
#if defined(__AVX512F__)
  if (qk == 32) {
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
    __m512i lo = _mm512_and_si512(v, _mm512_set1_epi32(0xf));
    __m512i hi = _mm512_srli_epi32(v, 4);
    if (qh != nullptr) {
      uint32_t h;
      std::memcpy(&h, qh, 4);
      const __m512i bit = _mm512_set1_epi32(16);
      lo = _mm512_mask_or_epi32(lo, static_cast<__mmask16>(h & 0xffff), lo, bit);
      hi = _mm512_mask_or_epi32(hi, static_cast<__mmask16>(h >> 16), hi, bit);
    }
    const __m512i z = _mm512_set1_epi32(zero);
    const __m512 vd = _mm512_set1_ps(d), vm = _mm512_set1_ps(m);
    // mul then add (two roundings), exactly as the scalar definition computes it; m == 0 adds
    // nothing (and keeps a -0 product as -0, as the _0 types' definition does).
    __m512 a = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, z)), vd);
    __m512 b = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hi, z)), vd);
    if (m != 0.0f) {
      a = _mm512_add_ps(a, vm);
      b = _mm512_add_ps(b, vm);
    }
    _mm512_storeu_ps(out, a);
    _mm512_storeu_ps(out + 16, b);
    return;
  }
#endif
  for (int j = 0; j < half; ++j) {
    int c0 = qs[j] & 0xf, c1 = qs[j] >> 4;
    if (qh != nullptr) {
      c0 |= ((qh[j / 8] >> (j % 8)) & 1) << 4;
      c1 |= ((qh[(j + half) / 8] >> ((j + half) % 8)) & 1) << 4;
    }
    out[j] = static_cast<float>(c0 - zero) * d;
    out[j + half] = static_cast<float>(c1 - zero) * d;
    if (m != 0.0f) {
      out[j] += m;
      out[j + half] += m;
    }
  }
}

namespace {
inline float LoadHalf(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return HalfToF32(h);
}
}  // namespace

void DecodeQ8_0Blocks32(const uint8_t* blocks, int n_blocks, float* out) {
  for (int b = 0; b < n_blocks; ++b) {
    const uint8_t* block = blocks + static_cast<size_t>(b) * 34;
    const float d = LoadHalf(block);
    float* o = out + static_cast<size_t>(b) * 32;
#if defined(__AVX512F__)
    const __m512 vd = _mm512_set1_ps(d);
    const __m512i lo = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2)));
    const __m512i hi = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 18)));
    _mm512_storeu_ps(o, _mm512_mul_ps(_mm512_cvtepi32_ps(lo), vd));
    _mm512_storeu_ps(o + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(hi), vd));
#else
    for (int j = 0; j < 32; ++j) o[j] = static_cast<float>(static_cast<int8_t>(block[2 + j])) * d;
#endif
  }
}

void DecodeNibbleBlocks32(const uint8_t* blocks, int n_blocks, bool has_min, bool five_bit, float* out) {
  const size_t qh_at = has_min ? 4 : 2, qs_at = qh_at + (five_bit ? 4 : 0), bytes = qs_at + 16;
  const int zero = has_min ? 0 : (five_bit ? 16 : 8);
  for (int b = 0; b < n_blocks; ++b) {
    const uint8_t* block = blocks + static_cast<size_t>(b) * bytes;
    DecodeNibbles(block + qs_at, five_bit ? block + qh_at : nullptr, 32, zero, LoadHalf(block),
                  has_min ? LoadHalf(block + 2) : 0.0f, out + static_cast<size_t>(b) * 32);
  }
}

void UnpackCodes(const uint8_t* packed, int bits, int n, float* out) {
#if defined(__AVX512F__)
  const int k = 8 / bits, p = n / k;
  if (p % 16 == 0) {
    const __m512i mask = _mm512_set1_epi32((1 << bits) - 1);
    for (int i = 0; i < p; i += 16) {
      const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(packed + i)));
      for (int s = 0; s < k; ++s) {
        const __m512i c = _mm512_and_si512(_mm512_srlv_epi32(v, _mm512_set1_epi32(s * bits)), mask);
        _mm512_storeu_ps(out + s * p + i, _mm512_cvtepi32_ps(c));
      }
    }
    return;
  }
#endif
  UnpackCodesReference(packed, bits, n, out);
}

void UnpackCodeRows(const uint8_t* packed, size_t stride, int n_rows, int bits, int n, float* out) {
  for (int r = 0; r < n_rows; ++r) UnpackCodes(packed + r * stride, bits, n, out + static_cast<size_t>(r) * n);
}

void UnpackCodesReference(const uint8_t* packed, int bits, int n, float* out) {
  const int k = 8 / bits, p = n / k, mask = (1 << bits) - 1;
  for (int c = 0; c < n; ++c) out[c] = static_cast<float>((packed[c % p] >> ((c / p) * bits)) & mask);
}

void PackCodes(const uint8_t* codes, int bits, int n, uint8_t* packed) {
  const int k = 8 / bits, p = n / k;
  std::memset(packed, 0, p);
  for (int c = 0; c < n; ++c) packed[c % p] |= static_cast<uint8_t>(codes[c] << ((c / p) * bits));
}

}  // namespace kvbench
