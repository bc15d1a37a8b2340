#include "policies/pyramidkv.h"

#include "absl/strings/str_cat.h"

namespace kvbench {

std::string PyramidKvPolicy::name() const {
  return absl::StrCat("pyramidkv(", ParamText(), ",beta=", beta_, ")");
}

int PyramidKvPolicy::PrefixBudget(int layer, int prompt_len) const {
  const int base = options_.budget - options_.window;  // > 0, the registry checks
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

}  // namespace kvbench
