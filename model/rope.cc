#include "model/rope.h"

#include <cmath>

namespace kvbench {

void RopeCosSin(double pos, int rope_dims, float theta, float* cos, float* sin) {
  for (int i = 0; i < rope_dims / 2; ++i) {
    const double freq = std::pow(static_cast<double>(theta), -2.0 * i / rope_dims);
    const double angle = pos * freq;
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

}  // namespace kvbench
