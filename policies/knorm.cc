#include "policies/knorm.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace kvbench {

KnormPolicy::KnormPolicy(const CacheShape& shape, int budget)
    : head_dim_(shape.head_dim), budget_(budget), neg_norm_(shape.n_layers, shape.n_kv_heads) {}

std::string KnormPolicy::name() const { return absl::StrCat("knorm(budget=", budget_, ")"); }

void KnormPolicy::OnAppend(int layer, int head, const float* keys, int n, int ld) {
  std::vector<float>& v = neg_norm_.at(layer, head);
  for (int i = 0; i < n; ++i) {
    const float* k = keys + static_cast<size_t>(i) * ld;
    double ss = 0.0;
    for (int d = 0; d < head_dim_; ++d) ss += static_cast<double>(k[d]) * k[d];
    v.push_back(-static_cast<float>(std::sqrt(ss)));
  }
}

bool KnormPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                             std::vector<int>* keep) {
  const int n = static_cast<int>(positions.size());
  if (n <= budget_) return false;
  TopK(neg_norm_.at(layer, head), budget_, keep);
  neg_norm_.Compact(layer, head, *keep);
  return true;
}

}  // namespace kvbench
