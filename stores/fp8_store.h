// fp8 stores (vLLM's FP8 KV cache, emulated): x is stored as fp8(x / scale), 8 bits per value, and
// read back as fp8_value * scale. Formats and rounding in stores/fp8.h (e4m3: max 448, relative
// error <= 2^-4 in the normal range; e5m2: max 57344, <= 2^-3; both saturate).
//
// The scale (parameters `scale: head|tensor`, `amax`, `calibrate`): vLLM uses a precomputed scale
// (from the checkpoint, or from the first batch with calculate_kv_scales; 1.0 otherwise). Here the
// default is vLLM's uncalibrated 1.0 (fp8 covers 2^-9 .. 448 for e4m3 directly); `amax` > 0 fixes
// scale = amax / max_finite. `calibrate` takes amax from the first rows appended and freezes it:
//   vllm  scale = amax / 200 for K, amax / 100 for V: vLLM's calculate_kv_scales
//         (vllm/attention/layer.py Attention.calc_kv_scales: k_scale = |key|.max() / k_range with
//         k_range = K_SCALE_CONSTANT = 200, v_range = V_SCALE_CONSTANT = 100), which leaves
//         headroom (e4m3: 448 / 200 = 2.24x the first batch's K range, 4.48x its V range) for
//         later tokens; vLLM takes one scale per layer tensor (scale=tensor here)
//   max   scale = amax / max_finite: the first rows' max maps to the format's max, so any later
//         value above it saturates (kvbench's rule before issue 16, then `calibrate=true`)
//   false no calibration (the default)
// Per head: each (layer, KV head) from its own first rows; per tensor: each layer from the first
// Append that reaches it, in PolicyCache KV head 0's rows of the first step (vLLM's amax runs over
// all heads of the batch). Calibrating on a one-token first step saturates later values above
// that token's range plus the headroom: use it with a prompt block. Rows are never re-encoded once
// a scale is set. Each scale costs 4 bytes once rows have been encoded with it (per head, or once
// per layer), counted in memory() and LayerBytes.
#ifndef KVBENCH_STORES_FP8_STORE_H_
#define KVBENCH_STORES_FP8_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "stores/fp8.h"
#include "stores/row_store.h"

namespace kvbench {

// Which rows share a scale: those of one (layer, KV head), or all of a layer's.
enum class Fp8ScaleScope { kHead, kTensor };

struct Fp8StoreOptions {
  Fp8Format format = Fp8Format::kE4M3;
  Fp8ScaleScope scope = Fp8ScaleScope::kHead;
  float amax = 0;  // > 0: fixed scale amax / max_finite; 0: scale 1
  // > 0: the scale is amax(first rows appended) / calibrate_range instead (vllm: 200 for K, 100
  // for V; max: max_finite). 0: no calibration.
  float calibrate_range = 0;
};

class Fp8Store final : public RowStore {
 public:
  // `name` is what name() reports (the registry's, with parameters).
  Fp8Store(const CacheShape& shape, const Fp8StoreOptions& options, std::string name);

  // Logical bytes of one layer with `entries` rows in each KV head: one byte per value, plus the
  // scales once there are rows.
  static uint64_t LayerBytes(Fp8ScaleScope scope, const CacheShape& shape, int64_t entries);

 private:
  // The scale of (layer, head): 0 while it waits for calibration.
  float scale(int layer, int head) const override { return scales_[layer * n_kv_heads() + head]; }
  void BeforeEncode(int layer, int head, const float* rows, int n, int ld) override;
  uint64_t scale_bytes(int layer) const override;
  // Sets the scale of (layer, head), or of the whole layer, from the amax of these rows.
  void Calibrate(int layer, int head, const float* rows, int n, int ld);

  Fp8StoreOptions options_;
  std::vector<float> scales_;  // (layers * kv_heads); 0 = not calibrated yet
  std::vector<bool> encoded_;  // (layers * kv_heads): rows were encoded with the scale (it is held)
};

}  // namespace kvbench

#endif  // KVBENCH_STORES_FP8_STORE_H_
