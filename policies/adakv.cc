#include "policies/adakv.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "base/status.h"

namespace kvbench {

AdaKvPolicy::AdaKvPolicy(const CacheShape& shape, const SnapKvOptions& options, double floor_ratio)
    : SnapKvPolicy(shape, options),
      floor_(static_cast<int>(std::floor(floor_ratio * (options.budget - options.window)))) {}

bool AdaKvPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                             std::vector<int>* keep) const {
  if (!scorer_.in_prefill()) return false;
  const int n = static_cast<int>(positions.size());  // every head holds the whole prompt now
  if (n <= options_.budget) return false;
  const int w = scorer_.observed(n);
  const int base = options_.budget - options_.window;
  // The layer's plan: every head's scores are complete by EndStep.
  const int heads = shape_.n_kv_heads;
  const int prefix = n - w;
  std::vector<float> flat(static_cast<size_t>(heads) * prefix);  // (heads, prefix)
  std::vector<float> scores;
  for (int h = 0; h < heads; ++h) {
    scorer_.PrefixScores(layer, h, n, &scores);
    std::vector<int> floor_pick;
    TopK(scores, floor_, &floor_pick);
    for (int j : floor_pick) scores[j] = std::numeric_limits<float>::infinity();
    std::copy(scores.begin(), scores.end(), flat.begin() + static_cast<size_t>(h) * prefix);
  }
  std::vector<int> picked;
  TopK(flat, base * heads, &picked);  // the floors score +inf, so they are all in
  for (int f : picked) {
    if (f / prefix == head) keep->push_back(f % prefix);  // ascending
  }
  AppendRange(n - w, n, keep);
  return true;
}

int64_t AdaKvPolicy::max_entries(int layer) const {
  if (scorer_.prompt_len() == 0) return -1;
  const int n = scorer_.prompt_len();
  const int base = options_.budget - options_.window;
  const int64_t most = int64_t{options_.window} + int64_t{base} * shape_.n_kv_heads -
                       int64_t{floor_} * (shape_.n_kv_heads - 1);
  return std::min<int64_t>(n, most) + (scorer_.n_past() - n);
}

int64_t AdaKvPolicy::max_layer_entries(int layer) const {
  if (scorer_.prompt_len() == 0) return -1;
  const int n = scorer_.prompt_len();
  return int64_t{shape_.n_kv_heads} * (std::min(n, options_.budget) + (scorer_.n_past() - n));
}

PolicyInfo AdaKvInfo() {
  std::vector<ParamSpec> params = SnapKvSpecs();
  params.push_back({.name = "floor_ratio",
                    .type = ParamType::kFloat,
                    .default_value = "0.2",
                    .help = "share of (budget - window) every head keeps by its own scores",
                    .choices = {}});
  return {.name = "adakv",
          .description =
              "one-shot SnapKV scores, one top-k across the heads of a layer with a "
              "floor per head",
          .paper = "arXiv:2407.11550",
          .one_shot = true,
          .params = std::move(params),
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const SnapKvOptions options, SnapKvFromParams(p, "adakv", s));
            RETURN_IF_ERROR(CheckUnitInterval(p, "adakv", "floor_ratio"));
            return std::make_unique<AdaKvPolicy>(s, options, p.GetFloat("floor_ratio"));
          }};
}

}  // namespace kvbench
