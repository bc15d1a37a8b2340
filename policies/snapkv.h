// snapkv: "SnapKV: LLM Knows What You are Looking for Before Generation" (Li et al.,
// arXiv:2404.14469): the last prompt queries (the observation window) already attend to what the
// generation will need, so compress the prompt once, at the end of prefill, by their attention.
//   keep(p) <=> p in the last `window` prompt tokens || pool(s)(p) among the top (budget - window)
//   s(p) = sum over the last `window` prompt queries of softmax(q k_p / sqrt(d))
//
// pool = stride-1 average (or max) pooling with `kernel` (5) over the prompt positions, which keeps
// neighbours of a hit together. Per KV head: pooled scores of its query group, aggregated by mean
// (or max) as kvpress does. One-shot, like the paper and kvpress: only the first step (the prefill)
// is compressed, and only when the prompt exceeds the budget; tokens decoded afterwards are all
// kept, so the cache grows by one entry per step after prefill (combine with a decode-time policy
// in a later issue if that matters). SnapKvScorer is shared with pyramidkv and adakv.
#ifndef KVBENCH_POLICIES_SNAPKV_H_
#define KVBENCH_POLICIES_SNAPKV_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "base/params.h"
#include "policies/cache_policy.h"
#include "policies/policy_info.h"
#include "policies/score_utils.h"

namespace kvbench {

struct SnapKvOptions {
  int budget = 0;         // entries per KV head after compression, window included (> window)
  int window = 32;        // observation window: the last prompt queries, whose tokens are kept
  int kernel = 5;         // pooling kernel, odd
  bool max_pool = false;  // avg (SnapKV's default) or max pooling
  Aggregate aggregate = Aggregate::kMean;
};

// Collects the observation window's attention during the first step and turns it into pooled
// per-KV-head scores of the prompt entries before the window.
class SnapKvScorer {
 public:
  SnapKvScorer(const CacheShape& shape, const SnapKvOptions& options);

  void BeginStep(int pos0, int n_tokens);
  bool in_prefill() const { return step_ == 1; }
  int prompt_len() const { return prompt_len_; }
  int n_past() const { return n_past_; }
  // Observation window for a prompt of n entries: min(window, n).
  int observed(int n) const { return std::min(options_.window, n); }
  void OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n, int ld);
  // out = pooled, aggregated score of entries [0, n - observed(n)) of (layer, head).
  void PrefixScores(int layer, int head, int n, std::vector<float>* out) const;
  // Frees the raw sums once the prompt is compressed.
  void Release();
  uint64_t bytes(int layer) const;

 private:
  SnapKvOptions options_;
  int n_kv_heads_;
  int group_;
  int step_ = 0;
  int n_tokens_ = 0;
  int prompt_len_ = 0;
  int n_past_ = 0;
  std::vector<std::vector<float>> sums_;  // (layers * kv_heads) -> (group, entries), prefill only
};

class SnapKvPolicy : public CachePolicy {
 public:
  SnapKvPolicy(const CacheShape& shape, const SnapKvOptions& options);

  PolicyTraits traits() const override;
  bool wants_attention() const override { return scorer_.in_prefill(); }
  int observed_queries(int n_tokens) const override {
    return scorer_.in_prefill() ? scorer_.observed(n_tokens) : 0;
  }
  void BeginStep(int pos0, int n_tokens) override { scorer_.BeginStep(pos0, n_tokens); }
  void OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                   int ld) override {
    scorer_.OnAttention(layer, head, t0, probs, n_q, n, ld);
  }
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override;
  void EndStep() override;
  uint64_t metadata_bytes(int layer) const override { return scorer_.bytes(layer); }
  int64_t max_entries(int layer) const override;

 protected:
  // Prompt entries kept by score (beside the window) in `layer` for a prompt of `prompt_len`.
  virtual int PrefixBudget(int layer, int prompt_len) const {
    return options_.budget - options_.window;
  }
  CacheShape shape_;
  SnapKvOptions options_;
  SnapKvScorer scorer_;
};

// The parameters snapkv, pyramidkv and adakv share (budget, window, kernel, pooling, aggregate)
// and their checks; `policy` names the policy in messages.
std::vector<ParamSpec> SnapKvSpecs();
absl::StatusOr<SnapKvOptions> SnapKvFromParams(const Params& p, const std::string& policy,
                                               const CacheShape& shape);

PolicyInfo SnapKvInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_SNAPKV_H_
