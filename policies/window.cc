#include "policies/window.h"

#include <memory>

#include "base/status.h"
#include "policies/score_utils.h"

namespace kvbench {

bool WindowPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                              std::vector<int>* keep) const {
  const int n = static_cast<int>(positions.size());
  if (n <= budget_) return false;
  AppendRange(n - budget_, n, keep);
  return true;
}

PolicyInfo WindowInfo() {
  return {.name = "window",
          .description = "sliding window: the newest `budget` positions",
          .paper = "arXiv:2004.05150",
          .params = {BudgetSpec()},
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const int budget, CheckedBudget(p, "window", s));
            return std::make_unique<WindowPolicy>(budget);
          }};
}

}  // namespace kvbench
