#include "harness/memory_tally.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace kvbench {

absl::Status CheckEvicts(const CacheSpec& spec, double evicted_tokens, int context_tokens) {
  if (spec.policy == "full" || evicted_tokens > 0) return absl::OkStatus();
  const auto budget = spec.policy_params.find("budget");
  const std::string what = budget == spec.policy_params.end()
                               ? std::string("its parameters evict")
                               : absl::StrCat("budget ", budget->second, " evicts");
  return absl::FailedPreconditionError(
      absl::StrCat(spec.Label(), ": ", what, " nothing from the ", context_tokens,
                   "-token context (every token is still cached where the case is scored; "
                   "its numbers would be the full cache's)"));
}

}  // namespace kvbench
