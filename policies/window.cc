#include "policies/window.h"

#include "absl/strings/str_cat.h"
#include "policies/score_utils.h"

namespace kvbench {

std::string WindowPolicy::name() const { return absl::StrCat("window(budget=", budget_, ")"); }

bool WindowPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                              std::vector<int>* keep) {
  const int n = static_cast<int>(positions.size());
  if (n <= budget_) return false;
  AppendRange(n - budget_, n, keep);
  return true;
}

}  // namespace kvbench
