// kvbench policies: every registered cache policy and KV store, with each parameter's name, type,
// default and help, straight from the registry tables (policies/registry.h, store_registry.h).
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "policies/registry.h"
#include "stores/store_registry.h"

namespace kvbench::cli {
namespace {

std::string TypeName(const ParamSpec& s) {
  switch (s.type) {
    case ParamType::kInt:
      return "int";
    case ParamType::kFloat:
      return "float";
    case ParamType::kBool:
      return "bool";
    case ParamType::kBudget:
      return "budget";
    case ParamType::kString:
      return s.choices.empty() ? "string" : absl::StrJoin(s.choices, "|");
  }
  return "?";
}

void PrintParams(const std::vector<ParamSpec>& params) {
  for (const ParamSpec& s : params) {
    const std::string def = s.default_value.empty() ? "(required)" : s.default_value;
    std::printf("    %-13s %-15s %-10s %s\n", s.name.c_str(), TypeName(s).c_str(), def.c_str(),
                s.help.c_str());
  }
}

}  // namespace

int Policies(int argc, char** argv) {
  std::string only;
  CommandLine cl("policies", "[NAME]", "list cache policies and KV stores with their parameters");
  cl.Positional("name", &only, "only this policy or store", /*required=*/false);
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  bool found = only.empty();
  if (only.empty())
    std::printf("policies (budgets per KV head: tokens, or a ratio of the context):\n");
  for (const PolicyInfo& p : PolicyRegistry()) {
    if (!only.empty() && p.name != only) continue;
    found = true;
    std::printf("  %-13s %s%s\n", p.name.c_str(), p.description.c_str(),
                p.paper.empty() ? "" : absl::StrCat(" [", p.paper, "]").c_str());
    PrintParams(p.params);
  }
  if (only.empty()) std::printf("\nstores (k_store / v_store):\n");
  for (const StoreInfo& s : StoreRegistry()) {
    if (!only.empty() && s.name != only) continue;
    found = true;
    std::printf("  %-13s %s\n", s.name.c_str(), s.description.c_str());
    PrintParams(s.params);
  }
  if (!found) {
    std::vector<std::string> names;
    for (const PolicyInfo& p : PolicyRegistry()) names.push_back(p.name);
    for (const StoreInfo& s : StoreRegistry()) names.push_back(s.name);
    return ReportError("policies",
                       absl::NotFoundError(absl::StrCat("no policy or store named '", only,
                                                        "'; valid: ", absl::StrJoin(names, ", "))));
  }
  return 0;
}

}  // namespace kvbench::cli
