#include "policies/observed_attention.h"

#include <memory>

#include "base/status.h"

namespace kvbench {

void ObservedAttentionPolicy::BeginStep(int pos0, int n_tokens) {
  pos0_ = pos0;
  n_past_ = pos0 + n_tokens;
}

void ObservedAttentionPolicy::OnAppend(int layer, int head, const float* keys, int n, int ld) {
  std::vector<ObservedAttention>& v = state_.at(layer, head);
  for (int i = 0; i < n; ++i) v.push_back({.sum = 0.0f, .position = pos0_ + i});
}

void ObservedAttentionPolicy::OnAttention(int layer, int head, int t0, const float* probs, int n_q,
                                          int n, int ld) {
  std::vector<ObservedAttention>& v = state_.at(layer, head);
  KVBENCH_CHECK(static_cast<int>(v.size()) == n, "observed_attention: %zu scores for %d entries",
                v.size(), n);
  row_.resize(n);
  for (int i = 0; i < n_q; i += group_) {
    AggregateRows(probs + static_cast<size_t>(i) * ld, group_, n, ld, aggregate_, row_.data());
    for (int j = 0; j < n; ++j) v[j].sum += row_[j];
  }
}

absl::Span<const float> ObservedAttentionPolicy::Scores(int layer, int head, int candidates,
                                                        std::vector<float>* scratch) const {
  const std::vector<ObservedAttention>& v = state_.at(layer, head);
  scratch->resize(candidates);
  for (int j = 0; j < candidates; ++j) {
    (*scratch)[j] = v[j].sum / static_cast<float>(n_past_ - v[j].position);
  }
  return *scratch;
}

PolicyInfo ObservedAttentionInfo() {
  return {.name = "observed_attention",
          .description =
              "most attention received, averaged over the queries that saw each entry (kvpress)",
          .paper = "kvpress ObservedAttentionPress (arXiv:2306.14048)",
          .default_when = "once",  // kvpress's press compresses once, after prefill
          .params = {BudgetSpec(), AggregateSpec()},
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const int budget, CheckedBudget(p, "observed_attention", s));
            return std::make_unique<ObservedAttentionPolicy>(
                s, budget, ParseAggregate(p.GetString("aggregate")));
          }};
}

}  // namespace kvbench
