#include "policies/tova.h"

#include <algorithm>
#include <memory>

#include "base/status.h"

namespace kvbench {

TovaPolicy::TovaPolicy(const CacheShape& shape, int budget, bool per_layer, Aggregate aggregate)
    : n_kv_heads_(shape.n_kv_heads),
      group_(shape.group_size()),
      budget_(budget),
      per_layer_(per_layer),
      aggregate_(aggregate) {
  const size_t slots =
      per_layer ? shape.n_layers : static_cast<size_t>(shape.n_layers) * shape.n_kv_heads;
  last_.resize(slots);
  last_step_.assign(slots, -1);
}

void TovaPolicy::BeginStep(int pos0, int n_tokens) {
  n_tokens_ = n_tokens;
  ++step_;
}

void TovaPolicy::OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                             int ld) {
  const int last_row = (n_tokens_ - 1 - t0) * group_;  // first row of the step's last query
  if (last_row < 0 || last_row >= n_q) return;
  row_.resize(n);
  AggregateRows(probs + static_cast<size_t>(last_row) * ld, group_, n, ld, aggregate_, row_.data());
  const size_t slot = per_layer_ ? layer : static_cast<size_t>(layer) * n_kv_heads_ + head;
  std::vector<float>& a = last_[slot];
  if (!per_layer_ || last_step_[slot] != step_) {
    a.assign(row_.begin(), row_.end());
    if (per_layer_ && aggregate_ == Aggregate::kMean) {
      for (float& x : a) x /= static_cast<float>(n_kv_heads_);
    }
    last_step_[slot] = step_;
    return;
  }
  KVBENCH_CHECK(static_cast<int>(a.size()) == n,
                "tova: KV heads of layer %d hold %zu and %d entries", layer, a.size(), n);
  if (aggregate_ == Aggregate::kMax) {
    for (int j = 0; j < n; ++j) a[j] = std::max(a[j], row_[j]);
  } else {
    // Mean over KV heads of means over equal groups = mean over all query heads of the layer.
    const float inv = 1.0f / static_cast<float>(n_kv_heads_);
    for (int j = 0; j < n; ++j) a[j] += row_[j] * inv;
  }
}

bool TovaPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                            std::vector<int>* keep) const {
  const int n = static_cast<int>(positions.size());
  if (n <= budget_) return false;
  const size_t slot = per_layer_ ? layer : static_cast<size_t>(layer) * n_kv_heads_ + head;
  KVBENCH_CHECK(last_step_[slot] == step_ && static_cast<int>(last_[slot].size()) == n,
                "tova: no attention of the last query for layer %d head %d", layer, head);
  TopK(last_[slot], budget_, keep);
  return true;
}

uint64_t TovaPolicy::metadata_bytes(int layer) const {
  // The scores live only within a step; what persists is their buffer.
  uint64_t b = 0;
  if (per_layer_) {
    b = last_[layer].capacity() * sizeof(float);
  } else {
    for (int h = 0; h < n_kv_heads_; ++h)
      b += last_[static_cast<size_t>(layer) * n_kv_heads_ + h].capacity() * sizeof(float);
  }
  return b;
}

PolicyInfo TovaInfo() {
  return {
      .name = "tova",
      .description = "drop the positions the current query attends to least, averaged over heads",
      .paper = "arXiv:2401.06104",
      .params = {BudgetSpec(),
                 {.name = "scope",
                  .type = ParamType::kString,
                  .default_value = "layer",
                  .help = "average over all heads of a layer (one plan per layer, the paper) or "
                          "per KV head",
                  .choices = {"layer", "head"}},
                 AggregateSpec()},
      .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
        ASSIGN_OR_RETURN(const int budget, CheckedBudget(p, "tova", s));
        return std::make_unique<TovaPolicy>(s, budget, p.GetString("scope") == "layer",
                                            ParseAggregate(p.GetString("aggregate")));
      }};
}

}  // namespace kvbench
