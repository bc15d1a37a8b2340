#include "model/ops.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <Eigen/Core>

#include "model/half.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace kvbench {
namespace {

// Below this many multiply-adds (about 100 us of work) a MatMul stays on one thread: waking the
// team, and worse, waiting for a descheduled thread on a busy machine, costs more than it saves.
// stories260K's decode matrices are far below it, which keeps its step lean.
constexpr int64_t kMinParallelWork = int64_t{1} << 20;
constexpr int kMaxVectorsPerPass = 4;
constexpr int kPrefetchBytes = 2048;

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
  return Fp16ToF32(h);
}

// Dot products of one weight row with NV input vectors (stride `ld` floats apart). Scalar path.
template <DType T, int NV>
void RowDotsScalar(const std::byte* row, const float* x, int64_t ld, int64_t n, float* out) {
  if constexpr (T == DType::kQ8_0) {
    float acc[NV] = {};
    for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
      const std::byte* block = row + b * kQ8_0BlockBytes;
      const float d = Q8_0Scale(block);
      const auto* q = reinterpret_cast<const int8_t*>(block + 2);
      for (int v = 0; v < NV; ++v) {
        const float* xv = x + v * ld + b * kQ8_0BlockSize;
        float s = 0.0f;
        for (int j = 0; j < kQ8_0BlockSize; ++j) s += static_cast<float>(q[j]) * xv[j];
        acc[v] += d * s;
      }
    }
    for (int v = 0; v < NV; ++v) out[v] = acc[v];
  } else {
    float acc[NV] = {};
    for (int64_t i = 0; i < n; ++i) {
      const float w = LoadScalar<T>(row, i);
      for (int v = 0; v < NV; ++v) acc[v] += w * x[v * ld + i];
    }
    for (int v = 0; v < NV; ++v) out[v] = acc[v];
  }
}

#if defined(__AVX512F__)
template <DType T>
inline __m512 Load16(const std::byte* row, int64_t i) {
  if constexpr (T == DType::kF32) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
  } else if constexpr (T == DType::kF16) {
    return _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + i)));
  } else {
    const __m256i h =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <DType T, int NV>
void RowDots(const std::byte* row, const float* x, int64_t ld, int64_t n, float* out) {
  if constexpr (T == DType::kQ8_0) {
    __m512 acc[NV];
    for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
      const std::byte* block = row + b * kQ8_0BlockBytes;
      _mm_prefetch(reinterpret_cast<const char*>(block) + kPrefetchBytes, _MM_HINT_T0);
      const __m512 d = _mm512_set1_ps(Q8_0Scale(block));
      const auto* q = reinterpret_cast<const __m128i*>(block + 2);
      const __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q)));
      const __m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q + 1)));
      for (int v = 0; v < NV; ++v) {
        const float* xv = x + v * ld + b * kQ8_0BlockSize;
        const __m512 s =
            _mm512_fmadd_ps(w1, _mm512_loadu_ps(xv + 16), _mm512_mul_ps(w0, _mm512_loadu_ps(xv)));
        acc[v] = _mm512_fmadd_ps(d, s, acc[v]);
      }
    }
    for (int v = 0; v < NV; ++v) out[v] = _mm512_reduce_add_ps(acc[v]);
  } else {
    // Four accumulators per vector hide the FMA latency (4 cycles) when NV is small; every NV sums
    // in the same order, so a vector's result never depends on how many share the pass.
    __m512 acc0[NV], acc1[NV], acc2[NV], acc3[NV];
    for (int v = 0; v < NV; ++v) acc0[v] = acc1[v] = acc2[v] = acc3[v] = _mm512_setzero_ps();
    int64_t i = 0;
    constexpr int kBytes = T == DType::kF32 ? 4 : 2;
    for (; i + 64 <= n; i += 64) {
      // Hardware prefetchers stop at 4 KiB boundaries, and a weight row is often exactly one such
      // page: asking for the bytes kPrefetchBytes ahead keeps the stream going across rows.
      const char* ahead = reinterpret_cast<const char*>(row) + i * kBytes + kPrefetchBytes;
      _mm_prefetch(ahead, _MM_HINT_T0);
      _mm_prefetch(ahead + 64, _MM_HINT_T0);
      if constexpr (kBytes == 4) {
        _mm_prefetch(ahead + 128, _MM_HINT_T0);
        _mm_prefetch(ahead + 192, _MM_HINT_T0);
      }
      const __m512 w0 = Load16<T>(row, i);
      const __m512 w1 = Load16<T>(row, i + 16);
      const __m512 w2 = Load16<T>(row, i + 32);
      const __m512 w3 = Load16<T>(row, i + 48);
      for (int v = 0; v < NV; ++v) {
        const float* xv = x + v * ld + i;
        acc0[v] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xv), acc0[v]);
        acc1[v] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xv + 16), acc1[v]);
        acc2[v] = _mm512_fmadd_ps(w2, _mm512_loadu_ps(xv + 32), acc2[v]);
        acc3[v] = _mm512_fmadd_ps(w3, _mm512_loadu_ps(xv + 48), acc3[v]);
      }
    }
    for (; i + 16 <= n; i += 16) {
      const __m512 w0 = Load16<T>(row, i);
      for (int v = 0; v < NV; ++v) acc0[v] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + v * ld + i), acc0[v]);
    }
    for (int v = 0; v < NV; ++v) {
      float s = _mm512_reduce_add_ps(
          _mm512_add_ps(_mm512_add_ps(acc0[v], acc1[v]), _mm512_add_ps(acc2[v], acc3[v])));
      for (int64_t j = i; j < n; ++j) s += LoadScalar<T>(row, j) * x[v * ld + j];
      out[v] = s;
    }
  }
}
#else
template <DType T, int NV>
void RowDots(const std::byte* row, const float* x, int64_t ld, int64_t n, float* out) {
  RowDotsScalar<T, NV>(row, x, ld, n, out);
}
#endif

template <DType T, bool kReference>
void RowDotsAny(int nv, const std::byte* row, const float* x, int64_t ld, int64_t n, float* out) {
  if constexpr (kReference) {
    if (nv == 4) return RowDotsScalar<T, 4>(row, x, ld, n, out);
    return RowDotsScalar<T, 1>(row, x, ld, n, out);
  } else {
    if (nv == 4) return RowDots<T, 4>(row, x, ld, n, out);
    return RowDots<T, 1>(row, x, ld, n, out);
  }
}

// Vectors are taken in tiles of kVectorTile (their activations stay in L2 while every weight row
// streams past them once per tile), and within a tile 4 at a time (one weight load feeds 4 FMAs).
// Each output element is accumulated in the same order whatever n_vec and the thread count are,
// so a sequence's logits do not depend on what else is in the batch: lockstep evaluation of many
// policies is bit-identical to running each alone.
template <DType T, bool kReference>
void MatMulTyped(const WeightMatrix& w, const float* x, int n_vec, float* y) {
  constexpr int kVectorTile = 64;
  constexpr int64_t kRowBlock = 32;
  const int64_t rows = w.rows, cols = w.cols;
  const size_t row_bytes = w.row_bytes();
  for (int v0 = 0; v0 < n_vec; v0 += kVectorTile) {
    const int nv = std::min(kVectorTile, n_vec - v0);
    const bool parallel = !kReference && rows * cols * nv >= kMinParallelWork;
    // Rows in blocks: the block's weights come from memory once and stay in L2 while each group
    // of 4 vectors (whose activations stay in L1) passes over them.
    const int64_t n_blocks = (rows + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t b = 0; b < n_blocks; ++b) {
      const int64_t r0 = b * kRowBlock, r1 = std::min(rows, r0 + kRowBlock);
      float out[kMaxVectorsPerPass];
      for (int v = v0; v < v0 + nv;) {
        const int step = v + 4 <= v0 + nv ? 4 : 1;
        for (int64_t r = r0; r < r1; ++r) {
          RowDotsAny<T, kReference>(step, w.data + row_bytes * r, x + v * cols, cols, cols, out);
          for (int j = 0; j < step; ++j) y[(v + j) * rows + r] = out[j];
        }
        v += step;
      }
    }
  }
}

template <bool kReference>
void MatMulDispatch(const WeightMatrix& w, const float* x, int n_vec, float* y) {
  switch (w.dtype) {
    case DType::kF32: return MatMulTyped<DType::kF32, kReference>(w, x, n_vec, y);
    case DType::kF16: return MatMulTyped<DType::kF16, kReference>(w, x, n_vec, y);
    case DType::kBF16: return MatMulTyped<DType::kBF16, kReference>(w, x, n_vec, y);
    case DType::kQ8_0: return MatMulTyped<DType::kQ8_0, kReference>(w, x, n_vec, y);
  }
}

}  // namespace

void MatMul(const WeightMatrix& w, const float* x, int n_vec, float* y) {
  MatMulDispatch<false>(w, x, n_vec, y);
}

void MatMulReference(const WeightMatrix& w, const float* x, int n_vec, float* y) {
  MatMulDispatch<true>(w, x, n_vec, y);
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
  }
}

void RmsNorm(const float* x, const float* weight, int n, float eps, float* out) {
  // The sum of squares is a plain loop on purpose: Eigen's vectorised reductions peel elements
  // up to the data's alignment, which would make results depend on where the buffer sits.
  float ss = 0.0f;
  for (int i = 0; i < n; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  Eigen::Map<Eigen::ArrayXf>(out, n) = Eigen::Map<const Eigen::ArrayXf>(x, n) * inv *
                                       Eigen::Map<const Eigen::ArrayXf>(weight, n);
}

void SwiGlu(float* gate, const float* up, int n) {
  // A plain loop: Eigen's vectorised exp differs in the last bit from the scalar one it uses for
  // the elements it peels to reach alignment, and a row's result must not depend on its address.
  for (int i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

#if defined(__AVX512F__)
namespace {

// e^x for 16 lanes, Cephes' expf scheme: x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-6
// polynomial (about 1 ulp), then 2^n by scalef, which also flushes large negative x to 0 the way
// expf underflows. Lanes are independent, so a value's result never depends on its neighbours.
inline __m512 Exp16(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

}  // namespace
#endif

void Softmax(float* x, int n) {
  if (n <= 0) return;
  const float max = *std::max_element(x, x + n);
#if defined(__AVX512F__)
  // 16 lanes at a time from the first element (a masked tail, never an alignment peel), so the
  // summation order depends on n only, not on where the scores sit in memory.
  const __m512 vmax = _mm512_set1_ps(max);
  __m512 acc = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff)
                                    : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 e = Exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmax));
    _mm512_mask_storeu_ps(x + i, m, e);
    acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(m, e));
  }
  const float sum = _mm512_reduce_add_ps(acc);
#else
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
#endif
  const float inv = 1.0f / sum;
  for (int i = 0; i < n; ++i) x[i] *= inv;
}

void SetNumThreads(int n) {
  if (n > 0) omp_set_num_threads(n);
}

int NumThreads() { return omp_get_max_threads(); }

}  // namespace kvbench
