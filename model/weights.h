// Views of a decoder's weights. The memory behind them belongs to the Model (a memory-mapped file
// or buffers the loader filled); these structs are plain pointers plus shapes.
#ifndef KVBENCH_MODEL_WEIGHTS_H_
#define KVBENCH_MODEL_WEIGHTS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "formats/dtype.h"

namespace kvbench {

// A row-major matrix of `rows` output features x `cols` input features: y = W x reads row r to make
// y[r]. This is GGUF's layout (ne0 = cols is contiguous) and llama2.c's.
struct WeightMatrix {
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const std::byte* data = nullptr;

  size_t row_bytes() const { return RowBytes(dtype, cols); }
  size_t bytes() const { return row_bytes() * static_cast<size_t>(rows); }
  const std::byte* row(int64_t r) const { return data + row_bytes() * static_cast<size_t>(r); }
};

// Optional members are nullptr when the architecture has none (ModelConfig's switches say which
// must be present). Norm weights are the factors RMSNorm multiplies by: Gemma's (1 + w) is stored
// as 1 + w.
struct LayerWeights {
  const float* attn_norm = nullptr;  // (dim)
  WeightMatrix wq;                   // (n_heads * head_dim, dim), RoPE pairs interleaved
  WeightMatrix wk;                   // (n_kv_heads * head_dim, dim), RoPE pairs interleaved
  WeightMatrix wv;                   // (n_kv_heads * head_dim, dim)
  WeightMatrix wo;                   // (dim, n_heads * head_dim)
  const float* bq = nullptr;         // (n_heads * head_dim) attention_bias, interleaved as wq
  const float* bk = nullptr;         // (n_kv_heads * head_dim) attention_bias, interleaved as wk
  const float* bv = nullptr;         // (n_kv_heads * head_dim) attention_bias
  const float* bo = nullptr;         // (dim) attention_bias, when the file has an o_proj bias
  const float* q_norm = nullptr;     // (head_dim) qk_norm, interleaved as wq's rows of a head
  const float* k_norm = nullptr;     // (head_dim) qk_norm, interleaved as wk's rows of a head
  const float* attn_post_norm = nullptr;  // (dim) sandwich_norms: on the attention output
  const float* ffn_norm = nullptr;        // (dim)
  const float* ffn_post_norm = nullptr;   // (dim) sandwich_norms: on the FFN output
  WeightMatrix w_gate;                    // (hidden_dim, dim)   "w1"
  WeightMatrix w_up;                      // (hidden_dim, dim)   "w3"
  WeightMatrix w_down;                    // (dim, hidden_dim)   "w2"
};

struct ModelWeights {
  WeightMatrix token_embedding;       // (vocab, dim)
  std::vector<LayerWeights> layers;   // (n_layers)
  const float* final_norm = nullptr;  // (dim)
  WeightMatrix classifier;            // (vocab, dim); aliases token_embedding when tied

  // Bytes of weights a decode step reads (all matrices once, embedding row excluded).
  size_t bytes_per_token() const;
};

}  // namespace kvbench

#endif  // KVBENCH_MODEL_WEIGHTS_H_
