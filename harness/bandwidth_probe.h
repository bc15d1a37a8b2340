// The machine's own limit: read-only streaming bandwidth over a buffer far larger than the
// last-level cache, with every thread reading its share (the way a decode step streams weights).
// Every decoder benchmark reports its bytes/s as a fraction of this number, measured in the same
// process.
#ifndef KVBENCH_HARNESS_BANDWIDTH_PROBE_H_
#define KVBENCH_HARNESS_BANDWIDTH_PROBE_H_

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "model/simd.h"

namespace kvbench {

// Sums a float buffer with four independent accumulators (one would be add-latency bound, not
// memory bound); the result is returned so the compiler cannot drop the reads.
inline float StreamSum(const float* data, size_t n) {
  simd::F32x16 a0 = simd::Zero(), a1 = simd::Zero(), a2 = simd::Zero(), a3 = simd::Zero();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = simd::Add(a0, simd::Load(data + i));
    a1 = simd::Add(a1, simd::Load(data + i + 16));
    a2 = simd::Add(a2, simd::Load(data + i + 32));
    a3 = simd::Add(a3, simd::Load(data + i + 48));
  }
  float s = simd::ReduceAdd(simd::Add(simd::Add(a0, a1), simd::Add(a2, a3)));
  for (; i < n; ++i) s += data[i];
  return s;
}

// Best of `passes` full reads of a `bytes`-sized buffer, in bytes per second.
inline double MeasureReadBandwidth(size_t bytes = size_t{2} << 30, int passes = 5) {
  const size_t n = (bytes >> 21 << 21) / sizeof(float);  // whole huge pages
  // 2 MiB aligned and on huge pages, as the model's own weight buffers are (model/model.cc): the
  // probe must measure DRAM, not TLB misses.
  std::unique_ptr<float, decltype(&std::free)> buf(
      static_cast<float*>(std::aligned_alloc(size_t{2} << 20, n * sizeof(float))), &std::free);
  float* data = buf.get();
  ::madvise(data, n * sizeof(float), MADV_HUGEPAGE);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) data[i] = 1.0f;  // fault every page in, on the reading thread
  double best = 0.0;
  volatile float sink = 0.0f;
  for (int p = 0; p < passes; ++p) {
    const auto t0 = std::chrono::steady_clock::now();
    float total = 0.0f;
#pragma omp parallel reduction(+ : total)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const size_t chunk = (n / nt) & ~size_t{63};
      const size_t begin = chunk * t, end = t == nt - 1 ? n : begin + chunk;
      total += StreamSum(data + begin, end - begin);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink + total;
    best = std::max(best, static_cast<double>(n * sizeof(float)) / s);
  }
  return best;
}

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_BANDWIDTH_PROBE_H_
