// int8 store: symmetric 8-bit integers per token and KV head (one scale per row).
//
//   row = [d: f32][q: head_dim int8],  d = amax(row) / 127,  q = round(x / d) in [-127, 127],
//   x_hat = q * d, |x - x_hat| <= d / 2.
// Bytes per value: 1 + 4 / head_dim (1.03 at head_dim 128; 1.5 at head_dim 8). The f32 scale keeps
// rows with tiny values exact to 8 bits (an fp16 scale would underflow below 6e-8 / 127); this is
// the per-token int8 KV scheme of e.g. HF's quanto "int8" and LMDeploy's kv int8.
#ifndef KVBENCH_STORES_INT8_STORE_H_
#define KVBENCH_STORES_INT8_STORE_H_

#include <memory>

#include "stores/row_store.h"

namespace kvbench {

std::unique_ptr<RowCodec> MakeInt8Codec(int head_dim);

}  // namespace kvbench

#endif  // KVBENCH_STORES_INT8_STORE_H_
