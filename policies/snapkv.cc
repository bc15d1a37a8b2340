#include "policies/snapkv.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kvbench {

SnapKvScorer::SnapKvScorer(const CacheShape& shape, const SnapKvOptions& options)
    : options_(options),
      n_kv_heads_(shape.n_kv_heads),
      group_(shape.group_size()),
      sums_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads) {}

void SnapKvScorer::BeginStep(int pos0, int n_tokens) {
  ++step_;
  n_tokens_ = n_tokens;
  if (step_ == 1) prompt_len_ = pos0 + n_tokens;
  n_past_ = pos0 + n_tokens;
}

void SnapKvScorer::OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                               int ld) {
  if (!in_prefill()) return;
  std::vector<float>& sum = sums_[static_cast<size_t>(layer) * n_kv_heads_ + head];
  sum.resize(static_cast<size_t>(group_) * n, 0.0f);
  const int first_observed = n_tokens_ - observed(n_tokens_);  // first token of the window
  for (int i = 0; i < n_q; ++i) {
    if (t0 + i / group_ < first_observed) continue;
    const float* p = probs + static_cast<size_t>(i) * ld;
    float* s = &sum[static_cast<size_t>(i % group_) * n];
    for (int j = 0; j < n; ++j) s[j] += p[j];
  }
}

void SnapKvScorer::PrefixScores(int layer, int head, int n, std::vector<float>* out) {
  std::vector<float>& sum = sums_[static_cast<size_t>(layer) * n_kv_heads_ + head];
  KVBENCH_CHECK(sum.size() == static_cast<size_t>(group_) * n,
                "snapkv: %zu sums for %d entries x %d", sum.size(), n, group_);
  const int prefix = n - observed(n);
  pooled_.resize(static_cast<size_t>(group_) * prefix);
  for (int g = 0; g < group_; ++g) {
    Pool1d(&sum[static_cast<size_t>(g) * n], prefix, options_.kernel, options_.max_pool,
           &pooled_[static_cast<size_t>(g) * prefix]);
  }
  out->resize(prefix);
  AggregateRows(pooled_.data(), group_, prefix, prefix, options_.aggregate, out->data());
  std::vector<float>().swap(sum);
}

uint64_t SnapKvScorer::bytes(int layer) const {
  uint64_t b = 0;
  for (int h = 0; h < n_kv_heads_; ++h)
    b += sums_[static_cast<size_t>(layer) * n_kv_heads_ + h].size() * sizeof(float);
  return b;
}

SnapKvPolicy::SnapKvPolicy(const CacheShape& shape, const SnapKvOptions& options)
    : shape_(shape), options_(options), scorer_(shape, options) {}

std::string SnapKvPolicy::ParamText() const {
  return absl::StrCat("aggregate=", AggregateName(options_.aggregate), ",budget=", options_.budget,
                      ",kernel=", options_.kernel, ",pooling=", options_.max_pool ? "max" : "avg",
                      ",window=", options_.window);
}

std::string SnapKvPolicy::name() const { return absl::StrCat("snapkv(", ParamText(), ")"); }

bool SnapKvPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                              std::vector<int>* keep) {
  if (!scorer_.in_prefill()) return false;
  const int n = static_cast<int>(positions.size());
  const int w = scorer_.observed(n);
  const int k = PrefixBudget(layer, n);
  scorer_.PrefixScores(layer, head, n, &scores_);  // also frees the sums when nothing is evicted
  if (n <= w + k) return false;
  TopK(scores_, k, keep);
  AppendRange(n - w, n, keep);
  return true;
}

int64_t SnapKvPolicy::max_entries(int layer) const {
  if (scorer_.prompt_len() == 0) return -1;
  const int n = scorer_.prompt_len();
  const int64_t compressed =
      std::min<int64_t>(n, int64_t{scorer_.observed(n)} + PrefixBudget(layer, n));
  return compressed + (scorer_.n_past() - n);
}

}  // namespace kvbench
