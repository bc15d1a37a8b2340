#include "policies/pyramidkv.h"

#include <memory>
#include <vector>

#include "base/status.h"

namespace kvbench {

int PyramidKvPolicy::PrefixBudget(int layer, int prompt_len) const {
  const int base = options_.budget - options_.window;  // > 0, SnapKvFromParams checks
  const int layers = shape_.n_layers;
  if (layers <= 1) return base;
  int k_min = base / beta_;
  int k_max = 2 * base - k_min;
  const int prefix = prompt_len - scorer_.observed(prompt_len);
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
  return {.name = "pyramidkv",
          .description = "SnapKV selection with per-layer budgets decreasing linearly with depth",
          .paper = "arXiv:2406.02069",
          .one_shot = true,
          .params = std::move(params),
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const SnapKvOptions options, SnapKvFromParams(p, "pyramidkv", s));
            const int beta = p.GetInt("beta");
            if (beta < 1) return InvalidParam(p, "pyramidkv", "beta", "must be at least 1");
            return std::make_unique<PyramidKvPolicy>(s, options, beta);
          }};
}

}  // namespace kvbench
