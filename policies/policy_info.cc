#include "policies/policy_info.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"

namespace kvbench {

ParamSpec BudgetSpec() {
  return {.name = "budget",
          .type = ParamType::kBudget,
          .default_value = "",
          .help =
              "entries kept per KV head: tokens (64) or a ratio of the context, of the prompt for "
              "one-shot policies (0.25, 25%)",
          .choices = {}};
}

ParamSpec AggregateSpec() {
  return {.name = "aggregate",
          .type = ParamType::kString,
          .default_value = "mean",
          .help = "GQA: how a KV head combines its query group's attention",
          .choices = {"mean", "max"}};
}

absl::Status InvalidParam(const Params& p, const std::string& policy, const std::string& param,
                          const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat("policy ", policy, ": parameter '", param,
                                                 "' = ", p.values().at(param), " ", problem));
}

absl::StatusOr<int> CheckedBudget(const Params& p, const std::string& policy,
                                  const CacheShape& shape) {
  if (auto when = p.values().find("when");
      when != p.values().end() && when->second == "once" && shape.prompt_tokens > 0) {
    return CheckedPromptBudget(p, policy, shape);
  }
  const std::string& text = p.values().at("budget");
  const bool ratio = absl::StrContains(text, ".") || absl::StrContains(text, "%");
  if (ratio && shape.context_tokens <= 0) {
    return InvalidParam(p, policy, "budget",
                        "is a ratio, but the run's context length is unknown (0)");
  }
  const int budget = p.GetBudget("budget", shape.context_tokens);
  if (budget < 1) return InvalidParam(p, policy, "budget", "must keep at least one token");
  if (shape.context_tokens > 0 && budget > shape.context_tokens) {
    return InvalidParam(p, policy, "budget",
                        absl::StrCat("exceeds the context of ", shape.context_tokens,
                                     " tokens (nothing would be evicted: use `full`)"));
  }
  return budget;
}

absl::StatusOr<int> CheckedPromptBudget(const Params& p, const std::string& policy,
                                        const CacheShape& shape) {
  if (shape.prompt_tokens <= 0) return CheckedBudget(p, policy, shape);
  const int budget = p.GetBudget("budget", shape.prompt_tokens);
  if (budget < 1) return InvalidParam(p, policy, "budget", "must keep at least one token");
  if (budget >= shape.prompt_tokens) {
    return InvalidParam(p, policy, "budget",
                        absl::StrCat("keeps the whole prompt of ", shape.prompt_tokens,
                                     " tokens: a one-shot policy compresses only the prompt, so "
                                     "nothing would be evicted (ratios are of the prompt)"));
  }
  return budget;
}

absl::Status CheckUnitInterval(const Params& p, const std::string& policy,
                               const std::string& param) {
  const double v = p.GetFloat(param);
  if (v < 0.0 || v > 1.0) return InvalidParam(p, policy, param, "must be between 0 and 1");
  return absl::OkStatus();
}

}  // namespace kvbench
