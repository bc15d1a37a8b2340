// The geometry a cache is built for: taken from the model config plus the run's context length.
#ifndef KVBENCH_MODEL_CACHE_SHAPE_H_
#define KVBENCH_MODEL_CACHE_SHAPE_H_

#include <utility>
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
  // Sliding-window attention (ModelConfig::sliding_window): (n_layers) the keys a query of each
  // layer sees, its own position included: a query at p attends to p - W < pos <= p; 0 = every
  // cached key. Empty: no sliding layers. The window masks inside attention, whatever the policy
  // keeps; it does not evict.
  std::vector<int> layer_windows;
  // RoPE of the sliding layers when it differs (Gemma-3), for caches that re-rotate keys; theta 0
  // = the same as above.
  float sliding_rope_theta = 0.0f;
  std::vector<float> sliding_rope_freq_factors;

  int window(int layer) const { return layer_windows.empty() ? 0 : layer_windows[layer]; }

  int group_size() const { return n_heads / n_kv_heads; }
  int kv_dim() const { return n_kv_heads * head_dim; }

  static CacheShape ForModel(const ModelConfig& c, int context_tokens) {
    std::vector<int> windows;
    for (int l = 0; l < c.n_layers && c.sliding_window > 0; ++l)
      windows.push_back(c.is_sliding(l) ? c.sliding_window : 0);
    return CacheShape{.n_layers = c.n_layers,
                      .n_heads = c.n_heads,
                      .n_kv_heads = c.n_kv_heads,
                      .head_dim = c.head_dim,
                      .rope_dims = c.rope_dims,
                      .rope_theta = c.rope_theta,
                      .context_tokens = context_tokens,
                      .prompt_tokens = 0,
                      .rope_freq_factors = c.rope_freq_factors,
                      .layer_windows = std::move(windows),
                      .sliding_rope_theta = c.sliding_rope_theta,
                      .sliding_rope_freq_factors = c.sliding_rope_freq_factors};
  }
};

}  // namespace kvbench

#endif  // KVBENCH_MODEL_CACHE_SHAPE_H_
