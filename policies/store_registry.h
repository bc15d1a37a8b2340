// The table of KV stores (number formats): name -> factory, with every parameter declared.
// `kvbench policies` prints it; YAML `k_store` / `v_store` names resolve through it.
#ifndef KVBENCH_POLICIES_STORE_REGISTRY_H_
#define KVBENCH_POLICIES_STORE_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "policies/cache_shape.h"
#include "policies/kv_store.h"
#include "policies/params.h"

namespace kvbench {

struct StoreInfo {
  std::string name;
  std::string description;  // one line: format, bits per value, reference
  std::vector<ParamSpec> params;
  std::function<absl::StatusOr<std::unique_ptr<KvStore>>(const Params&, KvRole, const CacheShape&)>
      make;
};

// Every store, in listing order.
const std::vector<StoreInfo>& StoreRegistry();

// Builds store `name` for `role`. NotFound (listing valid names) for an unknown store;
// InvalidArgument for bad parameters.
absl::StatusOr<std::unique_ptr<KvStore>> MakeStore(std::string_view name, const ParamMap& params,
                                                   KvRole role, const CacheShape& shape);

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_STORE_REGISTRY_H_
