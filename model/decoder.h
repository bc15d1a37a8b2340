// The reference Llama-family forward pass: RMSNorm, RoPE, grouped-query attention (delegated to the
// KvCache), SwiGLU FFN, final norm, classifier. f32 activations; weights in their file dtype.
// Qwen2, Qwen3, Mistral and Gemma-3 are the same pass with the switches of ModelConfig (biases,
// q/k norms, sandwich norms, GELU-tanh, embedding and query scales, sliding layers and their RoPE);
// sliding-window masking itself is the cache's (CacheShape::layer_windows).
//
// One call runs a step for a batch of independent sequences, each with its own cache and any number
// of new tokens (a prefill block or one decode token). The projections of all rows of all
// sequences are one MatMul, so the weights are read once per step however many sequences (or
// policies, in the harness's lockstep evaluation) share it.
//
// Forward reads as llama2.c's forward pass: a plan of the step (rows, logit rows, caches), the
// embeddings, then per layer Attention and FeedForward, then Classify.
#ifndef KVBENCH_MODEL_DECODER_H_
#define KVBENCH_MODEL_DECODER_H_

#include <vector>

#include "absl/types/span.h"
#include "base/aligned.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace kvbench {

struct StepInput {
  KvCache* cache = nullptr;
  absl::Span<const int> tokens;  // new tokens of this sequence
  int pos0 = 0;                  // absolute position of tokens[0]
  int logits_begin = 0;          // logits for tokens[logits_begin..]; tokens.size() for none
  float* logits = nullptr;       // (tokens.size() - logits_begin, vocab)
  // Caches that receive exactly what `cache` receives (same K/V, same queries) while the rows are
  // computed once: valid only while they hold the same entries in the same number formats as
  // `cache` (e.g. every policy of a sweep before its first eviction). Each still gets every hook,
  // so score-based policies observe the attention; their attention outputs equal `cache`'s.
  absl::Span<KvCache* const> mirrors;
};

class Decoder {
 public:
  explicit Decoder(const Model& model);

  // Runs one forward step for every input. Token ids must be < vocab_size (checked).
  void Forward(absl::Span<const StepInput> inputs);

  const Model& model() const { return model_; }
  const ModelConfig& config() const { return model_.config; }

 private:
  // One cache's part in a step: an input's cache, or one of its mirrors.
  struct AttentionTask {
    KvCache* cache;
    int row0;      // first row of the input in the step's activations
    int pos0;      // absolute position of that row
    int n_tokens;  // rows of the input
    bool mirror;   // output discarded, into its thread's slice of mirror_att_
  };
  // The batching bookkeeping of a step, computed once before the layers.
  struct StepPlan {
    int n_rows = 0;                    // rows of all inputs together
    int n_logit_rows = 0;              // rows whose logits were asked for
    std::vector<int> row_offset;       // (inputs + 1) first row of each input
    std::vector<AttentionTask> tasks;  // every cache of the step, in input order
    bool parallel_attention = false;   // tasks spread over threads
    size_t mirror_slice = 0;           // floats of one thread's slice of mirror_att_
  };

  // The stages of Forward, in order.
  void PlanStep(absl::Span<const StepInput> inputs);
  void Embed(absl::Span<const StepInput> inputs);
  void Attention(int layer);
  void FeedForward(int layer);
  void Classify(absl::Span<const StepInput> inputs);

  void Reserve(int n_rows, int n_logit_rows);

  const Model& model_;
  const std::vector<double> rope_freqs_;  // (rope_dims / 2) each pair's frequency (model/rope.h)
  // (rope_dims / 2) the sliding layers' own frequencies, or empty when they share rope_freqs_.
  const std::vector<double> sliding_rope_freqs_;
  StepPlan plan_;
  // Activations, grown on demand and reused: no allocation on the steady-state decode path.
  int capacity_rows_ = 0;
  AlignedVector<float> x_;            // (rows, dim) residual stream
  AlignedVector<float> xb_;           // (rows, dim) normed input / projection output
  AlignedVector<float> q_;            // (rows, n_heads * head_dim)
  AlignedVector<float> k_;            // (rows, n_kv_heads * head_dim)
  AlignedVector<float> v_;            // (rows, n_kv_heads * head_dim)
  AlignedVector<float> att_;          // (rows, n_heads * head_dim) attention output
  AlignedVector<float> gate_;         // (rows, hidden_dim)
  AlignedVector<float> up_;           // (rows, hidden_dim)
  AlignedVector<float> cos_;          // (rows, rope_dims / 2)
  AlignedVector<float> sin_;          // (rows, rope_dims / 2)
  AlignedVector<float> sliding_cos_;  // (rows, rope_dims / 2) with sliding_rope_freqs_, if any
  AlignedVector<float> sliding_sin_;  // (rows, rope_dims / 2)
  AlignedVector<float> logits_;       // (logit rows, vocab)
  AlignedVector<float> mirror_att_;   // (threads, rows, n_heads * head_dim) mirrors' outputs
};

}  // namespace kvbench

#endif  // KVBENCH_MODEL_DECODER_H_
