// KIVI's asymmetric min/max quantization of one group of values, shared by its key and value
// stores (kivi_store.h), and the per-thread scratch their kernels reuse.
//
//   scale = (max - min) / (2^b - 1),  code = clamp(round((x - min) / scale), 0, 2^b - 1),
//   with scale and min rounded to fp16 as stored, and codes computed from the rounded values.
#ifndef KVBENCH_STORES_KIVI_QUANT_H_
#define KVBENCH_STORES_KIVI_QUANT_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "formats/half.h"

namespace kvbench {

// (scale, min) of values [lo, hi] with `levels` = 2^b - 1 steps, rounded to fp16 as stored.
inline void KiviMinMaxParams(float lo, float hi, int levels, uint16_t* scale_h, uint16_t* min_h) {
  *scale_h = F32ToFp16((hi - lo) / static_cast<float>(levels));
  *min_h = F32ToFp16(lo);
}

inline uint8_t KiviCode(float x, float scale, float min, int levels) {
  if (!(scale > 0.0f)) return 0;  // a constant group (or a NaN scale): every value is `min`
  const float q = std::round((x - min) / scale);
  return static_cast<uint8_t>(std::clamp(q, 0.0f, static_cast<float>(levels)));
}

// Per-thread scratch of the KIVI kernels, grown on demand.
struct KiviScratch {
  std::vector<float> tile;     // (kTileRows, head_dim)
  std::vector<float> params;   // (2, head_dim) decoded scale / min
  std::vector<float> qs;       // (n_q, head_dim) q * scale
  std::vector<float> bias;     // (n_q) q . min
  std::vector<float> qt;       // (head_dim, 16) the queries transposed, for the bias
  std::vector<uint8_t> codes;  // (head_dim) one row of unpacked codes while encoding
};

inline KiviScratch& GetKiviScratch() {
  thread_local KiviScratch scratch;
  return scratch;
}

// This thread's buffer for one row of `n` unpacked codes, valid until the next call.
inline uint8_t* KiviCodeRowScratch(int n) {
  std::vector<uint8_t>& codes = GetKiviScratch().codes;
  codes.resize(n);
  return codes.data();
}

}  // namespace kvbench

#endif  // KVBENCH_STORES_KIVI_QUANT_H_
