#include "stores/quant_kernels.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "formats/half.h"
#include "model/simd.h"

namespace kvbench {
namespace {

// NC = number of 16-float chunks per row (hd <= 16 * NC); the row of each key stays in registers
// while every query is dotted with it. The last chunk is zero-padded (LoadN), so a score is the
// same wherever its row sits.
template <int NC>
void DotTile(const float* rows, int n, int hd, const float* q, int n_q, float* scores, int ld) {
  const int tail = hd - 16 * (NC - 1);
  simd::F32x16 r[NC];
  for (int j = 0; j < n; ++j) {
    const float* kj = rows + static_cast<size_t>(j) * hd;
    for (int c = 0; c < NC; ++c) r[c] = simd::LoadN(kj + 16 * c, c == NC - 1 ? tail : 16);
    for (int i = 0; i < n_q; ++i) {
      const float* qi = q + static_cast<size_t>(i) * hd;
      simd::F32x16 acc = simd::Mul(r[0], simd::LoadN(qi, NC == 1 ? tail : 16));
      for (int c = 1; c < NC; ++c)
        acc = simd::MulAdd(r[c], simd::LoadN(qi + 16 * c, c == NC - 1 ? tail : 16), acc);
      scores[static_cast<size_t>(i) * ld + j] = simd::ReduceAdd(acc);
    }
  }
}

// head_dim 8 or 16 (the real tiny models): one reduction per score would cost more than the dot
// product itself, so eight rows are scored at once. Each row's products sit in one 8-lane vector
// (the two halves of a 16-wide row added first); a transpose-add tree turns eight such vectors into
// the eight scores. Rows past n are zeros and their scores are not stored, so every score goes
// through the same arithmetic wherever it falls in the tile.
template <int HD>
void DotSmallHead(const float* rows, int n, const float* q, int n_q, float* scores, int ld) {
  static_assert(HD == 8 || HD == 16);
  for (int j = 0; j < n; j += 8) {
    const int nr = std::min(8, n - j);
    const float* k = rows + static_cast<size_t>(j) * HD;
    for (int i = 0; i < n_q; ++i) {
      const float* qi = q + static_cast<size_t>(i) * HD;
      const simd::F32x8 q0 = simd::Load8(qi);
      simd::F32x8 p[8];
      for (int r = 0; r < 8; ++r) {
        if (r >= nr) {
          p[r] = simd::Zero8();
        } else if constexpr (HD == 8) {
          p[r] = simd::Mul8(simd::Load8(k + r * HD), q0);
        } else {
          p[r] = simd::MulAdd8(simd::Load8(k + r * HD + 8), simd::Load8(qi + 8),
                               simd::Mul8(simd::Load8(k + r * HD), q0));
        }
      }
      float* out = scores + static_cast<size_t>(i) * ld + j;
      if (nr == 8) {
        simd::HorizontalSums8(p, out);
      } else {
        float s[8];
        simd::HorizontalSums8(p, s);
        std::copy_n(s, nr, out);
      }
    }
  }
}

// Any hd: chunks streamed from memory.
void DotTileAny(const float* rows, int n, int hd, const float* q, int n_q, float* scores, int ld) {
  const int nc = (hd + 15) / 16;
  for (int j = 0; j < n; ++j) {
    const float* kj = rows + static_cast<size_t>(j) * hd;
    for (int i = 0; i < n_q; ++i) {
      const float* qi = q + static_cast<size_t>(i) * hd;
      simd::F32x16 acc = simd::Zero();
      for (int c = 0; c < nc; ++c) {
        const int m = std::min(16, hd - 16 * c);
        acc = simd::MulAdd(simd::LoadN(kj + 16 * c, m), simd::LoadN(qi + 16 * c, m), acc);
      }
      scores[static_cast<size_t>(i) * ld + j] = simd::ReduceAdd(acc);
    }
  }
}

// out_i (in registers, NC chunks) += w_ij * row_j over the tile, query by query; the tile is small
// enough to stay in L1 across queries.
template <int NC>
void AccumulateTile(const float* rows, int n, int hd, const float* w, int ld_w, int n_q,
                    float* out) {
  const int tail = hd - 16 * (NC - 1);
  for (int i = 0; i < n_q; ++i) {
    float* o = out + static_cast<size_t>(i) * hd;
    const float* wi = w + static_cast<size_t>(i) * ld_w;
    simd::F32x16 acc[NC];
    for (int c = 0; c < NC; ++c) acc[c] = simd::LoadN(o + 16 * c, c == NC - 1 ? tail : 16);
    for (int j = 0; j < n; ++j) {
      if (wi[j] == 0.0f) continue;  // causally masked entries of a prefill block
      const simd::F32x16 p = simd::Set1(wi[j]);
      const float* vj = rows + static_cast<size_t>(j) * hd;
      for (int c = 0; c < NC; ++c)
        acc[c] = simd::MulAdd(p, simd::LoadN(vj + 16 * c, c == NC - 1 ? tail : 16), acc[c]);
    }
    for (int c = 0; c < NC; ++c) simd::StoreN(o + 16 * c, acc[c], c == NC - 1 ? tail : 16);
  }
}

// head_dim 8 (stories260K): one 8-lane register per query, no masked loads.
void AccumulateHead8(const float* rows, int n, const float* w, int ld_w, int n_q, float* out) {
  for (int i = 0; i < n_q; ++i) {
    float* o = out + static_cast<size_t>(i) * 8;
    const float* wi = w + static_cast<size_t>(i) * ld_w;
    simd::F32x8 acc = simd::Load8(o);
    for (int j = 0; j < n; ++j) {
      if (wi[j] == 0.0f) continue;  // causally masked entries of a prefill block
      acc = simd::MulAdd8(simd::Set1x8(wi[j]), simd::Load8(rows + static_cast<size_t>(j) * 8), acc);
    }
    simd::Store8(o, acc);
  }
}

void AccumulateTileAny(const float* rows, int n, int hd, const float* w, int ld_w, int n_q,
                       float* out) {
  const int nc = (hd + 15) / 16;
  for (int i = 0; i < n_q; ++i) {
    float* o = out + static_cast<size_t>(i) * hd;
    const float* wi = w + static_cast<size_t>(i) * ld_w;
    for (int c = 0; c < nc; ++c) {
      const int m = std::min(16, hd - 16 * c);
      simd::F32x16 acc = simd::LoadN(o + 16 * c, m);
      for (int j = 0; j < n; ++j) {
        acc = simd::MulAdd(simd::Set1(wi[j]),
                           simd::LoadN(rows + static_cast<size_t>(j) * hd + 16 * c, m), acc);
      }
      simd::StoreN(o + 16 * c, acc, m);
    }
  }
}

// Calls f(std::integral_constant<int, NC>{}) for the number of 16-float chunks of an hd-wide row,
// NC = 1 .. 8 (head_dim up to 128), so the tiles keep a row in registers; false for wider rows.
template <typename F>
bool WithChunkCount(int hd, F&& f) {
  switch ((hd + 15) / 16) {
    case 1:
      return f(std::integral_constant<int, 1>{}), true;
    case 2:
      return f(std::integral_constant<int, 2>{}), true;
    case 3:
      return f(std::integral_constant<int, 3>{}), true;
    case 4:
      return f(std::integral_constant<int, 4>{}), true;
    case 5:
      return f(std::integral_constant<int, 5>{}), true;
    case 6:
      return f(std::integral_constant<int, 6>{}), true;
    case 7:
      return f(std::integral_constant<int, 7>{}), true;
    case 8:
      return f(std::integral_constant<int, 8>{}), true;
    default:
      return false;
  }
}

}  // namespace

void DotRowsF32(const float* rows, int n, int hd, const float* q, int n_q, float* scores, int ld) {
  if (hd == 8) return DotSmallHead<8>(rows, n, q, n_q, scores, ld);
  if (hd == 16) return DotSmallHead<16>(rows, n, q, n_q, scores, ld);
  const bool tiled = WithChunkCount(
      hd, [&](auto nc) { DotTile<decltype(nc)::value>(rows, n, hd, q, n_q, scores, ld); });
  if (!tiled) DotTileAny(rows, n, hd, q, n_q, scores, ld);
}

void DotRowsF32Reference(const float* rows, int n, int hd, const float* q, int n_q, float* scores,
                         int ld) {
  for (int i = 0; i < n_q; ++i) {
    for (int j = 0; j < n; ++j) {
      double acc = 0;
      for (int d = 0; d < hd; ++d)
        acc += static_cast<double>(q[static_cast<size_t>(i) * hd + d]) *
               rows[static_cast<size_t>(j) * hd + d];
      scores[static_cast<size_t>(i) * ld + j] = static_cast<float>(acc);
    }
  }
}

void AccumulateRowsF32(const float* rows, int n, int hd, const float* w, int ld_w, int n_q,
                       float* out) {
  // Tiles keep the rows cache-resident while every query reads them.
  for (int j0 = 0; j0 < n; j0 += kTileRows) {
    const int nt = std::min(kTileRows, n - j0);
    const float* tile = rows + static_cast<size_t>(j0) * hd;
    const float* wt = w + j0;
    if (hd == 8) {
      AccumulateHead8(tile, nt, wt, ld_w, n_q, out);
      continue;
    }
    const bool tiled = WithChunkCount(hd, [&](auto nc) {
      AccumulateTile<decltype(nc)::value>(tile, nt, hd, wt, ld_w, n_q, out);
    });
    if (!tiled) AccumulateTileAny(tile, nt, hd, wt, ld_w, n_q, out);
  }
}

void AccumulateRowsF32Reference(const float* rows, int n, int hd, const float* w, int ld_w, int n_q,
                                float* out) {
  for (int i = 0; i < n_q; ++i) {
    for (int d = 0; d < hd; ++d) {
      double acc = out[static_cast<size_t>(i) * hd + d];
      for (int j = 0; j < n; ++j)
        acc += static_cast<double>(w[static_cast<size_t>(i) * ld_w + j]) *
               rows[static_cast<size_t>(j) * hd + d];
      out[static_cast<size_t>(i) * hd + d] = static_cast<float>(acc);
    }
  }
}

void DecodeF16(const uint16_t* x, int n, float* out) {
  int i = 0;
  for (; i + 16 <= n; i += 16) simd::Store(out + i, simd::LoadF16(x + i));
  for (; i < n; ++i) out[i] = Fp16ToF32(x[i]);
}

void DecodeBf16(const uint16_t* x, int n, float* out) {
  int i = 0;
  for (; i + 16 <= n; i += 16) simd::Store(out + i, simd::LoadBf16(x + i));
  for (; i < n; ++i) out[i] = Bf16ToF32(x[i]);
}

void DecodeInt8(const int8_t* q, int n, float d, float* out) {
  int i = 0;
  const simd::F32x16 vd = simd::Set1(d);
  for (; i + 16 <= n; i += 16) simd::Store(out + i, simd::Mul(simd::LoadI8(q + i), vd));
  for (; i < n; ++i) out[i] = static_cast<float>(q[i]) * d;
}

void DecodeNibbles(const uint8_t* qs, const uint8_t* qh, int qk, int zero, float d, float m,
                   float* out) {
  const int half = qk / 2;
  if (qk == 32) {
    const simd::I32x16 v = simd::LoadU8(qs);
    simd::I32x16 lo = simd::And(v, simd::SetI(0xf));
    simd::I32x16 hi = simd::ShiftRight(v, simd::SetI(4));
    if (qh != nullptr) {  // bit j of qh is the 5th bit of element j
      uint32_t h;
      std::memcpy(&h, qh, 4);
      const simd::I32x16 lanes = simd::Iota(), one = simd::SetI(1), four = simd::SetI(4);
      auto fifth = [&](uint32_t bits) {
        return simd::ShiftLeft(
            simd::And(simd::ShiftRight(simd::SetI(static_cast<int32_t>(bits)), lanes), one), four);
      };
      lo = simd::Or(lo, fifth(h & 0xffff));
      hi = simd::Or(hi, fifth(h >> 16));
    }
    const simd::I32x16 z = simd::SetI(zero);
    const simd::F32x16 vd = simd::Set1(d), vm = simd::Set1(m);
    // mul then add (two roundings), exactly as the scalar definition computes it; m == 0 adds
    // nothing (and keeps a -0 product as -0, as the _0 types' definition does).
    simd::F32x16 a = simd::Mul(simd::ToF32(simd::SubI(lo, z)), vd);
    simd::F32x16 b = simd::Mul(simd::ToF32(simd::SubI(hi, z)), vd);
    if (m != 0.0f) {
      a = simd::Add(a, vm);
      b = simd::Add(b, vm);
    }
    simd::Store(out, a);
    simd::Store(out + 16, b);
    return;
  }
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
    const simd::F32x16 vd = simd::Set1(LoadHalf(block));
    const auto* q = reinterpret_cast<const int8_t*>(block + 2);
    float* o = out + static_cast<size_t>(b) * 32;
    simd::Store(o, simd::Mul(simd::LoadI8(q), vd));
    simd::Store(o + 16, simd::Mul(simd::LoadI8(q + 16), vd));
  }
}

void DecodeNibbleBlocks32(const uint8_t* blocks, int n_blocks, bool has_min, bool five_bit,
                          float* out) {
  const size_t qh_at = has_min ? 4 : 2, qs_at = qh_at + (five_bit ? 4 : 0), bytes = qs_at + 16;
  const int zero = has_min ? 0 : (five_bit ? 16 : 8);
  for (int b = 0; b < n_blocks; ++b) {
    const uint8_t* block = blocks + static_cast<size_t>(b) * bytes;
    DecodeNibbles(block + qs_at, five_bit ? block + qh_at : nullptr, 32, zero, LoadHalf(block),
                  has_min ? LoadHalf(block + 2) : 0.0f, out + static_cast<size_t>(b) * 32);
  }
}

void UnpackCodes(const uint8_t* packed, int bits, int n, float* out) {
  const int k = 8 / bits, p = n / k;
  if (p % 16 != 0) return UnpackCodesReference(packed, bits, n, out);
  const simd::I32x16 mask = simd::SetI((1 << bits) - 1);
  for (int i = 0; i < p; i += 16) {
    const simd::I32x16 v = simd::LoadU8(packed + i);
    for (int s = 0; s < k; ++s) {
      simd::Store(out + s * p + i,
                  simd::ToF32(simd::And(simd::ShiftRight(v, simd::SetI(s * bits)), mask)));
    }
  }
}

void UnpackCodeRows(const uint8_t* packed, size_t stride, int n_rows, int bits, int n, float* out) {
  for (int r = 0; r < n_rows; ++r)
    UnpackCodes(packed + r * stride, bits, n, out + static_cast<size_t>(r) * n);
}

void UnpackCodesReference(const uint8_t* packed, int bits, int n, float* out) {
  const int k = 8 / bits, p = n / k, mask = (1 << bits) - 1;
  for (int c = 0; c < n; ++c)
    out[c] = static_cast<float>((packed[c % p] >> ((c / p) * bits)) & mask);
}

void PackCodes(const uint8_t* codes, int bits, int n, uint8_t* packed) {
  const int k = 8 / bits, p = n / k;
  std::memset(packed, 0, p);
  for (int c = 0; c < n; ++c) packed[c % p] |= static_cast<uint8_t>(codes[c] << ((c / p) * bits));
}

}  // namespace kvbench
