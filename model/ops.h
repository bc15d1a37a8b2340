// The decoder's numeric kernels: matrix x vectors for every weight dtype, RMSNorm, SwiGLU, softmax.
//
// MatMul reads each weight row once for several input vectors at a time (register tiles of rows x
// vectors), so a batch of sequences (the harness's lockstep evaluation) or a prefill block costs
// one pass over the weights. Row blocks are spread over OpenMP threads; each output element is
// computed by exactly one thread in a fixed order, so results depend neither on the thread count
// nor on the rest of the batch, nor (model/simd.h) on the instruction set. Every vector kernel has
// a scalar reference (the *Reference functions) that tests compare against.
#ifndef KVBENCH_MODEL_OPS_H_
#define KVBENCH_MODEL_OPS_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "formats/dtype.h"
#include "model/weights.h"

namespace kvbench {

// Below this many multiply-adds (about 100 us of work) a step's attention stays on one thread:
// waking the team, and worse, waiting for a descheduled thread on a busy machine, costs more than
// it saves.
inline constexpr int64_t kMinParallelWork = int64_t{1} << 20;
// The same bound for one MatMuls call, lower: kvb-docs-12M's decode matrices (384 x 384 to
// 1024 x 384, 0.15-0.4 M multiply-adds) ran on one thread under 2^20, and with two threads its
// tg128 went from about 1090 to 1715 t/s (Q4_K_M) and 800 to 1340 t/s (BF16) on a 2-core VM.
// stories260K's matrices (at most 33 K) stay below it, which keeps its 60 us step lean.
inline constexpr int64_t kMinParallelMatMulWork = int64_t{1} << 16;

// y[v][r] = sum_c W[r][c] * x[v][c] for v < n_vec. x: (n_vec, cols), y: (n_vec, rows), row-major.
void MatMul(const WeightMatrix& w, const float* x, int n_vec, float* y);

// Several matrices with the same input in one pass (Q/K/V, gate/up): the same values as one
// MatMul each, with one fork/join for all of them. Every w->cols must be the same.
struct MatMulOutput {
  const WeightMatrix* w;
  float* y;  // (n_vec, w->rows)
};
inline constexpr size_t kMaxMatMulOutputs = 4;
void MatMuls(absl::Span<const MatMulOutput> outputs, const float* x, int n_vec);
void MatMulReference(const WeightMatrix& w, const float* x, int n_vec, float* y);

// out[i] = row[i] as f32, for one row of `n` values of `dtype` (whole blocks of a block type).
void DequantizeRow(DType dtype, const std::byte* row, int64_t n, float* out);

// The inverse: n f32 values encoded as `dtype` (round to nearest even for F16/BF16; Q8_0 as
// llama.cpp's reference quantize_row_q8_0: d = amax / 127, q = round(x / d)). n % 32 == 0 for Q8_0.
// F32, F16, BF16 and Q8_0 only: the other block types (model/quant_weights.h) are read from files
// that llama-quantize wrote, whose choice of scales kvbench does not reproduce.
void QuantizeRow(DType dtype, const float* x, int64_t n, std::byte* out);

// out = x / rms(x) * weight, over n values.
void RmsNorm(const float* x, const float* weight, int n, float eps, float* out);

// gate[i] = silu(gate[i]) * up[i].
void SwiGlu(float* gate, const float* up, int n);

// gate[i] = gelu_tanh(gate[i]) * up[i] (GeGLU, Gemma's FFN), with PyTorch's tanh approximation
// gelu_tanh(x) = x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))) (transformers'
// "gelu_pytorch_tanh").
void GeluTanhGlu(float* gate, const float* up, int n);

// In-place softmax over n values; returns nothing, the max is subtracted first.
void Softmax(float* x, int n);

// Number of threads MatMul uses (OpenMP); 0 keeps the OpenMP default.
void SetNumThreads(int n);
int NumThreads();

}  // namespace kvbench

#endif  // KVBENCH_MODEL_OPS_H_
