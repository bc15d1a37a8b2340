// fp8 stores (vLLM's FP8 KV cache, emulated): x is stored as fp8(x / scale), 8 bits per value, and
// read back as fp8_value * scale. Formats and rounding in policies/fp8.h (e4m3: max 448, relative
// error <= 2^-4 in the normal range; e5m2: max 57344, <= 2^-3; both saturate).
//
// The scale (parameters `scale: head|tensor`, `amax`, `calibrate`): vLLM uses a precomputed scale
// (calibrated offline, or from the first batch with calculate_kv_scales; 1.0 otherwise). Here the
// default is vLLM's uncalibrated 1.0 (fp8 covers 2^-9 .. 448 for e4m3 directly); `amax` > 0 fixes
// scale = amax / max_finite; `calibrate=true` takes amax from the first rows appended and freezes it
// (per head: each (layer, KV head) from its own first rows; per tensor: each layer from the first
// Append that reaches it, i.e. KV head 0's rows). Calibrating on a one-token first step saturates
// every later value above that token's range: use it with a prompt block. Rows are never
// re-encoded once a scale is set. Each scale costs 4 bytes, counted in memory().
#ifndef KVBENCH_STORES_FP8_STORE_H_
#define KVBENCH_STORES_FP8_STORE_H_

#include <memory>

#include "stores/fp8.h"
#include "stores/row_store.h"

namespace kvbench {

std::unique_ptr<RowCodec> MakeFp8Codec(Fp8Format format, int head_dim);

}  // namespace kvbench

#endif  // KVBENCH_STORES_FP8_STORE_H_
