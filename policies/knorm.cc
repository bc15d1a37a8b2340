#include "policies/knorm.h"

#include <cmath>
#include <memory>

#include "base/status.h"

namespace kvbench {

void KnormPolicy::OnAppend(int layer, int head, const float* keys, int n, int ld) {
  std::vector<float>& v = state_.at(layer, head);
  for (int i = 0; i < n; ++i) {
    const float* k = keys + static_cast<size_t>(i) * ld;
    double ss = 0.0;
    for (int d = 0; d < head_dim_; ++d) ss += static_cast<double>(k[d]) * k[d];
    v.push_back(-static_cast<float>(std::sqrt(ss)));
  }
}

PolicyInfo KnormInfo() {
  return {.name = "knorm",
          .description = "keep the keys with the lowest L2 norm",
          .paper = "arXiv:2406.11430",
          .default_when = "once",  // kvpress's press compresses once, after prefill
          .params = {BudgetSpec()},
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const int budget, CheckedBudget(p, "knorm", s));
            return std::make_unique<KnormPolicy>(s, budget);
          }};
}

}  // namespace kvbench
