#include "policies/eviction_schedule.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kvbench {

absl::StatusOr<EvictionSchedule> ParseEvictionSchedule(const std::string& text) {
  if (text == "once") return EvictionSchedule{.interval = 0};
  if (text == "every_step") return EvictionSchedule{.interval = 1};
  int n = 0;
  if (absl::StartsWith(text, "every:") && absl::SimpleAtoi(text.substr(6), &n) && n >= 1) {
    return EvictionSchedule{.interval = n};
  }
  if (absl::StartsWith(text, "decoding:") && absl::SimpleAtoi(text.substr(9), &n) && n >= 1) {
    return EvictionSchedule{.interval = n, .prompt = false};
  }
  return absl::InvalidArgumentError(
      absl::StrCat("parameter 'when' = ", text,
                   " is not one of once, every_step, every:N, decoding:N (N >= 1)"));
}

}  // namespace kvbench
