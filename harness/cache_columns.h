// The columns that name a cache in every results CSV (policy, k_store, v_store, params, budget,
// label), written the same way by the divergence sweep and the needle task.
#ifndef KVBENCH_HARNESS_CACHE_COLUMNS_H_
#define KVBENCH_HARNESS_CACHE_COLUMNS_H_

#include <string>

#include "harness/result_table.h"
#include "policies/registry.h"

namespace kvbench {

// "key=value;key=value" (';' so that the text survives in a CSV cell and in a spec).
std::string ParamsText(const ParamMap& params);
// "q8_0" or "kivi(bits=4;residual=32)".
std::string StoreText(const std::string& name, const ParamMap& params);

// Sets policy, k_store, v_store, params, budget (when the policy has one) and label.
void SetCacheColumns(const CacheSpec& spec, ResultRow* row);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_CACHE_COLUMNS_H_
