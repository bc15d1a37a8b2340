// Hyper-parameters of a Llama-family decoder, as read from a model file.
#ifndef KVBENCH_MODEL_CONFIG_H_
#define KVBENCH_MODEL_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace kvbench {

struct ModelConfig {
  std::string architecture = "llama";
  int dim = 0;         // residual stream width (embedding_length)
  int n_layers = 0;    // block_count
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads (GQA when < n_heads)
  int head_dim = 0;    // dim / n_heads
  int hidden_dim = 0;  // SwiGLU inner width (feed_forward_length)
  int vocab_size = 0;
  int context_length = 0;  // what the file declares; the model may have been trained on less
  int rope_dims = 0;       // rotary dimensions per head (rope.dimension_count), <= head_dim
  float rope_theta = 10000.0f;
  // RoPE frequency scaling (model/rope.h): the divisor of each pair's frequency, (rope_dims / 2)
  // values, or empty for plain RoPE. rope_type says where they came from, for reports:
  // "default", "linear", "llama3" (transformers' rope_type) or "rope_freqs" (a GGUF tensor).
  std::string rope_type = "default";
  std::vector<float> rope_freq_factors;
  float rms_eps = 1e-5f;

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
  int group_size() const { return n_heads / n_kv_heads; }  // query heads per KV head

  // Checks internal consistency (positive sizes, divisibility, bounds that keep products in range).
  absl::Status Validate() const;
};

}  // namespace kvbench

#endif  // KVBENCH_MODEL_CONFIG_H_
