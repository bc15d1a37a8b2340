#include "policies/sinks.h"

#include "absl/strings/str_cat.h"
#include "policies/score_utils.h"

namespace kvbench {

std::string SinksPolicy::name() const {
  return absl::StrCat("sinks(budget=", budget_, ",n_sink=", n_sink_, ")");
}

bool SinksPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                             std::vector<int>* keep) {
  const int n = static_cast<int>(positions.size());
  if (n <= budget_) return false;
  // The sinks are never evicted, so they are the first n_sink entries (positions 0 .. n_sink-1).
  AppendRange(0, n_sink_, keep);
  AppendRange(n - (budget_ - n_sink_), n, keep);
  return true;
}

}  // namespace kvbench
