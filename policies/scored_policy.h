// ScoredPolicy: the selection every score-based decode-time policy shares (kvpress's ScorerPress).
//   keep(p) <=> p among the newest `recent` || score(p) among the top (budget - recent) of the rest
//
// A policy is its per-entry state `T` (accumulated attention, a key norm, a history of bits) and a
// scoring rule that turns the state of the candidate entries into scores; this base keeps the
// state aligned with the cache's entries (appended with them, compacted in OnKeep), selects with
// TopK's tie rule (equal scores keep the older entry) and declares the budget. Decode steps evict
// after every step; a prefill block attends in full and is cut at its EndStep.
#ifndef KVBENCH_POLICIES_SCORED_POLICY_H_
#define KVBENCH_POLICIES_SCORED_POLICY_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "model/cache_shape.h"
#include "policies/cache_policy.h"
#include "policies/score_utils.h"

namespace kvbench {

template <typename T>
class ScoredPolicy : public CachePolicy {
 public:
  // 0 <= recent <= budget.
  ScoredPolicy(const CacheShape& shape, int budget, int recent)
      : budget_(budget), recent_(recent), state_(shape.n_layers, shape.n_kv_heads) {}

  // New entries start from T{}; a policy whose state comes from the keys overrides this.
  void OnAppend(int layer, int head, const float* keys, int n, int ld) override {
    state_.Append(layer, head, n, T{});
  }
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const final {
    const int n = static_cast<int>(positions.size());
    if (n <= budget_) return false;
    const int candidates = n - recent_;
    TopK(Scores(layer, head, candidates, &scores_), budget_ - recent_, keep);
    AppendRange(candidates, n, keep);
    return true;
  }
  void OnKeep(int layer, int head, absl::Span<const int> keep) final {
    state_.Compact(layer, head, keep);
  }
  bool EntryScores(int layer, int head, std::vector<float>* out) const final {
    const int n = static_cast<int>(state_.at(layer, head).size());
    const absl::Span<const float> s = Scores(layer, head, n, &scores_);
    out->assign(s.begin(), s.end());
    return true;
  }
  uint64_t metadata_bytes(int layer) const final { return state_.bytes(layer); }
  int64_t max_entries(int layer) const final { return budget_; }

 protected:
  // Scores of entries [0, candidates) of (layer, head), the higher the better: a view of the state
  // itself or of `scratch`, filled here.
  virtual absl::Span<const float> Scores(int layer, int head, int candidates,
                                         std::vector<float>* scratch) const = 0;

  int budget_;         // entries per KV head after every step
  int recent_;         // newest entries always kept
  PerEntry<T> state_;  // (layers * kv_heads) -> (entries)

 private:
  // Scores a rule computes rather than views (scissorhands), reused across the decode steps' plans
  // instead of allocated for each (one cache per sequence: no sharing between threads).
  mutable std::vector<float> scores_;
};

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_SCORED_POLICY_H_
