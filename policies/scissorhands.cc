#include "policies/scissorhands.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status.h"

namespace kvbench {

ScissorhandsPolicy::ScissorhandsPolicy(const CacheShape& shape, int budget, int history,
                                       double recent_ratio, Aggregate aggregate)
    : ScoredPolicy(shape, budget,
                   std::clamp(static_cast<int>(std::lround(recent_ratio * budget)), 0, budget)),
      group_(shape.group_size()),
      history_mask_(history == kMaxHistory ? ~uint64_t{0} : (uint64_t{1} << history) - 1),
      aggregate_(aggregate) {
  KVBENCH_CHECK(history >= 1 && history <= kMaxHistory, "history %d", history);
}

void ScissorhandsPolicy::OnAttention(int layer, int head, int t0, const float* probs, int n_q,
                                     int n, int ld) {
  std::vector<uint64_t>& low = state_.at(layer, head);
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

absl::Span<const float> ScissorhandsPolicy::Scores(int layer, int head, int candidates,
                                                   std::vector<float>* scratch) const {
  const std::vector<uint64_t>& low = state_.at(layer, head);
  scratch->resize(candidates);
  for (int j = 0; j < candidates; ++j) {
    (*scratch)[j] = -static_cast<float>(std::popcount(low[j] & history_mask_));
  }
  return *scratch;
}

PolicyInfo ScissorhandsInfo() {
  return {.name = "scissorhands",
          .description =
              "drop the positions most often below average attention over a history "
              "window; recent protected",
          .paper = "arXiv:2305.17118",
          .params = {BudgetSpec(),
                     {.name = "history",
                      .type = ParamType::kInt,
                      .default_value = "32",
                      .help = "queries in the history window (1..64)",
                      .choices = {}},
                     {.name = "recent_ratio",
                      .type = ParamType::kFloat,
                      .default_value = "0.25",
                      .help = "share of the budget for the protected recent window",
                      .choices = {}},
                     AggregateSpec()},
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const int budget, CheckedBudget(p, "scissorhands", s));
            const int history = p.GetInt("history");
            if (history < 1 || history > ScissorhandsPolicy::kMaxHistory) {
              return InvalidParam(
                  p, "scissorhands", "history",
                  absl::StrCat("must be between 1 and ", ScissorhandsPolicy::kMaxHistory));
            }
            RETURN_IF_ERROR(CheckUnitInterval(p, "scissorhands", "recent_ratio"));
            return std::make_unique<ScissorhandsPolicy>(s, budget, history,
                                                        p.GetFloat("recent_ratio"),
                                                        ParseAggregate(p.GetString("aggregate")));
          }};
}

}  // namespace kvbench
