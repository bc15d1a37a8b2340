#include "model/ops.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "formats/half.h"
#include "model/quant_decode.h"
#include "model/quant_dot.h"
#include "model/quant_weights.h"
#include "model/simd.h"

namespace kvbench {
namespace {

// Rows per parallel work item: the block's weights come from memory once and stay in L1/L2 while
// each group of vectors passes over them. A multiple of every tile height (2, 3, 4, 8), so no row
// falls to a one-row tile, whose single stream leaves DRAM bandwidth unused (32 rows with 3-row
// tiles cost TinyLlama's F16 decode about 8%).
constexpr int kRowBlock = 48;

// Register tiles of the MatMul kernel (two 16-lane accumulators per output, see TileDots):
// vectors are taken kWideVectors at a time against kWideRows rows, a remaining pair against
// kPairRows rows, and single vectors against kSingleRows rows. Chosen for the register file and
// the load ports: 32 zmm registers with AVX-512; with AVX2 16 ymm (an F32x16 is two), where a
// 1 x 3 tile converts each weight chunk once for three vectors and keeps 12 FMA chains in flight
// (Zen 3 needs about that many to approach its two FMAs per cycle). A single vector (decode) is
// bound by the weight stream: on Zen 4 four rows a tile read more of the bandwidth than eight
// (TinyLlama-shaped F16, one thread: 8.0 -> 9.2-9.5 t/s; BM_MatMul 32000x2048 12-17 -> 18-21 GB/s).
#if defined(KVBENCH_SIMD_AVX512)
constexpr int kWideRows = 2, kWideVectors = 4, kPairRows = 4, kSingleRows = 4;
#else
constexpr int kWideRows = 1, kWideVectors = 3, kPairRows = 1, kSingleRows = 3;
#endif

template <DType T>
inline float LoadScalar(const std::byte* row, int64_t i) {
  if constexpr (T == DType::kF32) {
    float f;
    std::memcpy(&f, row + 4 * i, 4);
    return f;
  } else {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    if constexpr (T == DType::kF16) return Fp16ToF32(h);
    return Bf16ToF32(h);
  }
}

inline float Q8_0Scale(const std::byte* block) {
  uint16_t h;
  std::memcpy(&h, block, 2);
  return HalfToF32(h);
}

// fn.template operator()<T>() for the run-time `dtype`: one switch for every typed entry point.
template <typename Fn>
decltype(auto) WithDType(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kF32:
      return fn.template operator()<DType::kF32>();
    case DType::kF16:
      return fn.template operator()<DType::kF16>();
    case DType::kBF16:
      return fn.template operator()<DType::kBF16>();
    case DType::kQ8_0:
      return fn.template operator()<DType::kQ8_0>();
    case DType::kQ4_0:
      return fn.template operator()<DType::kQ4_0>();
    case DType::kQ4_1:
      return fn.template operator()<DType::kQ4_1>();
    case DType::kQ5_0:
      return fn.template operator()<DType::kQ5_0>();
    case DType::kQ5_1:
      return fn.template operator()<DType::kQ5_1>();
    case DType::kQ4_K:
      return fn.template operator()<DType::kQ4_K>();
    case DType::kQ5_K:
      return fn.template operator()<DType::kQ5_K>();
    case DType::kQ6_K:
      return fn.template operator()<DType::kQ6_K>();
  }
  KVBENCH_CHECK(false, "unknown DType %d", static_cast<int>(dtype));
  return fn.template operator()<DType::kF32>();
}

// The scalar reference: one weight row with one input vector, summed in column order.
template <DType T>
float RowDotReference(const std::byte* row, const float* x, int64_t n) {
  float acc = 0.0f;
  if constexpr (IsGgmlBlockType(T)) {
    constexpr int kValues = BlockValues(T);
    float values[kValues];
    for (int64_t b = 0; b < n / kValues; ++b) {
      DequantizeBlocks(T, row + b * BlockBytes(T), kValues, values);
      for (int j = 0; j < kValues; ++j) acc += values[j] * x[b * kValues + j];
    }
  } else {
    for (int64_t i = 0; i < n; ++i) acc += LoadScalar<T>(row, i) * x[i];
  }
  return acc;
}

// Columns i .. i + n - 1 (n <= 16) of a weight row as f32, zeros past n.
template <DType T>
inline simd::F32x16 LoadWeights(const std::byte* row, int64_t i, int n = 16) {
  if constexpr (T == DType::kF32) {
    const float* p = reinterpret_cast<const float*>(row) + i;
    return n == 16 ? simd::Load(p) : simd::LoadN(p, n);
  } else {
    const uint16_t* p = reinterpret_cast<const uint16_t*>(row) + i;
    uint16_t tail[16] = {};
    if (n < 16) {
      std::memcpy(tail, p, 2 * n);
      p = tail;
    }
    if constexpr (T == DType::kF16) return simd::LoadF16(p);
    return simd::LoadBf16(p);
  }
}

// sums[v * ld_sums + r] = the 16 partial sums of row r . vector v, for an R x V tile. Every output
// has two accumulators: the
// columns are walked 16 at a time in order (the last chunk zero-padded), chunk k adding into
// accumulator k % 2 (two chains, so a tile has enough independent FMAs to hide their latency);
// at the end the two are added (and later reduced by the fixed tree of simd::ReduceAdd). A value
// therefore does not depend on R, V, the batch or the thread count: lockstep evaluation of many
// policies is bit-identical to running each alone.
template <DType T, int R, int V>
void TileDots(const std::byte* w, size_t row_bytes, const float* x, int64_t cols,
              simd::F32x16* sums, int ld_sums) {
  simd::F32x16 acc[2][R * V];
  for (auto& parity : acc) {
    for (auto& a : parity) a = simd::Zero();
  }
  if constexpr (IsGgmlBlockType(T)) {
    // Q4_1 and Q5_1: 32 values at a time, decoded row by row (one row's chunk live). A chunk's two
    // halves add into accumulators 0 and 1, as the F32 kernel adds the same columns: a row's dot
    // is bit for bit that of its dequantized f32 copy.
    constexpr int64_t kChunkBytes = int64_t{BlockBytes(T)} * 32 / BlockValues(T);  // on average
    const std::byte* next_tile = w + PrefetchAhead(R * row_bytes);
    for (int64_t c = 0; c < cols / 32; ++c) {
      PrefetchSpanL2(next_tile + c * R * kChunkBytes, R * kChunkBytes);
      for (int r = 0; r < R; ++r) {
        const std::byte* row = w + r * row_bytes;
        simd::F32x16 w0, w1;
        quant_decode::DecodeChunk<T>(row, c, &w0, &w1);
        for (int v = 0; v < V; ++v) {
          const float* xv = x + v * cols + c * 32;
          acc[0][r * V + v] = simd::MulAdd(w0, simd::Load(xv), acc[0][r * V + v]);
          acc[1][r * V + v] = simd::MulAdd(w1, simd::Load(xv + 16), acc[1][r * V + v]);
        }
      }
    }
  } else {
    constexpr int kBytes = T == DType::kF32 ? 4 : 2;
    auto chunk = [&](int64_t i, int n, simd::F32x16* a) {
      simd::F32x16 wr[R];
      for (int r = 0; r < R; ++r) wr[r] = LoadWeights<T>(w + r * row_bytes, i, n);
      for (int v = 0; v < V; ++v) {
        const float* xv = x + v * cols + i;
        const simd::F32x16 xc = n == 16 ? simd::Load(xv) : simd::LoadN(xv, n);
        for (int r = 0; r < R; ++r) a[r * V + v] = simd::MulAdd(wr[r], xc, a[r * V + v]);
      }
    };
    int64_t i = 0;
    const std::byte* next_tile = w + PrefetchAhead(R * row_bytes);
    for (; i + 32 <= cols; i += 32) {
      PrefetchSpanL2(next_tile + i * R * kBytes, R * 32 * kBytes);
      chunk(i, 16, acc[0]);
      chunk(i + 16, 16, acc[1]);
    }
    if (i + 16 <= cols) {
      chunk(i, 16, acc[0]);
      i += 16;
      if (i < cols) chunk(i, static_cast<int>(cols - i), acc[1]);
    } else if (i < cols) {
      chunk(i, static_cast<int>(cols - i), acc[0]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v)
      sums[v * ld_sums + r] = simd::Add(acc[0][r * V + v], acc[1][r * V + v]);
  }
}

// Rows [r0, r1) (at most kRowBlock) for vectors [v, v + V): R rows at a time, then one by one;
// the partial sums of the whole block are reduced eight outputs at a time (for short rows, such as
// the tiny models' 64 columns, one reduction per output would cost as much as its dot product).
template <DType T, int R, int V>
void RowRange(const WeightMatrix& w, int64_t r0, int64_t r1, const float* x, int v, float* y) {
  const size_t row_bytes = w.row_bytes();
  const float* xv = x + static_cast<size_t>(v) * w.cols;
  const int n = static_cast<int>(r1 - r0);
  simd::F32x16 sums[V * kRowBlock];  // (V, n)
  int r = 0;
  for (; r + R <= n; r += R)
    TileDots<T, R, V>(w.data + row_bytes * (r0 + r), row_bytes, xv, w.cols, sums + r, n);
  for (; r < n; ++r)
    TileDots<T, 1, V>(w.data + row_bytes * (r0 + r), row_bytes, xv, w.cols, sums + r, n);
  for (int j = 0; j < V; ++j) {
    float* yv = y + static_cast<size_t>(v + j) * w.rows + r0;
    const simd::F32x16* s = sums + j * n;
    int k = 0;
    for (; k + 8 <= n; k += 8) simd::ReduceAdd8(s + k, yv + k);
    for (; k < n; ++k) yv[k] = simd::ReduceAdd(s[k]);
  }
}

// Rows [r0, r1) of `w` for vectors [v0, v_end): groups of kWideVectors, then a pair, then singles.
template <DType T>
void BlockRows(const WeightMatrix& w, int64_t r0, int64_t r1, const float* x, int v0, int v_end,
               float* y) {
  int v = v0;
  for (; v + kWideVectors <= v_end; v += kWideVectors)
    RowRange<T, kWideRows, kWideVectors>(w, r0, r1, x, v, y);
  if constexpr (kPairRows > 0) {
    if (v + 2 <= v_end) {
      RowRange<T, kPairRows, 2>(w, r0, r1, x, v, y);
      v += 2;
    }
  }
  for (; v < v_end; ++v) RowRange<T, kSingleRows, 1>(w, r0, r1, x, v, y);
}

// The f32-activation kernels: every type but those of model/quant_dot.h.
void BlockRowsAny(const WeightMatrix& w, int64_t r0, int64_t r1, const float* x, int v0, int v_end,
                  float* y) {
  WithDType(w.dtype, [&]<DType T>() {
    if constexpr (UsesQ8Activations(T)) {
      KVBENCH_CHECK(false, "%s multiplies 8-bit activations (Q8Dots)", DTypeName(T));
    } else {
      BlockRows<T>(w, r0, r1, x, v0, v_end, y);
    }
  });
}

template <DType T>
void MatMulReferenceTyped(const WeightMatrix& w, const float* x, int n_vec, float* y) {
  if constexpr (UsesQ8Activations(T)) {
    std::vector<std::byte> xq(Q8ActivationBytes(T, w.cols));
    for (int v = 0; v < n_vec; ++v) {
      QuantizeActivations(T, x + static_cast<size_t>(v) * w.cols, w.cols, xq.data());
      for (int64_t r = 0; r < w.rows; ++r)
        y[static_cast<size_t>(v) * w.rows + r] = Q8DotReference(T, w.row(r), xq.data(), w.cols);
    }
  } else {
    for (int v = 0; v < n_vec; ++v) {
      for (int64_t r = 0; r < w.rows; ++r) {
        y[static_cast<size_t>(v) * w.rows + r] = RowDotReference<T>(
            w.data + w.row_bytes() * r, x + static_cast<size_t>(v) * w.cols, w.cols);
      }
    }
  }
}

}  // namespace

void MatMuls(absl::Span<const MatMulOutput> outputs, const float* x, int n_vec) {
  // Vectors in tiles of kVectorTile (their activations stay in L2 while every weight row streams
  // past them once per tile), rows in blocks of kRowBlock. The blocks of all outputs form one
  // parallel loop: one fork/join per call instead of one per matrix, and dynamic scheduling keeps
  // both cores busy when one of them is slowed down. A block's values do not depend on the thread
  // that computes it.
  constexpr int kVectorTile = 64;
  int64_t total_blocks = 0, work_per_vector = 0;
  int64_t first_block[kMaxMatMulOutputs + 1] = {0};
  KVBENCH_CHECK(outputs.size() <= kMaxMatMulOutputs);
  for (size_t o = 0; o < outputs.size(); ++o) {
    const WeightMatrix& w = *outputs[o].w;
    KVBENCH_CHECK(w.cols == outputs[0].w->cols, "MatMuls over matrices of %lld and %lld columns",
                  static_cast<long long>(w.cols), static_cast<long long>(outputs[0].w->cols));
    total_blocks += (w.rows + kRowBlock - 1) / kRowBlock;
    first_block[o + 1] = total_blocks;
    work_per_vector += w.rows * w.cols;
  }
  // Weights of the ggml block types multiply 8-bit activations (model/quant_dot.h): each vector
  // is quantized once per call, per block size the outputs need, before the parallel loop.
  const int64_t cols = outputs[0].w->cols;
  thread_local std::vector<std::byte> q8_small, q8_large;  // 32-value and 256-value blocks
  size_t q8_bytes[2] = {0, 0};
  for (const MatMulOutput& out : outputs) {
    const DType t = out.w->dtype;
    if (!UsesQ8Activations(t)) continue;
    const int which = BlockValues(t) == kQK_K ? 1 : 0;
    std::vector<std::byte>& buf = which == 1 ? q8_large : q8_small;
    if (q8_bytes[which] != 0) continue;
    q8_bytes[which] = Q8ActivationBytes(t, cols);
    buf.resize(q8_bytes[which] * static_cast<size_t>(n_vec));
    for (int v = 0; v < n_vec; ++v) {
      QuantizeActivations(t, x + static_cast<size_t>(v) * cols, cols,
                          buf.data() + q8_bytes[which] * static_cast<size_t>(v));
    }
  }
  // The buffers are this thread's; the team reads them through these pointers.
  const std::byte* const q8_data[2] = {q8_small.data(), q8_large.data()};
  // (vector tile, row block) pairs, tile by tile, in one parallel loop: a 512-token prefill is
  // one fork/join per call, not one per tile of 64 vectors.
  const int64_t n_tiles = (n_vec + kVectorTile - 1) / kVectorTile;
  const bool parallel = work_per_vector * std::min(n_vec, kVectorTile) >= kMinParallelMatMulWork;
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (int64_t item = 0; item < n_tiles * total_blocks; ++item) {
    const int64_t b = item % total_blocks;
    const int v0 = static_cast<int>(item / total_blocks) * kVectorTile;
    const int v_end = std::min(n_vec, v0 + kVectorTile);
    size_t o = 0;
    while (b >= first_block[o + 1]) ++o;
    const WeightMatrix& w = *outputs[o].w;
    const int64_t r0 = (b - first_block[o]) * kRowBlock;
    const int64_t r1 = std::min(w.rows, r0 + kRowBlock);
    if (UsesQ8Activations(w.dtype)) {
      const int which = BlockValues(w.dtype) == kQK_K ? 1 : 0;
      Q8Dots(w.dtype, w.row(r0), w.row_bytes(), static_cast<int>(r1 - r0),
             q8_data[which] + q8_bytes[which] * static_cast<size_t>(v0), q8_bytes[which],
             v_end - v0, cols, outputs[o].y + static_cast<size_t>(v0) * w.rows + r0,
             static_cast<size_t>(w.rows));
    } else {
      BlockRowsAny(w, r0, r1, x, v0, v_end, outputs[o].y);
    }
  }
}

void MatMul(const WeightMatrix& w, const float* x, int n_vec, float* y) {
  const MatMulOutput out{&w, y};
  MatMuls(absl::MakeConstSpan(&out, 1), x, n_vec);
}

void MatMulReference(const WeightMatrix& w, const float* x, int n_vec, float* y) {
  WithDType(w.dtype, [&]<DType T>() { MatMulReferenceTyped<T>(w, x, n_vec, y); });
}

void DequantizeRow(DType dtype, const std::byte* row, int64_t n, float* out) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out, row, 4 * n);
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) out[i] = LoadScalar<DType::kF16>(row, i);
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) out[i] = LoadScalar<DType::kBF16>(row, i);
      return;
    case DType::kQ8_0:
      for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
        const std::byte* block = row + b * kQ8_0BlockBytes;
        const float d = Q8_0Scale(block);
        const auto* q = reinterpret_cast<const int8_t*>(block + 2);
        for (int j = 0; j < kQ8_0BlockSize; ++j) out[b * kQ8_0BlockSize + j] = d * q[j];
      }
      return;
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      DequantizeBlocks(dtype, row, n, out);
      return;
  }
}

void QuantizeRow(DType dtype, const float* x, int64_t n, std::byte* out) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out, x, 4 * n);
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = F32ToFp16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = F32ToBf16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case DType::kQ8_0:
      for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
        const float* xb = x + b * kQ8_0BlockSize;
        float amax = 0.0f;
        for (int j = 0; j < kQ8_0BlockSize; ++j) amax = std::max(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        std::byte* block = out + b * kQ8_0BlockBytes;
        const uint16_t dh = F32ToFp16(d);
        std::memcpy(block, &dh, 2);
        for (int j = 0; j < kQ8_0BlockSize; ++j) {
          const int8_t q = static_cast<int8_t>(std::lround(xb[j] * id));
          std::memcpy(block + 2 + j, &q, 1);
        }
      }
      return;
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      break;
  }
  KVBENCH_CHECK(false, "QuantizeRow to %s: the ggml block types are read, never written",
                DTypeName(dtype));
}

void RmsNorm(const float* x, const float* weight, int n, float eps, float* out) {
  // The sum of squares runs left to right (the compiler may not reorder a float sum): a reduction
  // that peels elements up to the data's alignment would make results depend on where the buffer
  // sits. Each output is (x * inv) * weight, rounded in that order.
  float ss = 0.0f;
  for (int i = 0; i < n; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int i = 0; i < n; ++i) out[i] = x[i] * inv * weight[i];
}

void GeluTanhGlu(float* gate, const float* up, int n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f, kCubic = 0.044715f;
  for (int i = 0; i < n; ++i) {
    const float x = gate[i];
    gate[i] = 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + kCubic * x * x * x))) * up[i];
  }
}

void SwiGlu(float* gate, const float* up, int n) {
  // simd::Exp from the first element with a zero-padded tail (never an alignment peel), so a
  // value's result depends on nothing but the value, on every instruction set.
  const simd::F32x16 one = simd::Set1(1.0f), zero = simd::Zero();
  for (int i = 0; i < n; i += 16) {
    const int m = std::min(16, n - i);
    float den[16];
    simd::Store(den, simd::Add(one, simd::Exp(simd::Sub(zero, simd::LoadN(gate + i, m)))));
    for (int j = 0; j < m; ++j) gate[i + j] = gate[i + j] / den[j] * up[i + j];
  }
}

void Softmax(float* x, int n) {
  if (n <= 0) return;
  const float max = *std::max_element(x, x + n);
  // 16 lanes at a time from the first element (a zero-padded tail, never an alignment peel), so
  // the summation order depends on n only, not on where the scores sit in memory.
  const simd::F32x16 vmax = simd::Set1(max);
  simd::F32x16 acc = simd::Zero();
  for (int i = 0; i < n; i += 16) {
    const int m = std::min(16, n - i);
    const simd::F32x16 e = simd::Exp(simd::Sub(simd::LoadN(x + i, m), vmax));
    simd::StoreN(x + i, e, m);
    acc = simd::Add(acc, simd::KeepFirst(e, m));
  }
  const float inv = 1.0f / simd::ReduceAdd(acc);
  for (int i = 0; i < n; ++i) x[i] *= inv;
}

void SetNumThreads(int n) {
  if (n > 0) omp_set_num_threads(n);
}

int NumThreads() { return omp_get_max_threads(); }

}  // namespace kvbench
