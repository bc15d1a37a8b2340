// Rotary position embedding (RoPE, Su et al. 2021) in the interleaved-pair layout of llama2.c and
// GGUF-llama: pair i of a head is (x[2i], x[2i+1]), rotated by pos * theta^(-2i / rope_dims).
// Hugging Face checkpoints use "rotate half" pairs (x[i], x[i + d/2]); their q/k projection rows
// are permuted into this layout once, at load (model/hf_model.cc), so the decoder has one RoPE.
#ifndef KVBENCH_MODEL_ROPE_H_
#define KVBENCH_MODEL_ROPE_H_

namespace kvbench {

// cos/sin of every rotary pair at position `pos` (may be negative, for re-rotation by a delta).
// cos, sin: (rope_dims / 2). Angles are computed in double so long contexts keep their precision.
void RopeCosSin(double pos, int rope_dims, float theta, float* cos, float* sin);

// Rotates the first rope_dims values of each of n_heads heads of x (n_heads * head_dim floats).
void ApplyRope(float* x, int n_heads, int head_dim, int rope_dims, const float* cos,
               const float* sin);

}  // namespace kvbench

#endif  // KVBENCH_MODEL_ROPE_H_
