#include "policies/adakv.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace kvbench {

AdaKvPolicy::AdaKvPolicy(const CacheShape& shape, const SnapKvOptions& options, double floor_ratio)
    : SnapKvPolicy(shape, options),
      floor_ratio_(floor_ratio),
      floor_(static_cast<int>(std::floor(floor_ratio * (options.budget - options.window)))),
      plan_(shape.n_kv_heads) {}

std::string AdaKvPolicy::name() const {
  return absl::StrCat("adakv(", ParamText(), ",floor_ratio=", floor_ratio_, ")");
}

bool AdaKvPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                             std::vector<int>* keep) {
  if (!scorer_.in_prefill()) return false;
  const int n = static_cast<int>(positions.size());  // every head holds the whole prompt now
  const int w = scorer_.observed(n);
  const int base = options_.budget - options_.window;
  if (head == 0) {
    // Plan the whole layer at its first head; every head's scores are complete by EndStep.
    const int heads = shape_.n_kv_heads;
    const int prefix = n - w;
    std::vector<float> flat(static_cast<size_t>(heads) * prefix);
    for (int h = 0; h < heads; ++h) {
      scorer_.PrefixScores(layer, h, n, &scores_);
      std::vector<int> floor_pick;
      TopK(scores_, floor_, &floor_pick);
      for (int j : floor_pick) scores_[j] = std::numeric_limits<float>::infinity();
      std::copy(scores_.begin(), scores_.end(), flat.begin() + static_cast<size_t>(h) * prefix);
    }
    for (auto& p : plan_) p.clear();
    if (n > options_.budget) {
      std::vector<int> picked;
      TopK(flat, base * heads, &picked);  // the floors score +inf, so they are all in
      for (int f : picked) plan_[f / prefix].push_back(f % prefix);  // ascending per head
      for (auto& p : plan_) AppendRange(n - w, n, &p);
    }
  }
  if (n <= options_.budget) return false;
  *keep = plan_[head];
  return true;
}

int64_t AdaKvPolicy::max_entries(int layer) const {
  if (scorer_.prompt_len() == 0) return -1;
  const int n = scorer_.prompt_len();
  const int base = options_.budget - options_.window;
  const int64_t most = int64_t{options_.window} + int64_t{base} * shape_.n_kv_heads -
                       int64_t{floor_} * (shape_.n_kv_heads - 1);
  return std::min<int64_t>(n, most) + (scorer_.n_past() - n);
}

int64_t AdaKvPolicy::max_layer_entries(int layer) const {
  if (scorer_.prompt_len() == 0) return -1;
  const int n = scorer_.prompt_len();
  return int64_t{shape_.n_kv_heads} * (std::min(n, options_.budget) + (scorer_.n_past() - n));
}

}  // namespace kvbench
