// The geometry a cache is built for: taken from the model config plus the run's context length.
#ifndef KVBENCH_MODEL_CACHE_SHAPE_H_
#define KVBENCH_MODEL_CACHE_SHAPE_H_

#include <vector>

#include "model/config.h"

namespace kvbench {

struct CacheShape {
  int n_layers = 0;
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // K/V are stored per KV head, never per query head
  int head_dim = 0;
  int rope_dims = 0;
  float rope_theta = 10000.0f;
  int context_tokens = 0;  // tokens the run will feed at most; budgets given as ratios scale by it
  // Tokens of the run's first step (the prompt a one-shot policy compresses), 0 = not known.
  // One-shot policies scale ratio budgets by it, and refuse a budget that would keep the whole
  // prompt.
  int prompt_tokens = 0;
  std::vector<float> rope_freq_factors;  // (rope_dims / 2) or empty: ModelConfig's

  int group_size() const { return n_heads / n_kv_heads; }
  int kv_dim() const { return n_kv_heads * head_dim; }

  static CacheShape ForModel(const ModelConfig& c, int context_tokens) {
    return CacheShape{.n_layers = c.n_layers,
                      .n_heads = c.n_heads,
                      .n_kv_heads = c.n_kv_heads,
                      .head_dim = c.head_dim,
                      .rope_dims = c.rope_dims,
                      .rope_theta = c.rope_theta,
                      .context_tokens = context_tokens,
                      .prompt_tokens = 0,
                      .rope_freq_factors = c.rope_freq_factors};
  }
};

}  // namespace kvbench

#endif  // KVBENCH_MODEL_CACHE_SHAPE_H_
