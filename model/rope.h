// Rotary position embedding (RoPE, Su et al. 2021) in the interleaved-pair layout of llama2.c and
// GGUF-llama: pair i of a head is (x[2i], x[2i+1]), rotated by the angle pos * freq[i], with
//     freq[i] = theta^(-2i / rope_dims) / freq_factors[i]     (freq_factors empty: all 1).
// Hugging Face checkpoints use "rotate half" pairs (x[i], x[i + d/2]); their q/k projection rows
// are permuted into this layout once, at load (model/hf_model.cc), so the decoder has one RoPE.
//
// Frequency scaling. Every scaling kvbench implements divides each pair's base frequency by a
// per-pair factor: transformers' "linear" divides all of them by `factor`; "llama3" (Llama 3.1)
// leaves high frequencies alone, divides low ones by `factor` and blends in between; GGUF files
// carry the same divisors as the `rope_freqs.weight` tensor (llama.cpp's "rope factors"). So the
// factors are computed once, at load, and the decoder and the positions=cache re-rotation use the
// same frequency table.
#ifndef KVBENCH_MODEL_ROPE_H_
#define KVBENCH_MODEL_ROPE_H_

#include <vector>

#include "absl/types/span.h"

namespace kvbench {

// freq[i] of each of the rope_dims / 2 pairs (see the top of this file). freq_factors: empty or
// (rope_dims / 2) values > 0 (checked). Computed in double so long contexts keep their precision.
std::vector<double> RopeFrequencies(int rope_dims, float theta,
                                    absl::Span<const float> freq_factors);

// cos/sin of every pair at position `pos` (may be negative, for re-rotation by a delta).
// freqs: (pairs), from RopeFrequencies; cos, sin: (pairs).
void RopeCosSin(double pos, absl::Span<const double> freqs, float* cos, float* sin);

// Rotates the first rope_dims values of each of n_heads heads of x (n_heads * head_dim floats).
void ApplyRope(float* x, int n_heads, int head_dim, int rope_dims, const float* cos,
               const float* sin);

// Llama 3.1's scaling (transformers' rope_type "llama3", Meta's apply_scaling): with
// wavelen = 2 pi / theta^(-2i / rope_dims) for pair i,
//   wavelen < original_context / high_freq_factor: divisor 1 (high frequencies kept);
//   wavelen > original_context / low_freq_factor: divisor factor;
//   otherwise, with s = (original_context / wavelen - low) / (high - low), the frequency is
//   (1 - s) freq / factor + s freq, i.e. divisor 1 / ((1 - s) / factor + s).
struct Llama3RopeScaling {
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int original_context = 8192;  // original_max_position_embeddings
};

// The per-pair divisors (rope_dims / 2) of that scaling. Requires factor > 0 and
// 0 < low_freq_factor < high_freq_factor (the caller checks the config).
std::vector<float> Llama3RopeFactors(int rope_dims, float theta, const Llama3RopeScaling& s);

}  // namespace kvbench

#endif  // KVBENCH_MODEL_ROPE_H_
