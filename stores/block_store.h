// llama.cpp's block quantization types as KV stores: q8_0, q4_0, q4_1, q5_0, q5_1 (-ctk / -ctv).
//
// A block of qk values carries an fp16 scale d (and, for the _1 types, an fp16 min m):
//   q8_0: [d][qs: qk int8]                     x = q * d,         d = amax / 127, q = round(x / d)
//   q4_0: [d][qs: qk/2 nibbles]                x = (q - 8) * d,   d = max / -8 (max = signed value
//                                                                 of largest magnitude),
//                                                                 q = min(15, (int8)(x / d + 8.5))
//   q4_1: [d][m][qs: qk/2]                     x = q * d + m,     d = (max - min) / 15, m = min,
//                                                                 q = min(15, (int8)((x - m) / d +
//                                                                 0.5))
//   q5_0: [d][qh: qk/8][qs: qk/2]              x = (q - 16) * d,  d = max / -16,
//                                                                 q = min(31, (int8)(x / d + 16.5))
//   q5_1: [d][m][qh: qk/8][qs: qk/2]           x = q * d + m,     d = (max - min) / 31,
//                                                                 q = (uint8)((x - m) / d + 0.5)
// Nibbles: element j < qk/2 in the low nibble of qs[j], element j + qk/2 in the high nibble; the
// 5th bit of element j is bit j of qh (little-endian). "x / d" is computed as x * (1 / d) in f32
// from the unrounded d, as quantize_row_*_ref does; only the stored d is rounded to fp16. With qk =
// 32 the bytes are identical to llama.cpp's block_q8_0 (34 bytes), block_q4_0 (18), block_q4_1
// (20), block_q5_0 (22) and block_q5_1 (24).
//
// Block size: entries are rows of head_dim values of one KV head (per-head eviction needs that).
// When head_dim % 32 == 0 a row is head_dim / 32 llama.cpp blocks, bit-exact. Otherwise (the tiny
// models: head_dim 8 and 16, where llama.cpp itself refuses these types) a row is ONE block of qk =
// head_dim values with the same layout (qh then has head_dim / 8 bytes) and its own fp16 scale (and
// min), so the scale overhead per value is larger: e.g. q4_0 at head_dim 8 is 2 + 4 = 6 bytes per 8
// values = 6 bits per value instead of 4.5. The bytes counted are the bytes held.
#ifndef KVBENCH_STORES_BLOCK_STORE_H_
#define KVBENCH_STORES_BLOCK_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "stores/row_store.h"

namespace kvbench {

enum class BlockType { kQ8_0, kQ4_0, kQ4_1, kQ5_0, kQ5_1 };

// Values per block for rows of head_dim: 32 when it divides head_dim, else head_dim.
inline int BlockValues(int head_dim) { return head_dim % 32 == 0 ? 32 : head_dim; }

// Bytes of one block of qk values (qk even; qk % 8 == 0 for the 5-bit types).
size_t BlockBytes(BlockType type, int qk);

// One block, exactly as llama.cpp's quantize_row_<type>_ref for qk = 32.
void QuantizeBlock(BlockType type, const float* x, int qk, uint8_t* block);
// Scalar reference dequantization of one block (dequantize_row_<type>).
void DequantizeBlockReference(BlockType type, const uint8_t* block, int qk, float* y);

// Codec for rows of head_dim values (head_dim even; % 8 for the 5-bit types).
std::unique_ptr<RowCodec> MakeBlockCodec(BlockType type, int head_dim);

}  // namespace kvbench

#endif  // KVBENCH_STORES_BLOCK_STORE_H_
