#include "model/sampler.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace kvbench {

int ArgMax(absl::Span<const float> logits) {
  return static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(SamplerOptions options) : options_(options), rng_(options.seed) {}

absl::Status Sampler::Validate() const {
  if (!(options_.temperature >= 0.0f) || !std::isfinite(options_.temperature)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("temperature %g must be >= 0", options_.temperature));
  }
  if (options_.top_k < 0) return absl::InvalidArgumentError("top_k must be >= 0");
  if (!(options_.top_p > 0.0f && options_.top_p <= 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("top_p %g must be in (0, 1]", options_.top_p));
  }
  return absl::OkStatus();
}

int Sampler::Sample(absl::Span<const float> logits) {
  if (options_.temperature == 0.0f) return ArgMax(logits);
  const int n = static_cast<int>(logits.size());
  candidates_.resize(n);
  for (int i = 0; i < n; ++i) candidates_[i] = {logits[i] / options_.temperature, i};
  // Highest first; ties by lower id so the order is total and the result deterministic.
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  int keep = n;
  if (options_.top_k > 0 && options_.top_k < n) {
    keep = options_.top_k;
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  const float max = candidates_[0].first;
  double total = 0.0;
  for (int i = 0; i < keep; ++i) {
    candidates_[i].first = std::exp(candidates_[i].first - max);
    total += candidates_[i].first;
  }
  if (options_.top_p < 1.0f) {  // smallest prefix whose mass reaches top_p
    double mass = 0.0;
    int cut = keep;
    for (int i = 0; i < keep; ++i) {
      mass += candidates_[i].first / total;
      if (mass >= options_.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    total = 0.0;
    for (int i = 0; i < keep; ++i) total += candidates_[i].first;
  }
  const double r = std::uniform_real_distribution<double>(0.0, total)(rng_);
  double acc = 0.0;
  for (int i = 0; i < keep; ++i) {
    acc += candidates_[i].first;
    if (r < acc) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

}  // namespace kvbench
