// random: the baseline every scored press is compared with (kvpress RandomPress): keep a seeded
// random subset of the cache.
//   keep(p) <=> u(seed, layer, head, p) among the `budget` largest of its KV head
//
// u is a uniform number in [0, 1) hashed from (seed, layer, KV head, position) when the entry is
// appended, so a run is a pure function of the seed and does not depend on how the tokens were
// split into steps (a prefill block or one token at a time draw the same numbers); kvpress draws
// torch.rand at compression, whose numbers kvbench does not reproduce. Like knorm, a decode step
// evicts after every step; a prefill block attends in full and is cut at its EndStep. Ties keep the
// older entry.
#ifndef KVBENCH_POLICIES_RANDOM_H_
#define KVBENCH_POLICIES_RANDOM_H_

#include <cstdint>
#include <vector>

#include "policies/policy_info.h"
#include "policies/scored_policy.h"

namespace kvbench {

// The state is u per entry, which is also the score.
class RandomPolicy : public ScoredPolicy<float> {
 public:
  RandomPolicy(const CacheShape& shape, int budget, uint64_t seed)
      : ScoredPolicy(shape, budget, /*recent=*/0), seed_(seed) {}

  PolicyTraits traits() const override { return {.budget = budget_}; }
  void BeginStep(int pos0, int n_tokens) override { pos0_ = pos0; }
  void OnAppend(int layer, int head, const float* keys, int n, int ld) override;

  // u of an entry, in [0, 1): a function of its coordinates only.
  static float Draw(uint64_t seed, int layer, int head, int position);

 private:
  absl::Span<const float> Scores(int layer, int head, int candidates,
                                 std::vector<float>* scratch) const override {
    return absl::MakeConstSpan(state_.at(layer, head).data(), candidates);
  }

  uint64_t seed_;
  int pos0_ = 0;  // position of the step's first token
};

PolicyInfo RandomInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_RANDOM_H_
