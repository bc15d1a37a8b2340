#include "policies/h2o.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace kvbench {

H2oPolicy::H2oPolicy(const CacheShape& shape, int budget, double heavy_ratio, Aggregate aggregate)
    : group_(shape.group_size()),
      budget_(budget),
      heavy_(std::clamp(static_cast<int>(std::lround(heavy_ratio * budget)), 0, budget)),
      heavy_ratio_(heavy_ratio),
      aggregate_(aggregate),
      score_(shape.n_layers, shape.n_kv_heads) {}

std::string H2oPolicy::name() const {
  return absl::StrCat("h2o(aggregate=", AggregateName(aggregate_), ",budget=", budget_,
                      ",heavy_ratio=", heavy_ratio_, ")");
}

void H2oPolicy::OnAppend(int layer, int head, const float* keys, int n, int ld) {
  score_.Append(layer, head, n, 0.0f);
}

void H2oPolicy::OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                            int ld) {
  std::vector<float>& s = score_.at(layer, head);
  KVBENCH_CHECK(static_cast<int>(s.size()) == n, "h2o: %zu scores for %d entries", s.size(), n);
  row_.resize(n);
  for (int i = 0; i < n_q; i += group_) {
    AggregateRows(probs + static_cast<size_t>(i) * ld, group_, n, ld, aggregate_, row_.data());
    for (int j = 0; j < n; ++j) s[j] += row_[j];
  }
}

bool H2oPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                           std::vector<int>* keep) {
  const int n = static_cast<int>(positions.size());
  if (n <= budget_) return false;
  const int recent = budget_ - heavy_;
  const std::vector<float>& s = score_.at(layer, head);
  TopK(absl::MakeConstSpan(s.data(), n - recent), heavy_, keep);
  AppendRange(n - recent, n, keep);
  score_.Compact(layer, head, *keep);
  return true;
}

}  // namespace kvbench
