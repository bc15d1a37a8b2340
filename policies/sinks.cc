#include "policies/sinks.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "policies/score_utils.h"

namespace kvbench {

bool SinksPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                             std::vector<int>* keep) const {
  const int n = static_cast<int>(positions.size());
  if (n <= budget_) return false;
  // The sinks are never evicted, so they are the first n_sink entries (positions 0 .. n_sink-1).
  AppendRange(0, n_sink_, keep);
  AppendRange(n - (budget_ - n_sink_), n, keep);
  return true;
}

PolicyInfo SinksInfo() {
  return {
      .name = "sinks",
      .description = "StreamingLLM: the first n_sink positions plus the newest (budget - n_sink)",
      .paper = "arXiv:2309.17453",
      .params = {BudgetSpec(),
                 {.name = "n_sink",
                  .type = ParamType::kInt,
                  .default_value = "4",
                  .help = "first positions always kept (attention sinks)",
                  .choices = {}}},
      .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
        ASSIGN_OR_RETURN(const int budget, CheckedBudget(p, "sinks", s));
        const int n_sink = p.GetInt("n_sink");
        if (n_sink < 0) return InvalidParam(p, "sinks", "n_sink", "must not be negative");
        if (n_sink >= budget) {
          return InvalidParam(p, "sinks", "n_sink",
                              absl::StrCat("must be smaller than the budget (", budget,
                                           " tokens), which also holds the recent window"));
        }
        return std::make_unique<SinksPolicy>(budget, n_sink);
      }};
}

}  // namespace kvbench
