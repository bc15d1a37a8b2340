// f16 and bf16 stores: each value rounded to 16 bits (round to nearest even), nothing else per row.
//
//   f16  (IEEE binary16): 16 bits per value, 11 significant bits, range +-65504 (beyond: inf).
//                         llama.cpp's default KV type (-ctk f16).
//   bf16 (bfloat16):      16 bits per value, 8 significant bits, the f32 range.
//
// Row layout: head_dim little-endian uint16 values, row bytes = 2 * head_dim. Rows are decoded with
// vector conversions (model/simd.h, exact) into the attention tile; formats/half.h is the scalar
// reference.
#ifndef KVBENCH_STORES_HALF_STORE_H_
#define KVBENCH_STORES_HALF_STORE_H_

#include <memory>

#include "stores/row_store.h"

namespace kvbench {

enum class HalfFormat { kF16, kBf16 };

std::unique_ptr<RowCodec> MakeHalfCodec(HalfFormat format, int head_dim);

}  // namespace kvbench

#endif  // KVBENCH_STORES_HALF_STORE_H_
