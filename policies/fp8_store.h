// fp8 stores (vLLM's FP8 KV cache, emulated): x is stored as fp8(x / scale), 8 bits per value, and
// read back as fp8_value * scale. Formats and rounding in policies/fp8.h (e4m3: max 448, relative
// error <= 2^-4 in the normal range; e5m2: max 57344, <= 2^-3; both saturate).
//
// The scale (parameters `scale: tensor|head`, `amax`): vLLM uses a precomputed per-tensor scale
// (calibrated offline, or from the first batch with calculate_kv_scales; 1.0 otherwise). Here
// `amax` > 0 fixes scale = amax / max_finite for every head; `amax` = 0 (default) calibrates once
// from the first rows appended and freezes the scale (per head: each (layer, KV head) from its own
// first rows; per tensor: each layer from the first Append that reaches it, i.e. KV head 0's
// prompt rows, so larger values in other heads or later tokens saturate). Rows are never
// re-encoded when a scale is set. Each scale costs 4 bytes, counted in memory().
#ifndef KVBENCH_POLICIES_FP8_STORE_H_
#define KVBENCH_POLICIES_FP8_STORE_H_

#include <memory>

#include "policies/fp8.h"
#include "policies/row_store.h"

namespace kvbench {

std::unique_ptr<RowCodec> MakeFp8Codec(Fp8Format format, int head_dim);

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_FP8_STORE_H_
