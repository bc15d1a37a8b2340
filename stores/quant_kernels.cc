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

// ---- fused kernels ------------------------------------------------------------------------------
namespace {

inline float LoadHalfAt(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return HalfToF32(h);
}

// Row decoders for the fused kernels: Chunk(row, c) is values [16 c, 16 c + 16) of the row, the
// same floats (same roundings) as the format's tile decoder above produces.
struct RowsBase {
  const uint8_t* data;
  size_t stride;
  const uint8_t* Row(int j) const { return data + static_cast<size_t>(j) * stride; }
};

struct F32Chunks : RowsBase {
  simd::F32x16 Chunk(const uint8_t* row, int c) const {
    return simd::Load(reinterpret_cast<const float*>(row) + 16 * c);
  }
};

struct F16Chunks : RowsBase {
  simd::F32x16 Chunk(const uint8_t* row, int c) const {
    return simd::LoadF16(reinterpret_cast<const uint16_t*>(row) + 16 * c);
  }
};

struct Bf16Chunks : RowsBase {
  simd::F32x16 Chunk(const uint8_t* row, int c) const {
    return simd::LoadBf16(reinterpret_cast<const uint16_t*>(row) + 16 * c);
  }
};

// As DecodeQ8_0Blocks32: q * d, one rounding.
struct Q8_0Chunks : RowsBase {
  simd::F32x16 Chunk(const uint8_t* row, int c) const {
    const uint8_t* block = row + static_cast<size_t>(c / 2) * 34;
    const auto* q = reinterpret_cast<const int8_t*>(block + 2) + 16 * (c % 2);
    return simd::Mul(simd::LoadI8(q), simd::Set1(LoadHalfAt(block)));
  }
};

// As DecodeNibbles (qk = 32): (code - zero) * d, then + m for the _1 types when m != 0.
template <bool kHasMin, bool kFiveBit>
struct NibbleChunks : RowsBase {
  static constexpr size_t kQh = kHasMin ? 4 : 2, kQs = kQh + (kFiveBit ? 4 : 0), kBytes = kQs + 16;
  static constexpr int kZero = kHasMin ? 0 : (kFiveBit ? 16 : 8);
  simd::F32x16 Chunk(const uint8_t* row, int c) const {
    const uint8_t* block = row + static_cast<size_t>(c / 2) * kBytes;
    const simd::I32x16 v = simd::LoadU8(block + kQs);
    simd::I32x16 code =
        c % 2 == 0 ? simd::And(v, simd::SetI(0xf)) : simd::ShiftRight(v, simd::SetI(4));
    if constexpr (kFiveBit) {  // bit j of qh is the 5th bit of element j
      uint32_t h;
      std::memcpy(&h, block + kQh, 4);
      const uint32_t bits = c % 2 == 0 ? (h & 0xffff) : (h >> 16);
      code = simd::Or(
          code, simd::ShiftLeft(simd::And(simd::ShiftRight(simd::SetI(static_cast<int32_t>(bits)),
                                                           simd::Iota()),
                                          simd::SetI(1)),
                                simd::SetI(4)));
    }
    simd::F32x16 x =
        simd::Mul(simd::ToF32(simd::SubI(code, simd::SetI(kZero))), simd::Set1(LoadHalfAt(block)));
    if constexpr (kHasMin) {
      const float m = LoadHalfAt(block + 2);
      if (m != 0.0f) x = simd::Add(x, simd::Set1(m));
    }
    return x;
  }
};

// As Int8Codec::DecodeRows: q * d with the row's f32 d.
struct Int8Chunks : RowsBase {
  simd::F32x16 Chunk(const uint8_t* row, int c) const {
    float d;
    std::memcpy(&d, row, sizeof(float));
    return simd::Mul(simd::LoadI8(reinterpret_cast<const int8_t*>(row + sizeof(float)) + 16 * c),
                     simd::Set1(d));
  }
};

// fp8 codes as fp16 bit patterns, so the fp16 conversion does the exponent and subnormal work
// exactly: an e5m2 code is the high byte of the fp16 of the same value; an e4m3 code, shifted
// into fp16's fields (sign << 8, the rest << 7), is its value times 2^-8 (exact, subnormals
// included), and its NaN code S.1111.111 gets fp16's all-ones exponent. Then times 2^8 (exact) and
// times the store scale: the one rounding of Fp8Table(code) * scale.
template <bool kE4M3>
struct Fp8Chunks : RowsBase {
  float scale;
  simd::F32x16 Chunk(const uint8_t* row, int c) const {
    const simd::I32x16 code = simd::LoadU8(row + 16 * c);
    simd::F32x16 x;
    if constexpr (kE4M3) {
      const simd::I32x16 mag = simd::And(code, simd::SetI(0x7f));
      const simd::I32x16 sign = simd::ShiftLeft(simd::And(code, simd::SetI(0x80)), simd::SetI(8));
      // (mag + 1) >> 7 is 1 exactly for the NaN code 0x7f; 0 - 1 = all ones selects the exponent.
      const simd::I32x16 nan =
          simd::And(simd::SubI(simd::SetI(0),
                               simd::ShiftRight(simd::SubI(mag, simd::SetI(-1)), simd::SetI(7))),
                    simd::SetI(0x7e00));
      const simd::I32x16 h = simd::Or(simd::Or(sign, simd::ShiftLeft(mag, simd::SetI(7))), nan);
      x = simd::Mul(simd::HalfBitsToF32(h), simd::Set1(256.0f));
    } else {
      x = simd::HalfBitsToF32(simd::ShiftLeft(code, simd::SetI(8)));
    }
    return simd::Mul(x, simd::Set1(scale));
  }
};

// KIVI codes in planes (UnpackCodes), kBits per code, rows of 16 NC codes: with the plane
// p = 2 NC kBits bytes (a multiple of 16), chunk c's 16 codes are bytes [16 c mod p, + 16) of the
// row, field 16 c / p. All compile-time, so each chunk is one widening load, a shift and a mask.
template <int kBits, int NC>
struct KiviCodeChunks : RowsBase {
  static constexpr int kPlane = 2 * NC * kBits;
  static simd::I32x16 Codes(const uint8_t* row, int c) {
    const int s = 16 * c / kPlane;
    const simd::I32x16 v = simd::LoadU8(row + (16 * c - s * kPlane));
    return simd::And(s == 0 ? v : simd::ShiftRight(v, simd::SetI(s * kBits)),
                     simd::SetI((1 << kBits) - 1));
  }
  simd::F32x16 Chunk(const uint8_t* row, int c) const { return simd::ToF32(Codes(row, c)); }
};

// As KiviKeyStore::DecodeRows: code * scale[c] + min[c], two roundings.
template <int kBits, int NC>
struct KiviKeyChunks : KiviCodeChunks<kBits, NC> {
  const float* scale;
  const float* min;
  simd::F32x16 Chunk(const uint8_t* row, int c) const {
    return simd::Add(simd::Mul(simd::ToF32(this->Codes(row, c)), simd::Load(scale + 16 * c)),
                     simd::Load(min + 16 * c));
  }
};

// As KiviValueStore::DecodeRows: the codes follow (head_dim / group) fp16 (scale, min) pairs; chunk
// c lies in channel group 16 c / group = c >> kGroupShift (group = 16 << kGroupShift), known at
// compile time so the chunks of one group share its decoded pair.
template <int kBits, int NC, int kGroupShift>
struct KiviValueChunks : KiviCodeChunks<kBits, NC> {
  static constexpr size_t kCodesAt = 4 * static_cast<size_t>(NC >> kGroupShift);
  simd::F32x16 Chunk(const uint8_t* row, int c) const {
    const uint8_t* params = row + 4 * (c >> kGroupShift);
    return simd::Add(
        simd::Mul(simd::ToF32(this->Codes(row + kCodesAt, c)), simd::Set1(LoadHalfAt(params))),
        simd::Set1(LoadHalfAt(params + 2)));
  }
};

// Queries per pass. Dot: a row's NC chunks stay in registers while up to kQueryBlock queries are
// dotted with it; the eight rows' sums of each query are reduced together.
constexpr int kQueryBlock = 4;

template <int NC, typename D>
void FusedDot(const D& d, int n, const float* q, int n_q, float* scores, int ld) {
  constexpr int hd = 16 * NC;
  simd::F32x16 p[kQueryBlock][8];
  for (int j0 = 0; j0 < n; j0 += 8) {
    const int nr = std::min(8, n - j0);
    for (int i0 = 0; i0 < n_q; i0 += kQueryBlock) {
      const int qb = std::min(kQueryBlock, n_q - i0);
      const float* qb0 = q + static_cast<size_t>(i0) * hd;
      for (int r = 0; r < 8; ++r) {
        if (r >= nr) {  // zeros: their sums are computed and dropped
          for (int i = 0; i < kQueryBlock; ++i) p[i][r] = simd::Zero();
          continue;
        }
        const uint8_t* row = d.Row(j0 + r);
        simd::F32x16 x[NC];
        for (int c = 0; c < NC; ++c) x[c] = d.Chunk(row, c);
        for (int i = 0; i < kQueryBlock; ++i) {
          if (i >= qb) break;
          const float* qi = qb0 + i * hd;
          simd::F32x16 acc = simd::Mul(x[0], simd::Load(qi));
          for (int c = 1; c < NC; ++c) acc = simd::MulAdd(x[c], simd::Load(qi + 16 * c), acc);
          p[i][r] = acc;
        }
      }
      for (int i = 0; i < qb; ++i) {
        float* out = scores + static_cast<size_t>(i0 + i) * ld + j0;
        if (nr == 8) {
          simd::ReduceAdd8(p[i], out);
        } else {
          float s[8];
          simd::ReduceAdd8(p[i], s);
          std::copy_n(s, nr, out);
        }
      }
    }
  }
}

// Accumulate: QB queries x CB chunks of `out` stay in registers over a tile of rows; each row's CB
// chunks are decoded once for the QB queries. Chunks C0 .. C0 + CB - 1 of NC, then the next pass.
// kAccVectors bounds the accumulators to what the register file holds (AVX2 has half as many
// registers, each half as wide).
#if defined(KVBENCH_SIMD_AVX512)
constexpr int kAccChunks = 4;
#else
constexpr int kAccChunks = 2;
#endif

constexpr int kAccTileRows = 16;

template <int NC, int C0, int QB, typename D>
void FusedAccumulatePass(const D& d, int j0, int nt, const float* w, int ld_w, float* out) {
  constexpr int hd = 16 * NC, CB = std::min(kAccChunks, NC - C0);
  simd::F32x16 acc[QB][CB];
  for (int i = 0; i < QB; ++i)
    for (int c = 0; c < CB; ++c) acc[i][c] = simd::Load(out + i * hd + 16 * (C0 + c));
  for (int j = j0; j < j0 + nt; ++j) {
    float wj[QB];
    int zeros = 0;
    for (int i = 0; i < QB; ++i) {
      wj[i] = w[static_cast<size_t>(i) * ld_w + j];
      zeros += wj[i] == 0.0f;
    }
    if (zeros == QB) continue;  // causally masked entries of a prefill block: nothing to decode
    const uint8_t* row = d.Row(j);
    simd::F32x16 x[CB];
    for (int c = 0; c < CB; ++c) x[c] = d.Chunk(row, C0 + c);
    if (zeros == 0) [[likely]] {  // a decode step: no branch per query, accumulators stay put
      for (int i = 0; i < QB; ++i) {
        const simd::F32x16 pw = simd::Set1(wj[i]);
        for (int c = 0; c < CB; ++c) acc[i][c] = simd::MulAdd(pw, x[c], acc[i][c]);
      }
      continue;
    }
    for (int i = 0; i < QB; ++i) {
      if (wj[i] == 0.0f) continue;  // as AccumulateTile: a zero weight adds nothing, not 0 * inf
      const simd::F32x16 pw = simd::Set1(wj[i]);
      for (int c = 0; c < CB; ++c) acc[i][c] = simd::MulAdd(pw, x[c], acc[i][c]);
    }
  }
  for (int i = 0; i < QB; ++i)
    for (int c = 0; c < CB; ++c) simd::Store(out + i * hd + 16 * (C0 + c), acc[i][c]);
  if constexpr (C0 + CB < NC) FusedAccumulatePass<NC, C0 + CB, QB>(d, j0, nt, w, ld_w, out);
}

template <int NC, typename D>
void FusedAccumulate(const D& d, int n, const float* w, int ld_w, int n_q, float* out) {
  constexpr int hd = 16 * NC;
  // Tiles of rows keep the lines one pass read in L1 for the next pass (16 rows of f32 at head_dim
  // 128 are 8 KiB); with 64-row tiles (32 KiB) the second pass of f32 rows missed L1 and the
  // memory-bound model bench ran 1.7x slower than the old kernel.
  for (int j0 = 0; j0 < n; j0 += kAccTileRows) {
    const int nt = std::min(kAccTileRows, n - j0);
    for (int i0 = 0; i0 < n_q; i0 += kQueryBlock) {
      const float* wi = w + static_cast<size_t>(i0) * ld_w;
      float* oi = out + static_cast<size_t>(i0) * hd;
      switch (std::min(kQueryBlock, n_q - i0)) {
        case 1:
          FusedAccumulatePass<NC, 0, 1>(d, j0, nt, wi, ld_w, oi);
          break;
        case 2:
          FusedAccumulatePass<NC, 0, 2>(d, j0, nt, wi, ld_w, oi);
          break;
        case 3:
          FusedAccumulatePass<NC, 0, 3>(d, j0, nt, wi, ld_w, oi);
          break;
        default:
          FusedAccumulatePass<NC, 0, 4>(d, j0, nt, wi, ld_w, oi);
      }
    }
  }
}

// f(decoder) with the decoder of the rows' format, for rows of 16 NC values.
template <int NC, typename F>
void WithKiviBits(const EncodedRows& e, F&& f) {
  const auto with = [&]<int kBits>() {
    const KiviCodeChunks<kBits, NC> codes{{e.data, e.stride}};
    using Format = EncodedRows::Format;
    if (e.format == Format::kKiviCodes) return f(codes);
    if (e.format == Format::kKiviKey) {
      return f(KiviKeyChunks<kBits, NC>{codes, e.channel_scale, e.channel_min});
    }
    switch (e.group) {
      case 16:
        return f(KiviValueChunks<kBits, NC, 0>{codes});
      case 32:
        return f(KiviValueChunks<kBits, NC, 1>{codes});
      case 64:
        return f(KiviValueChunks<kBits, NC, 2>{codes});
      default:
        return f(KiviValueChunks<kBits, NC, 3>{codes});
    }
  };
  if (e.bits == 2) return with.template operator()<2>();
  if (e.bits == 4) return with.template operator()<4>();
  return with.template operator()<8>();
}

template <int NC, typename F>
void WithDecoder(const EncodedRows& e, F&& f) {
  const RowsBase base{e.data, e.stride};
  using Format = EncodedRows::Format;
  switch (e.format) {
    case Format::kF32:
      return f(F32Chunks{base});
    case Format::kF16:
      return f(F16Chunks{base});
    case Format::kBf16:
      return f(Bf16Chunks{base});
    case Format::kQ8_0:
      return f(Q8_0Chunks{base});
    case Format::kNibble:
      if (e.has_min) {
        return e.five_bit ? f(NibbleChunks<true, true>{base}) : f(NibbleChunks<true, false>{base});
      }
      return e.five_bit ? f(NibbleChunks<false, true>{base}) : f(NibbleChunks<false, false>{base});
    case Format::kInt8:
      return f(Int8Chunks{base});
    case Format::kFp8E4M3:
      return f(Fp8Chunks<true>{base, e.scale});
    case Format::kFp8E5M2:
      return f(Fp8Chunks<false>{base, e.scale});
    case Format::kKiviCodes:
    case Format::kKiviKey:
    case Format::kKiviValue:
      return WithKiviBits<NC>(e, f);
  }
}

// f(integral_constant<NC>) for the fused head sizes, 32, 64, 96 and 128 (see CanFuse).
template <typename F>
void WithFusedChunks(int hd, F&& f) {
  switch (hd) {
    case 32:
      return f(std::integral_constant<int, 2>{});
    case 64:
      return f(std::integral_constant<int, 4>{});
    case 96:
      return f(std::integral_constant<int, 6>{});
    default:
      return f(std::integral_constant<int, 8>{});
  }
}

}  // namespace

bool CanFuse(const EncodedRows& rows, int hd, int n_q) {
  if ((hd != 32 && hd != 64 && hd != 96 && hd != 128) || n_q > kFusedMaxQueries) return false;
  using Format = EncodedRows::Format;
  switch (rows.format) {
    case Format::kQ8_0:
    case Format::kNibble:
      return hd % 32 == 0;  // whole llama.cpp blocks of 32
    case Format::kKiviCodes:
    case Format::kKiviKey:
      return (rows.bits == 2 || rows.bits == 4 || rows.bits == 8) && (hd * rows.bits / 8) % 16 == 0;
    case Format::kKiviValue:
      return (rows.bits == 2 || rows.bits == 4 || rows.bits == 8) &&
             (hd * rows.bits / 8) % 16 == 0 &&
             (rows.group == 16 || rows.group == 32 || rows.group == 64 || rows.group == 128) &&
             hd % rows.group == 0;
    default:
      return true;
  }
}

void DotRowsFused(const EncodedRows& rows, int n, int hd, const float* q, int n_q, float* scores,
                  int ld) {
  WithFusedChunks(hd, [&](auto nc) {
    constexpr int NC = decltype(nc)::value;
    WithDecoder<NC>(rows, [&](const auto& d) { FusedDot<NC>(d, n, q, n_q, scores, ld); });
  });
}

void AccumulateRowsFused(const EncodedRows& rows, int n, int hd, const float* w, int ld_w, int n_q,
                         float* out) {
  WithFusedChunks(hd, [&](auto nc) {
    constexpr int NC = decltype(nc)::value;
    WithDecoder<NC>(rows, [&](const auto& d) { FusedAccumulate<NC>(d, n, w, ld_w, n_q, out); });
  });
}

}  // namespace kvbench
