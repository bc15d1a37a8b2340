#include "harness/cache_columns.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kvbench {

std::string ParamsText(const ParamMap& params) {
  return absl::StrJoin(params, ";", absl::PairFormatter("="));
}

std::string StoreText(const std::string& name, const ParamMap& params) {
  return params.empty() ? name : absl::StrCat(name, "(", ParamsText(params), ")");
}

void SetCacheColumns(const CacheSpec& spec, ResultRow* row) {
  row->Set("policy", spec.policy);
  row->Set("k_store", StoreText(spec.k_store, spec.k_params));
  row->Set("v_store", StoreText(spec.v_store, spec.v_params));
  row->Set("params", ParamsText(spec.policy_params));
  if (auto it = spec.policy_params.find("budget"); it != spec.policy_params.end()) {
    row->Set("budget", it->second);
  }
  row->Set("label", spec.Label());
}

}  // namespace kvbench
