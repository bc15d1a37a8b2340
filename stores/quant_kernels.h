// The attention arithmetic of the KV stores: fused kernels that read encoded rows, the f32 tile
// kernels (many queries x a run of rows) and the vectorised decoders of the tile path.
//
// How a store attends (docs/attention_kernels.md):
// - Fused (DotRowsFused / AccumulateRowsFused, when CanFuse): the kernel walks the encoded rows
//   and decodes each row 16 values at a time in registers, straight into the FMAs of up to four
//   queries (a GQA group) at once, so a row is decoded once per pass and never stored as f32.
//   Dot keeps a row's chunks in registers while the queries are dotted with it and reduces eight
//   rows' sums per query with one transpose-add tree (simd::ReduceAdd8); Accumulate keeps up to
//   4 queries x 4 chunks of `out` in registers over a 64-row tile. Formats: f32, f16, bf16, q8_0,
//   q4_0/q4_1/q5_0/q5_1, int8, fp8 e4m3/e5m2, KIVI keys (raw codes, params folded into the
//   query) and values.
// - Tile path (everything else: head_dim 8/16 and other sizes, KIVI value groups < 16, more than
//   kFusedMaxQueries queries as in a prefill): decode kTileRows rows into L1-resident f32 scratch
//   once and run DotRowsF32 / AccumulateRowsF32 over them for all queries. The f32 store (and
//   KIVI's f32 residual) run those f32 kernels directly: routed through the fused kernels, f32
//   rows were not faster in the one-head bench and slower once the cache exceeds the L3
//   (BM_AttendModel), so they stay as they were.
//
// Numerics: both paths compute the same thing, bit for bit: "dequantize exactly, then the f32
// kernel". The decoders produce the floats of the formats' scalar definitions (the products
// (q - z) * d, code * scale + min are the same single f32 roundings), a score is
// ReduceAdd(q[0:16] * k[0:16] + ... in chunk order) and an output lane is the FMAs over rows in
// order, whichever path, ISA (model/simd.h: AVX-512, AVX2 or scalar lanes, all the same bits),
// n, n_q or position in a tile. The *Reference functions (double accumulation) are what tests
// compare against with a stated tolerance; tests also check fused == tile path bit for bit.
#ifndef KVBENCH_STORES_QUANT_KERNELS_H_
#define KVBENCH_STORES_QUANT_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "formats/half.h"
namespace kvbench {

// Rows per decode tile: 64 rows of head_dim 128 are 32 KiB of f32, inside L1/L2.
inline constexpr int kTileRows = 64;

// A run of n encoded rows, `stride` bytes apart, as the fused kernels read it. Each format's
// fields are the ones its decoder needs; the values decoded are exactly those of the store's own
// decoder (and so of its DecodeReference).
struct EncodedRows {
  enum class Format {
    kF32,
    kF16,
    kBf16,
    kQ8_0,     // llama.cpp blocks of 32: [fp16 d][32 int8]
    kNibble,   // q4_0 / q4_1 / q5_0 / q5_1 blocks of 32 (has_min, five_bit)
    kInt8,     // [f32 d][head_dim int8]
    kFp8E4M3,  // one byte per value, times `scale`
    kFp8E5M2,
    kKiviCodes,  // the raw codes of KIVI keys, as floats (bits); params folded into the query
    kKiviKey,    // codes * channel_scale[c] + channel_min[c] (bits)
    kKiviValue,  // [(head_dim / group) x fp16 (scale, min)][codes] (bits, group)
  };
  Format format = Format::kF32;
  const uint8_t* data = nullptr;
  size_t stride = 0;
  bool has_min = false;
  bool five_bit = false;
  float scale = 1.0f;
  int bits = 0;
  int group = 0;
  const float* channel_scale = nullptr;  // (head_dim) decoded fp16
  const float* channel_min = nullptr;
};

// Whether the fused kernels take rows of this format and head_dim: head_dim 32, 64, 96 or 128;
// llama.cpp blocks of 32; KIVI codes of 2/4/8 bits in whole 16-byte planes (head_dim * bits / 8 %
// 16 == 0) and value channel groups of 16, 32, 64 or 128; and n_q <= kFusedMaxQueries (a larger
// batch, a prefill, would decode each row once per 4 queries; decoding a tile once into scratch is
// cheaper there). Everything else takes the tile path, with the same bits.
inline constexpr int kFusedMaxQueries = 8;
bool CanFuse(const EncodedRows& rows, int hd, int n_q);

// The fused kernels: each row's values are decoded in registers, 16 at a time, and go straight
// into the FMAs of every query (the decode is paid once per row, not once per query); Dot reduces
// eight rows' sums at once (ReduceAdd8). Same bits as decoding the rows exactly and running
// DotRowsF32 / AccumulateRowsF32 on them: the products, the order of the sums and the reduction
// tree are the same. Require CanFuse. Accumulate adds to `out`, like AccumulateRowsF32.
void DotRowsFused(const EncodedRows& rows, int n, int hd, const float* q, int n_q, float* scores,
                  int ld);
void AccumulateRowsFused(const EncodedRows& rows, int n, int hd, const float* w, int ld_w, int n_q,
                         float* out);

// scores[i * ld + j] = q_i . rows_j for i < n_q, j < n; rows (n, hd), q (n_q, hd).
void DotRowsF32(const float* rows, int n, int hd, const float* q, int n_q, float* scores, int ld);
void DotRowsF32Reference(const float* rows, int n, int hd, const float* q, int n_q, float* scores,
                         int ld);

// out_i += sum_j w[i * ld_w + j] * rows_j for i < n_q, j < n; out (n_q, hd). Adds, so a caller
// walking tiles zeroes `out` once.
void AccumulateRowsF32(const float* rows, int n, int hd, const float* w, int ld_w, int n_q,
                       float* out);
void AccumulateRowsF32Reference(const float* rows, int n, int hd, const float* w, int ld_w, int n_q,
                                float* out);

// Decoders (vectorised; exact).
// out[i] = fp16 / bf16 value of x[i].
void DecodeF16(const uint16_t* x, int n, float* out);
void DecodeBf16(const uint16_t* x, int n, float* out);
// out[i] = q[i] * d.
void DecodeInt8(const int8_t* q, int n, float d, float* out);
// One 4- or 5-bit llama.cpp block of qk values: element j < qk/2 in the low nibble of qs[j],
// element j + qk/2 in the high nibble; the 5th bit of element j is bit j of the little-endian qh
// (null for 4-bit). out[j] = (code_j - zero) * d + m.
void DecodeNibbles(const uint8_t* qs, const uint8_t* qh, int qk, int zero, float d, float m,
                   float* out);
// Runs of n_blocks consecutive 32-value llama.cpp blocks (the rows of a tile), decoded in one loop:
// q8_0 ([d][32 int8], 34 bytes), and the nibble types ([d][m if has_min][qh if five_bit][16 qs]).
// Same values as DequantizeBlockReference.
void DecodeQ8_0Blocks32(const uint8_t* blocks, int n_blocks, float* out);
void DecodeNibbleBlocks32(const uint8_t* blocks, int n_blocks, bool has_min, bool five_bit,
                          float* out);
// KIVI codes of one row, `bits` in {2, 4, 8}, packed in planes: with k = 8 / bits codes per byte
// and p = n / k, byte i holds codes i, i + p, ..., i + (k - 1) p at bit offsets 0, bits, 2 bits,
// ... out[c] = code_c (as float). n % k == 0.
void UnpackCodes(const uint8_t* packed, int bits, int n, float* out);
// n_rows rows of n codes each, packed rows `stride` bytes apart, into (n_rows, n) floats.
void UnpackCodeRows(const uint8_t* packed, size_t stride, int n_rows, int bits, int n, float* out);
void UnpackCodesReference(const uint8_t* packed, int bits, int n, float* out);
// The inverse (codes < 2^bits).
void PackCodes(const uint8_t* codes, int bits, int n, uint8_t* packed);

}  // namespace kvbench

#endif  // KVBENCH_STORES_QUANT_KERNELS_H_
