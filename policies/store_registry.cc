#include "policies/store_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policies/f32_store.h"

namespace kvbench {

const std::vector<StoreInfo>& StoreRegistry() {
  static const auto* const kStores = new std::vector<StoreInfo>{
      {.name = "f32",
       .description = "IEEE f32, 32 bits per value: the reference format",
       .params = {},
       .make = [](const Params&, KvRole, const CacheShape& shape)
           -> absl::StatusOr<std::unique_ptr<KvStore>> { return std::make_unique<F32Store>(shape); }},
  };
  return *kStores;
}

absl::StatusOr<std::unique_ptr<KvStore>> MakeStore(std::string_view name, const ParamMap& params,
                                                   KvRole role, const CacheShape& shape) {
  std::vector<std::string> names;
  for (const StoreInfo& info : StoreRegistry()) {
    if (info.name == name) {
      auto parsed = Params::Parse(absl::StrCat("store ", std::string(name)), info.params, params);
      if (!parsed.ok()) return parsed.status();
      return info.make(*parsed, role, shape);
    }
    names.push_back(info.name);
  }
  return absl::NotFoundError(
      absl::StrCat("unknown store '", std::string(name), "'; valid: ", absl::StrJoin(names, ", ")));
}

}  // namespace kvbench
