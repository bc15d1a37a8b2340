// Hyper-parameters of a Llama-family decoder, as read from a model file.
#ifndef KVBENCH_MODEL_CONFIG_H_
#define KVBENCH_MODEL_CONFIG_H_

#include <cstdint>
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

  // Architecture switches of the one decoder (model/decoder.cc), each read from the model file.
  // Llama: all off. Qwen2: attention_bias. Qwen3: qk_norm. Mistral: sliding layers. Gemma-3:
  // qk_norm, sandwich_norms, GELU-tanh, embedding_scale, query_scale, sliding layers with their
  // own RoPE. (Gemma's (1 + w) RMSNorm is folded into the norm weights at load.)
  enum class Activation { kSilu, kGeluTanh };  // the FFN's gate: silu(g) * u or gelu_tanh(g) * u
  Activation activation = Activation::kSilu;
  bool attention_bias = false;   // q/k/v projections add a bias (o too when the file has one)
  bool qk_norm = false;          // RMSNorm over each head of q and k, before RoPE
  bool sandwich_norms = false;   // RMSNorm of the attention and FFN outputs before the residual add
  float embedding_scale = 1.0f;  // token embeddings are multiplied by this (Gemma: sqrt(dim))
  // Queries are multiplied by query_scale after RoPE, so the caches' scores q.k / sqrt(head_dim)
  // become q.k * query_scale / sqrt(head_dim). Gemma-3's query_pre_attn_scalar s (scores
  // q.k / sqrt(s)) gives query_scale = sqrt(head_dim / s).
  float query_scale = 1.0f;
  float final_logit_softcap = 0.0f;  // logits = c tanh(logits / c) when > 0 (Gemma-2/3 option)

  // Sliding-window attention: in a sliding layer the query at position p sees only the keys at
  // positions p - sliding_window < pos <= p (transformers' sliding_window_overlay). A model
  // property, applied inside attention whatever the cache policy; it never caps the context.
  int sliding_window = 0;               // 0: no sliding layers
  std::vector<uint8_t> sliding_layers;  // (n_layers) 1 = sliding; empty when sliding_window is 0
  // RoPE of the sliding layers when it differs from the one above (Gemma-3's
  // rope_parameters.sliding_attention); sliding_rope_theta 0 = the same RoPE as every layer.
  float sliding_rope_theta = 0.0f;
  std::string sliding_rope_type;
  std::vector<float> sliding_rope_freq_factors;

  bool is_sliding(int layer) const { return !sliding_layers.empty() && sliding_layers[layer]; }
  int n_sliding_layers() const;
  // Whether sliding layers rotate with their own RoPE table.
  bool has_sliding_rope() const { return sliding_rope_theta > 0.0f; }

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
  int group_size() const { return n_heads / n_kv_heads; }  // query heads per KV head

  // Checks internal consistency (positive sizes, divisibility, bounds that keep products in range).
  absl::Status Validate() const;
};

// The architecture switches in words, one "name  value" line each (ffn, bias, q/k norm, norms,
// scales, sliding layers), for `kvbench inspect`.
std::vector<std::string> ArchitectureFeatures(const ModelConfig& c);

}  // namespace kvbench

#endif  // KVBENCH_MODEL_CONFIG_H_
