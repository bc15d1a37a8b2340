// Next-token sampling: greedy (temperature 0), temperature, top-k, top-p (nucleus), with a seeded
// RNG so a (seed, logits) sequence always gives the same tokens.
#ifndef KVBENCH_MODEL_SAMPLER_H_
#define KVBENCH_MODEL_SAMPLER_H_

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace kvbench {

struct SamplerOptions {
  float temperature = 0.0f;  // 0: greedy
  int top_k = 0;             // 0: no limit
  float top_p = 1.0f;        // 1: no limit
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(SamplerOptions options);
  absl::Status Validate() const;

  // Picks a token from logits over the vocabulary.
  int Sample(absl::Span<const float> logits);

 private:
  SamplerOptions options_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int>> candidates_;  // reused: no allocation per token
};

// Index of the largest logit (the lowest index on ties).
int ArgMax(absl::Span<const float> logits);

}  // namespace kvbench

#endif  // KVBENCH_MODEL_SAMPLER_H_
