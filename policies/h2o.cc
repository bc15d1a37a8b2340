#include "policies/h2o.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "base/status.h"

namespace kvbench {
namespace {

// Heavy hitters are the top-scored share of the budget; the rest is the recent window.
int Recent(int budget, double heavy_ratio) {
  return budget - std::clamp(static_cast<int>(std::lround(heavy_ratio * budget)), 0, budget);
}

}  // namespace

H2oPolicy::H2oPolicy(const CacheShape& shape, int budget, double heavy_ratio, Aggregate aggregate)
    : ScoredPolicy(shape, budget, Recent(budget, heavy_ratio)),
      group_(shape.group_size()),
      aggregate_(aggregate) {}

void H2oPolicy::OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                            int ld) {
  std::vector<float>& s = state_.at(layer, head);
  KVBENCH_CHECK(static_cast<int>(s.size()) == n, "h2o: %zu scores for %d entries", s.size(), n);
  row_.resize(n);
  for (int i = 0; i < n_q; i += group_) {
    AggregateRows(probs + static_cast<size_t>(i) * ld, group_, n, ld, aggregate_, row_.data());
    for (int j = 0; j < n; ++j) s[j] += row_[j];
  }
}

absl::Span<const float> H2oPolicy::Scores(int layer, int head, int candidates,
                                          std::vector<float>* scratch) const {
  return absl::MakeConstSpan(state_.at(layer, head).data(), candidates);
}

PolicyInfo H2oInfo() {
  return {
      .name = "h2o",
      .description = "heavy hitters (most attention received, accumulated) plus the most recent",
      .paper = "arXiv:2306.14048",
      .params = {BudgetSpec(),
                 {.name = "heavy_ratio",
                  .type = ParamType::kFloat,
                  .default_value = "0.5",
                  .help = "share of the budget for heavy hitters; the rest is the recent window",
                  .choices = {}},
                 AggregateSpec()},
      .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
        ASSIGN_OR_RETURN(const int budget, CheckedBudget(p, "h2o", s));
        RETURN_IF_ERROR(CheckUnitInterval(p, "h2o", "heavy_ratio"));
        return std::make_unique<H2oPolicy>(s, budget, p.GetFloat("heavy_ratio"),
                                           ParseAggregate(p.GetString("aggregate")));
      }};
}

}  // namespace kvbench
