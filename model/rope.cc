#include "model/rope.h"

#include <cmath>
#include <numbers>

#include "base/check.h"

namespace kvbench {
namespace {

double BaseFrequency(int i, int rope_dims, float theta) {
  return std::pow(static_cast<double>(theta), -2.0 * i / rope_dims);
}

}  // namespace

std::vector<double> RopeFrequencies(int rope_dims, float theta,
                                    absl::Span<const float> freq_factors) {
  const int pairs = rope_dims / 2;
  KVBENCH_CHECK(freq_factors.empty() || static_cast<int>(freq_factors.size()) == pairs,
                "%zu RoPE frequency factors for %d pairs", freq_factors.size(), pairs);
  std::vector<double> freqs(pairs);
  for (int i = 0; i < pairs; ++i) {
    freqs[i] = BaseFrequency(i, rope_dims, theta);
    if (!freq_factors.empty()) {
      KVBENCH_CHECK(freq_factors[i] > 0.0f, "RoPE frequency factor %d is not > 0", i);
      freqs[i] /= freq_factors[i];
    }
  }
  return freqs;
}

void RopeCosSin(double pos, absl::Span<const double> freqs, float* cos, float* sin) {
  for (size_t i = 0; i < freqs.size(); ++i) {
    const double angle = pos * freqs[i];
    cos[i] = static_cast<float>(std::cos(angle));
    sin[i] = static_cast<float>(std::sin(angle));
  }
}

void ApplyRope(float* x, int n_heads, int head_dim, int rope_dims, const float* cos,
               const float* sin) {
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int i = 0; i < rope_dims / 2; ++i) {
      const float a = v[2 * i], b = v[2 * i + 1];
      v[2 * i] = a * cos[i] - b * sin[i];
      v[2 * i + 1] = a * sin[i] + b * cos[i];
    }
  }
}

std::vector<float> Llama3RopeFactors(int rope_dims, float theta, const Llama3RopeScaling& s) {
  const double high_freq_wavelen = s.original_context / s.high_freq_factor;
  const double low_freq_wavelen = s.original_context / s.low_freq_factor;
  std::vector<float> factors(rope_dims / 2);
  for (int i = 0; i < rope_dims / 2; ++i) {
    const double wavelen = 2.0 * std::numbers::pi / BaseFrequency(i, rope_dims, theta);
    double divisor;
    if (wavelen < high_freq_wavelen) {
      divisor = 1.0;
    } else if (wavelen > low_freq_wavelen) {
      divisor = s.factor;
    } else {
      const double smooth = (s.original_context / wavelen - s.low_freq_factor) /
                            (s.high_freq_factor - s.low_freq_factor);
      divisor = 1.0 / ((1.0 - smooth) / s.factor + smooth);
    }
    factors[i] = static_cast<float>(divisor);
  }
  return factors;
}

}  // namespace kvbench
