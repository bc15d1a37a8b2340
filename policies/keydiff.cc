#include "policies/keydiff.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "base/status.h"
#include "policies/score_utils.h"

namespace kvbench {

KeyDiffPolicy::KeyDiffPolicy(const CacheShape& shape, int budget)
    : n_kv_heads_(shape.n_kv_heads),
      head_dim_(shape.head_dim),
      budget_(budget),
      scores_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads) {}

void KeyDiffPolicy::OnStoredKeys(int layer, int head, const float* keys, int n) {
  unit_.resize(static_cast<size_t>(n) * head_dim_);
  for (int i = 0; i < n; ++i) {
    const float* k = keys + static_cast<size_t>(i) * head_dim_;
    double ss = 0.0;
    for (int d = 0; d < head_dim_; ++d) ss += static_cast<double>(k[d]) * k[d];
    // torch's F.normalize divides by max(norm, 1e-12): a zero key stays zero.
    const double inv = 1.0 / std::max(std::sqrt(ss), 1e-12);
    for (int d = 0; d < head_dim_; ++d)
      unit_[static_cast<size_t>(i) * head_dim_ + d] = static_cast<float>(k[d] * inv);
  }
  Scores(unit_.data(), n, head_dim_, &scores_[static_cast<size_t>(layer) * n_kv_heads_ + head]);
}

void KeyDiffPolicy::Scores(const float* unit_keys, int n, int head_dim, std::vector<float>* out) {
  std::vector<double> anchor(head_dim, 0.0);
  for (int j = 0; j < n; ++j) {
    for (int d = 0; d < head_dim; ++d)
      anchor[d] += unit_keys[static_cast<size_t>(j) * head_dim + d];
  }
  double norm = 0.0;
  for (double& a : anchor) {
    a /= n;
    norm += a * a;
  }
  // Unit keys: cos(k, a) = u . a / ||a||; torch's cosine_similarity clamps the norm product at
  // 1e-8 (all keys cancelling out leaves every score 0, a tie the older entries win).
  const double inv = 1.0 / std::max(std::sqrt(norm), 1e-8);
  out->resize(n);
  for (int j = 0; j < n; ++j) {
    const float* u = unit_keys + static_cast<size_t>(j) * head_dim;
    double dot = 0.0;
    for (int d = 0; d < head_dim; ++d) dot += u[d] * anchor[d];
    (*out)[j] = static_cast<float>(-dot * inv);
  }
}

bool KeyDiffPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                               std::vector<int>* keep) const {
  const int n = static_cast<int>(positions.size());
  if (n <= budget_) return false;
  const std::vector<float>& scores = scores_[static_cast<size_t>(layer) * n_kv_heads_ + head];
  KVBENCH_CHECK(scores.size() == static_cast<size_t>(n),
                "keydiff: %zu scores for %d entries (OnStoredKeys must precede SelectKeep)",
                scores.size(), n);
  TopK(scores, budget_, keep);
  return true;
}

bool KeyDiffPolicy::EntryScores(int layer, int head, std::vector<float>* out) const {
  *out = scores_[static_cast<size_t>(layer) * n_kv_heads_ + head];
  return true;  // the caller checks there is one per entry
}

void KeyDiffPolicy::OnKeep(int layer, int head, absl::Span<const int> keep) {
  std::vector<float>& s = scores_[static_cast<size_t>(layer) * n_kv_heads_ + head];
  for (size_t i = 0; i < keep.size(); ++i) {
    KVBENCH_CHECK(keep[i] >= 0 && static_cast<size_t>(keep[i]) < s.size(),
                  "keydiff: keep index %d of %zu", keep[i], s.size());
    s[i] = s[keep[i]];
  }
  s.resize(keep.size());
}

uint64_t KeyDiffPolicy::metadata_bytes(int layer) const {
  uint64_t b = 0;
  for (int h = 0; h < n_kv_heads_; ++h)
    b += scores_[static_cast<size_t>(layer) * n_kv_heads_ + h].size() * sizeof(float);
  return b;
}

PolicyInfo KeyDiffInfo() {
  return {.name = "keydiff",
          .description = "keep the keys least similar to the mean key direction",
          .paper = "arXiv:2504.15364",
          .default_when = "once",  // kvpress's press compresses once, after prefill
          .params = {BudgetSpec()},
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const int budget, CheckedBudget(p, "keydiff", s));
            return std::make_unique<KeyDiffPolicy>(s, budget);
          }};
}

}  // namespace kvbench
