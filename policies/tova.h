// tova: Token Omission Via Attention (Oren et al., "Transformers are Multi-State RNNs",
// arXiv:2401.06104): when the cache is over budget, drop the entries the *current* query attends to
// least.
//   keep(p) <=> a(p) among the top `budget`, a(p) = attention of the step's last query on p,
//               averaged over heads
//
// scope=layer (the paper's choice): a(p) averages (mean, or max with aggregate=max) over all query
// heads of the layer, and every KV head of the layer keeps the same positions. scope=head: a(p)
// aggregates only the query group of each KV head, which then selects on its own. The newest token
// competes like any other. Decode steps evict after every step; a prefill block attends in full
// and is cut by the attention of its last token at its EndStep. With scope=layer every KV head
// plans from the same scores, so each reaches the same plan on its own.
#ifndef KVBENCH_POLICIES_TOVA_H_
#define KVBENCH_POLICIES_TOVA_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "policies/cache_policy.h"
#include "policies/policy_info.h"
#include "policies/score_utils.h"

namespace kvbench {

class TovaPolicy : public CachePolicy {
 public:
  TovaPolicy(const CacheShape& shape, int budget, bool per_layer, Aggregate aggregate);

  PolicyTraits traits() const override { return {.budget = budget_, .aggregate = aggregate_}; }
  bool wants_attention() const override { return true; }
  int observed_queries(int n_tokens) const override { return std::min(n_tokens, 1); }
  void BeginStep(int pos0, int n_tokens) override;
  void OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                   int ld) override;
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override;
  uint64_t metadata_bytes(int layer) const override;
  int64_t max_entries(int layer) const override { return budget_; }

 private:
  int n_kv_heads_;
  int group_;
  int budget_;
  bool per_layer_;
  Aggregate aggregate_;
  int n_tokens_ = 0;  // tokens of the current step
  int64_t step_ = 0;
  // Last query's attention of this step: per layer (scope=layer) or per (layer, KV head).
  std::vector<std::vector<float>> last_;
  std::vector<int64_t> last_step_;  // step in which last_[i] was written
  std::vector<float> row_;
};

PolicyInfo TovaInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_TOVA_H_
