#include "harness/store_keys.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "stores/store_registry.h"

namespace kvbench {
namespace {

const StoreInfo* FindStore(const std::string& name) {
  for (const StoreInfo& s : StoreRegistry()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string StoreNames() {
  std::vector<std::string> names;
  for (const StoreInfo& s : StoreRegistry()) names.push_back(s.name);
  return absl::StrJoin(names, ", ");
}

bool IsParamsKey(const std::string& key) {
  return key == "store_params" || key == "k_params" || key == "v_params";
}

bool IsStoreNameKey(const std::string& key) {
  return key == "store" || key == "k_store" || key == "v_store";
}

}  // namespace

bool DeclaresParam(const std::vector<ParamSpec>& specs, const std::string& name) {
  for (const ParamSpec& p : specs) {
    if (p.name == name) return true;
  }
  return false;
}

std::string ParamNames(const std::vector<ParamSpec>& specs) {
  std::vector<std::string> names;
  for (const ParamSpec& p : specs) names.push_back(p.name);
  return names.empty() ? "(none)" : absl::StrJoin(names, ", ");
}

const std::vector<std::string>& StoreKeys::Names() {
  static const auto* const kNames = new std::vector<std::string>{
      "store", "k_store", "v_store", "store_params", "k_params", "v_params"};
  return *kNames;
}

absl::Status StoreKeys::CheckEntry(const YAML::Node& entry) const {
  if (entry["store"] && (entry["k_store"] || entry["v_store"])) {
    return reader_.Error(entry["store"], absl::StrCat(where_,
                                                      ": give `store` (both) or "
                                                      "`k_store`/`v_store`, not both"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> StoreKeys::Values(const YAML::Node& value,
                                                           const std::string& key) const {
  ASSIGN_OR_RETURN(std::vector<std::string> values, reader_.Values(value, key));
  if (!allow_sweep_ && values.size() > 1) {
    return reader_.Error(value, absl::StrCat(where_, " cannot sweep: '",
                                             key.substr(key.find('.') + 1), "' has a list"));
  }
  return values;
}

absl::StatusOr<bool> StoreKeys::Read(const YAML::Node& key_node, const YAML::Node& value,
                                     std::vector<SweepAxis>* axes) {
  const std::string key = key_node.Scalar();
  if (IsParamsKey(key)) {
    if (!value.IsMap()) {
      return reader_.Error(value,
                           absl::StrCat("'", key, "' must be a mapping of parameter: value"));
    }
    const std::string prefix = key.substr(0, key.find('_'));  // store | k | v
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string param = it->first.Scalar();
      ASSIGN_OR_RETURN(std::vector<std::string> values,
                       Values(it->second, absl::StrCat(key, ".", param)));
      axes->push_back({absl::StrCat(prefix, "_param:", param), std::move(values)});
      params_.push_back({param, it->first, prefix != "v", prefix != "k"});
    }
    return true;
  }
  if (!IsStoreNameKey(key)) return false;
  ASSIGN_OR_RETURN(std::vector<std::string> values, Values(value, key));
  for (const std::string& n : values) {
    if (FindStore(n) == nullptr) {
      return reader_.Error(
          value, absl::StrCat("unknown store '", n, "' in '", key, "'; valid: ", StoreNames()));
    }
  }
  if (key != "v_store") k_names_.insert(k_names_.end(), values.begin(), values.end());
  if (key != "k_store") v_names_.insert(v_names_.end(), values.begin(), values.end());
  axes->push_back({key, std::move(values)});
  return true;
}

absl::Status StoreKeys::CheckParams() const {
  const std::vector<std::string> k_names =
      k_names_.empty() ? std::vector<std::string>{"f32"} : k_names_;
  const std::vector<std::string> v_names =
      v_names_.empty() ? std::vector<std::string>{"f32"} : v_names_;
  for (const ParamKey& p : params_) {
    std::vector<std::string> stores;
    if (p.k) stores.insert(stores.end(), k_names.begin(), k_names.end());
    if (p.v) stores.insert(stores.end(), v_names.begin(), v_names.end());
    bool declared = false;
    for (const std::string& n : stores) declared |= DeclaresParam(FindStore(n)->params, p.name);
    if (!declared) {
      return reader_.Error(p.node, absl::StrCat("unknown store parameter '", p.name, "' in ",
                                                where_, ": store '", stores.front(), "' takes ",
                                                ParamNames(FindStore(stores.front())->params)));
    }
  }
  return absl::OkStatus();
}

bool ApplyStoreAxis(const std::string& key, const std::string& value, CacheSpec* spec) {
  auto param = [&](std::string_view prefix) {
    return key.rfind(prefix, 0) == 0 ? key.substr(prefix.size()) : std::string();
  };
  if (key == "store") {
    spec->k_store = spec->v_store = value;
  } else if (key == "k_store") {
    spec->k_store = value;
  } else if (key == "v_store") {
    spec->v_store = value;
  } else if (const std::string p = param("store_param:"); !p.empty()) {
    spec->k_params.emplace(p, value);  // a k_param / v_param of the same name wins
    spec->v_params.emplace(p, value);
  } else if (const std::string p = param("k_param:"); !p.empty()) {
    spec->k_params[p] = value;
  } else if (const std::string p = param("v_param:"); !p.empty()) {
    spec->v_params[p] = value;
  } else {
    return false;
  }
  return true;
}

}  // namespace kvbench
