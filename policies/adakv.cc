#include "policies/adakv.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "base/status.h"

namespace kvbench {

AdaKvPolicy::AdaKvPolicy(const CacheShape& shape, const SnapKvOptions& options, double floor_ratio,
                         Alloc alloc)
    : SnapKvPolicy(shape, options),
      floor_ratio_(floor_ratio),
      alloc_(alloc),
      floor_(static_cast<int>(std::floor(floor_ratio * (options.budget - options.window)))) {}

int AdaKvPolicy::PaperCapacity(int head, const std::vector<float>& flat, int prefix) const {
  const int base = options_.budget - options_.window;
  std::vector<int> picked;
  TopK(flat, base * shape_.n_kv_heads, &picked);
  int count = 0;
  for (int f : picked) count += f / prefix == head;
  const int cap = static_cast<int>(std::nearbyint(count * (1.0 - floor_ratio_) + floor_));
  return std::min(cap, prefix);
}

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
  std::vector<float> own;  // this head's scores
  for (int h = 0; h < heads; ++h) {
    scorer_.PrefixScores(layer, h, n, &scores);
    if (h == head) own = scores;
    if (alloc_ == Alloc::kKvpress) {
      std::vector<int> floor_pick;
      TopK(scores, floor_, &floor_pick);
      for (int j : floor_pick) scores[j] = std::numeric_limits<float>::infinity();
    }
    std::copy(scores.begin(), scores.end(), flat.begin() + static_cast<size_t>(h) * prefix);
  }
  if (alloc_ == Alloc::kPaper) {
    TopK(own, PaperCapacity(head, flat, prefix), keep);
  } else {
    std::vector<int> picked;
    TopK(flat, base * heads, &picked);  // the floors score +inf, so they are all in
    for (int f : picked) {
      if (f / prefix == head) keep->push_back(f % prefix);  // ascending
    }
  }
  AppendRange(n - w, n, keep);
  return true;
}

int64_t AdaKvPolicy::max_entries(int layer) const {
  if (scorer_.prompt_len() == 0) return -1;
  const int n = scorer_.prompt_len();
  const int base = options_.budget - options_.window;
  const int64_t heads = shape_.n_kv_heads;
  int64_t most = 0;
  if (alloc_ == Alloc::kPaper) {
    // c_h <= min(prompt, heads * base) entries of the layer's top-k.
    const int64_t count = std::min<int64_t>(n, heads * base);
    most = options_.window +
           static_cast<int64_t>(std::nearbyint(count * (1.0 - floor_ratio_) + floor_));
  } else {
    most = int64_t{options_.window} + int64_t{base} * heads - int64_t{floor_} * (heads - 1);
  }
  return std::min<int64_t>(n, most) + (scorer_.n_past() - n);
}

int64_t AdaKvPolicy::max_layer_entries(int layer) const {
  if (scorer_.prompt_len() == 0) return -1;
  const int n = scorer_.prompt_len();
  // kPaper rounds each head's share: at most heads / 2 entries over the layer's budget.
  const int64_t rounding =
      alloc_ == Alloc::kPaper && n > options_.budget ? int64_t{shape_.n_kv_heads} / 2 : 0;
  return int64_t{shape_.n_kv_heads} * (std::min(n, options_.budget) + (scorer_.n_past() - n)) +
         rounding;
}

PolicyInfo AdaKvInfo() {
  std::vector<ParamSpec> params = SnapKvSpecs();
  params.push_back({.name = "floor_ratio",
                    .type = ParamType::kFloat,
                    .default_value = "0.2",
                    .help = "share of (budget - window) every head keeps by its own scores",
                    .choices = {}});
  params.push_back({.name = "alloc",
                    .type = ParamType::kString,
                    .default_value = "kvpress",
                    .help = "kvpress: each head's floor first, then one top-k over the layer; "
                            "paper: the layer's top-k counts c_h, head h keeps "
                            "round(c_h (1 - floor_ratio) + floor) (FFY0/AdaKV)",
                    .choices = {"kvpress", "paper"}});
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
            const AdaKvPolicy::Alloc alloc = p.GetString("alloc") == "paper"
                                                 ? AdaKvPolicy::Alloc::kPaper
                                                 : AdaKvPolicy::Alloc::kKvpress;
            return std::make_unique<AdaKvPolicy>(s, options, p.GetFloat("floor_ratio"), alloc);
          }};
}

}  // namespace kvbench
