#include "policies/pyramidkv.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace kvbench {

int PyramidKvPolicy::PrefixBudget(int layer, int prompt_len) const {
  const int budget = options_.budget;
  const int window = scorer_.observed(prompt_len);
  const int base = budget - options_.window;  // > 0, SnapKvFromParams checks
  const int layers = shape_.n_layers;
  if (alloc_ == Alloc::kKvpress) {
    const double n = prompt_len;
    double min_num = static_cast<double>(budget) / beta_;
    double max_num = 2.0 * budget - min_num;
    if (max_num >= n - window) {
      max_num = n - window;
      min_num = 2.0 * budget - max_num;
    }
    if (layers <= 1 || !(n >= max_num && max_num >= min_num && min_num >= window)) {
      return budget - window;  // round(n (1 - r)) = budget: SnapKV's uniform budget
    }
    const double steps = (max_num - min_num) / (layers - 1);
    // torch's round: half to even, as std::nearbyint in the default rounding mode.
    return static_cast<int>(std::nearbyint(max_num - layer * steps)) - window;
  }
  if (layers <= 1) return base;
  if (alloc_ == Alloc::kFactory && prompt_len < 2 * base) return base;  // SnapKV's fallback
  int k_min = base / beta_;
  int k_max = 2 * base - k_min;
  const int prefix = prompt_len - window;
  if (k_max >= prefix) {
    k_max = prefix;
    k_min = 2 * base - k_max;
  }
  const int step = (k_max - k_min) / (layers - 1);
  return k_max - layer * step;
}

PolicyInfo PyramidKvInfo() {
  std::vector<ParamSpec> params = SnapKvSpecs();
  params.push_back({.name = "beta",
                    .type = ParamType::kInt,
                    .default_value = "20",
                    .help = "the top layer gets (budget - window) / beta selected tokens",
                    .choices = {}});
  params.push_back({.name = "alloc",
                    .type = ParamType::kString,
                    .default_value = "factory",
                    .help = "per-layer budgets: factory (KVCache-Factory, SnapKV's budget for "
                            "prompts under 2 (budget - window)), kvpress (PyramidKVPress: window "
                            "inside, float steps, uniform fallback), kvbench (factory's steps, "
                            "no fallback)",
                    .choices = {"factory", "kvpress", "kvbench"}});
  return {.name = "pyramidkv",
          .description = "SnapKV selection with per-layer budgets decreasing linearly with depth",
          .paper = "arXiv:2406.02069",
          .one_shot = true,
          .params = std::move(params),
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const SnapKvOptions options, SnapKvFromParams(p, "pyramidkv", s));
            const int beta = p.GetInt("beta");
            if (beta < 1) return InvalidParam(p, "pyramidkv", "beta", "must be at least 1");
            const std::string alloc = p.GetString("alloc");
            const PyramidKvPolicy::Alloc a = alloc == "kvpress" ? PyramidKvPolicy::Alloc::kKvpress
                                             : alloc == "kvbench"
                                                 ? PyramidKvPolicy::Alloc::kKvbench
                                                 : PyramidKvPolicy::Alloc::kFactory;
            return std::make_unique<PyramidKvPolicy>(s, options, beta, a);
          }};
}

}  // namespace kvbench
