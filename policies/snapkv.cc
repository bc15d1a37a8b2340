#include "policies/snapkv.h"

#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status.h"

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

void SnapKvScorer::PrefixScores(int layer, int head, int n, std::vector<float>* out) const {
  const std::vector<float>& sum = sums_[static_cast<size_t>(layer) * n_kv_heads_ + head];
  KVBENCH_CHECK(sum.size() == static_cast<size_t>(group_) * n,
                "snapkv: %zu sums for %d entries x %d", sum.size(), n, group_);
  const int prefix = n - observed(n);
  std::vector<float> pooled(static_cast<size_t>(group_) * prefix);  // (group, prefix)
  for (int g = 0; g < group_; ++g) {
    Pool1d(&sum[static_cast<size_t>(g) * n], prefix, options_.kernel, options_.max_pool,
           &pooled[static_cast<size_t>(g) * prefix]);
  }
  out->resize(prefix);
  AggregateRows(pooled.data(), group_, prefix, prefix, options_.aggregate, out->data());
}

void SnapKvScorer::Release() {
  for (std::vector<float>& sum : sums_) std::vector<float>().swap(sum);
}

uint64_t SnapKvScorer::bytes(int layer) const {
  uint64_t b = 0;
  for (int h = 0; h < n_kv_heads_; ++h)
    b += sums_[static_cast<size_t>(layer) * n_kv_heads_ + h].size() * sizeof(float);
  return b;
}

SnapKvPolicy::SnapKvPolicy(const CacheShape& shape, const SnapKvOptions& options)
    : shape_(shape), options_(options), scorer_(shape, options) {}

PolicyTraits SnapKvPolicy::traits() const {
  return {.budget = options_.budget,
          .aggregate = options_.aggregate,
          .pools_prompt_scores = true,
          .max_pooling = options_.max_pool};
}

bool SnapKvPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                              std::vector<int>* keep) const {
  if (!scorer_.in_prefill()) return false;
  const int n = static_cast<int>(positions.size());
  const int w = scorer_.observed(n);
  const int k = PrefixBudget(layer, n);
  if (n <= w + k) return false;
  std::vector<float> scores;
  scorer_.PrefixScores(layer, head, n, &scores);
  TopK(scores, k, keep);
  AppendRange(n - w, n, keep);
  return true;
}

void SnapKvPolicy::EndStep() {
  if (scorer_.in_prefill()) scorer_.Release();
}

int64_t SnapKvPolicy::max_entries(int layer) const {
  if (scorer_.prompt_len() == 0) return -1;
  const int n = scorer_.prompt_len();
  const int64_t compressed =
      std::min<int64_t>(n, int64_t{scorer_.observed(n)} + PrefixBudget(layer, n));
  return compressed + (scorer_.n_past() - n);
}

std::vector<ParamSpec> SnapKvSpecs() {
  return {BudgetSpec(),
          {.name = "window",
           .type = ParamType::kInt,
           .default_value = "32",
           .help = "observation window: the last prompt queries that score, whose tokens are kept",
           .choices = {}},
          {.name = "kernel",
           .type = ParamType::kInt,
           .default_value = "5",
           .help = "pooling kernel over positions (odd)",
           .choices = {}},
          {.name = "pooling",
           .type = ParamType::kString,
           .default_value = "avg",
           .help = "pooling of the scores",
           .choices = {"avg", "max"}},
          AggregateSpec()};
}

absl::StatusOr<SnapKvOptions> SnapKvFromParams(const Params& p, const std::string& policy,
                                               const CacheShape& shape) {
  ASSIGN_OR_RETURN(const int budget, CheckedPromptBudget(p, policy, shape));
  SnapKvOptions o{.budget = budget,
                  .window = p.GetInt("window"),
                  .kernel = p.GetInt("kernel"),
                  .max_pool = p.GetString("pooling") == "max",
                  .aggregate = ParseAggregate(p.GetString("aggregate"))};
  if (o.window < 1) return InvalidParam(p, policy, "window", "must be at least 1");
  if (shape.context_tokens > 0 && o.window > shape.context_tokens) {
    return InvalidParam(p, policy, "window",
                        absl::StrCat("exceeds the context of ", shape.context_tokens, " tokens"));
  }
  if (o.window >= o.budget) {
    return InvalidParam(
        p, policy, "window",
        absl::StrCat("must be smaller than the budget (", o.budget,
                     " tokens): the budget holds the window plus the selected tokens"));
  }
  if (o.kernel < 1 || o.kernel % 2 == 0 || o.kernel > 1025) {
    return InvalidParam(p, policy, "kernel", "must be an odd number between 1 and 1025");
  }
  return o;
}

PolicyInfo SnapKvInfo() {
  return {.name = "snapkv",
          .description =
              "one-shot after prefill: pooled attention of the last prompt queries, "
              "top-k per head plus the window",
          .paper = "arXiv:2404.14469",
          .one_shot = true,
          .params = SnapKvSpecs(),
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const SnapKvOptions options, SnapKvFromParams(p, "snapkv", s));
            return std::make_unique<SnapKvPolicy>(s, options);
          }};
}

}  // namespace kvbench
