// Integer dot products of ggml weight blocks with 8-bit activations, as llama.cpp's CPU backend
// computes a quantized matrix times a vector: the input vector is quantized to 8 bits per value
// (one f32 scale per 32 values for the 32-value block types, per 256 for the K types), each
// block's products are summed in int32, and only the per-block sums are scaled in f32. An int8
// multiply-add does four products per 32-bit lane where decoding to f32 does one, and there is no
// per-value conversion; this is why llama.cpp decodes Q4_K files about twice as fast as an f32
// decode of the same weights (issue 18).
//
// Types: Q8_0, Q4_0, Q5_0 (with BlockQ8x32 activations) and Q4_K, Q5_K, Q6_K (BlockQ8x256). The
// other weight types keep the f32 kernels of model/ops.cc.
//
// The definition every implementation reproduces bit for bit (Q8DotReference spells it out): a dot
// has eight f32 lanes. Within a group of 32 values (a legacy block, a K sub-block of 32 or a Q6_K
// pair of 16-value sub-blocks), lane k takes values 4k..4k+3: its integer sum of code products
// (times the sub-block scale for the K types) is exact in int32. Legacy: after each block, lane k
// becomes fma(d_w * d_x, float(sum_k), lane_k). K types: the lane sums of a super-block's eight
// groups are added in int32 first, then fma(d_w * d_x, float(sum_k), lane_k) once per super-block;
// Q4_K and Q5_K subtract their minimums in four more lanes, lane t accumulating
// fma(dmin_w * d_x, float(m_2t * s_2t + m_2t+1 * s_2t+1), .) with s_j the sum of the activation
// codes of sub-block j. The dot is Sum8(lanes) - ((m0 + m1) + (m2 + m3)), Sum8 as in model/simd.h.
// Nothing depends on the tile shape, the batch, the thread or the instruction set, so lockstep
// evaluation stays bit-identical to one sequence at a time, and AVX2, AVX-512 and scalar builds
// give the same logits.
#ifndef KVBENCH_MODEL_QUANT_DOT_H_
#define KVBENCH_MODEL_QUANT_DOT_H_

#include <cstddef>
#include <cstdint>

#include "formats/dtype.h"

namespace kvbench {

// 32 activations: x[j] ~ d * qs[j], d = max |x| / 127, codes in [-127, 127].
struct BlockQ8x32 {
  float d;
  int8_t qs[32];
};
// 256 activations, with the sum of each 32 codes (for the K types' minimums).
struct BlockQ8x256 {
  float d;
  int8_t qs[256];
  int16_t sums[8];
};

// True for the weight types whose MatMul runs on 8-bit activations.
constexpr bool UsesQ8Activations(DType type) {
  switch (type) {
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ5_0:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      return true;
    default:
      return false;
  }
}

// Bytes of one quantized activation vector of `cols` values for weights of `type`.
size_t Q8ActivationBytes(DType type, int64_t cols);

// Quantizes x (cols values, whole blocks of `type`) into out (Q8ActivationBytes): per block,
// d = amax / 127 and q = nearest-even(x * (127 / amax)); an all-zero block has d = 0, q = 0.
void QuantizeActivations(DType type, const float* x, int64_t cols, std::byte* out);

// The scalar definition of one row's dot with quantized activations (see the top of the file).
float Q8DotReference(DType type, const std::byte* row, const std::byte* xq, int64_t cols);

// y[v * ld_y + r] = row r . vector v for rows [0, n_rows) (row_bytes apart from w) and vectors
// [0, n_vec) (xq_bytes apart from xq), each exactly Q8DotReference.
void Q8Dots(DType type, const std::byte* w, size_t row_bytes, int n_rows, const std::byte* xq,
            size_t xq_bytes, int n_vec, int64_t cols, float* y, size_t ld_y);

}  // namespace kvbench

#endif  // KVBENCH_MODEL_QUANT_DOT_H_
