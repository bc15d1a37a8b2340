#include "policies/scissorhands.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace kvbench {

ScissorhandsPolicy::ScissorhandsPolicy(const CacheShape& shape, int budget, int history,
                                       double recent_ratio, Aggregate aggregate)
    : group_(shape.group_size()),
      budget_(budget),
      history_(history),
      recent_(std::clamp(static_cast<int>(std::lround(recent_ratio * budget)), 0, budget)),
      recent_ratio_(recent_ratio),
      aggregate_(aggregate),
      low_(shape.n_layers, shape.n_kv_heads) {
  KVBENCH_CHECK(history >= 1 && history <= kMaxHistory, "history %d", history);
}

std::string ScissorhandsPolicy::name() const {
  return absl::StrCat("scissorhands(aggregate=", AggregateName(aggregate_), ",budget=", budget_,
                      ",history=", history_, ",recent_ratio=", recent_ratio_, ")");
}

void ScissorhandsPolicy::OnAppend(int layer, int head, const float* keys, int n, int ld) {
  low_.Append(layer, head, n, 0);
}

void ScissorhandsPolicy::OnAttention(int layer, int head, int t0, const float* probs, int n_q,
                                     int n, int ld) {
  std::vector<uint64_t>& low = low_.at(layer, head);
  KVBENCH_CHECK(static_cast<int>(low.size()) == n, "scissorhands: %zu counters for %d entries",
                low.size(), n);
  row_.resize(n);
  const int n_old = n - n_tokens_;  // entries visible to every query of the step
  for (int i = 0; i < n_q; i += group_) {
    const int visible = n_old + t0 + i / group_ + 1;
    const float threshold = 1.0f / static_cast<float>(visible);
    AggregateRows(probs + static_cast<size_t>(i) * ld, group_, n, ld, aggregate_, row_.data());
    for (int j = 0; j < n; ++j) {
      low[j] = (low[j] << 1) | static_cast<uint64_t>(j < visible && row_[j] < threshold);
    }
  }
}

bool ScissorhandsPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                                    std::vector<int>* keep) {
  const int n = static_cast<int>(positions.size());
  if (n <= budget_) return false;
  const std::vector<uint64_t>& low = low_.at(layer, head);
  const uint64_t window = history_ == 64 ? ~uint64_t{0} : (uint64_t{1} << history_) - 1;
  const int candidates = n - recent_;
  neg_count_.resize(candidates);
  for (int j = 0; j < candidates; ++j)
    neg_count_[j] = -static_cast<float>(std::popcount(low[j] & window));
  TopK(neg_count_, budget_ - recent_, keep);
  AppendRange(candidates, n, keep);
  low_.Compact(layer, head, *keep);
  return true;
}

}  // namespace kvbench
