#include "policies/score_utils.h"

#include <algorithm>
#include <numeric>

namespace kvbench {

Aggregate ParseAggregate(const std::string& text) {
  KVBENCH_CHECK(text == "mean" || text == "max", "aggregate '%s'", text.c_str());
  return text == "max" ? Aggregate::kMax : Aggregate::kMean;
}

const char* AggregateName(Aggregate a) { return a == Aggregate::kMax ? "max" : "mean"; }

void AggregateRows(const float* rows, int group, int n, int ld, Aggregate agg, float* out) {
  std::copy_n(rows, n, out);
  for (int g = 1; g < group; ++g) {
    const float* r = rows + static_cast<size_t>(g) * ld;
    if (agg == Aggregate::kMax) {
      for (int j = 0; j < n; ++j) out[j] = std::max(out[j], r[j]);
    } else {
      for (int j = 0; j < n; ++j) out[j] += r[j];
    }
  }
  if (agg == Aggregate::kMean && group > 1) {
    const float inv = 1.0f / static_cast<float>(group);
    for (int j = 0; j < n; ++j) out[j] *= inv;
  }
}

void TopK(absl::Span<const float> scores, int k, std::vector<int>* out) {
  const int n = static_cast<int>(scores.size());
  k = std::clamp(k, 0, n);
  if (k == 0) return;
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  auto better = [&](int a, int b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  };
  if (k < n) std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), better);
  std::sort(idx.begin(), idx.begin() + k);
  out->insert(out->end(), idx.begin(), idx.begin() + k);
}

void Pool1d(const float* in, int n, int kernel, bool max_pool, float* out) {
  const int pad = kernel / 2;
  for (int j = 0; j < n; ++j) {
    const int lo = std::max(0, j - pad), hi = std::min(n - 1, j + pad);
    if (max_pool) {
      // Max pooling ignores the padding (torch pads max_pool1d with -inf).
      float m = in[lo];
      for (int i = lo + 1; i <= hi; ++i) m = std::max(m, in[i]);
      out[j] = m;
    } else {
      float s = 0.0f;
      for (int i = lo; i <= hi; ++i) s += in[i];
      out[j] = s / static_cast<float>(kernel);
    }
  }
}

}  // namespace kvbench
