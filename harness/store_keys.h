// The YAML keys that choose a cache's K/V stores, read the same way wherever a cache is written
// (an experiment's `policies` entries and `reference`, the prefix sweep's `cache`):
//
//   store: q8_0                  # K and V; or each on its own (default f32):
//   k_store: q8_0
//   v_store: [f32, q4_0]         # a list sweeps, where the entry may sweep
//   store_params: {group: 32}    # parameters of both stores; k_params / v_params of one (these
//                                # win over store_params)
//
// Store names and parameters are checked against stores/store_registry.h, errors naming the line.
// Each key becomes a sweep axis (harness/sweep.h): "store", "k_store", "v_store" and
// "store_param:<p>", "k_param:<p>", "v_param:<p>"; ApplyStoreAxis puts a point's values in a spec.
#ifndef KVBENCH_HARNESS_STORE_KEYS_H_
#define KVBENCH_HARNESS_STORE_KEYS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/params.h"
#include "harness/sweep.h"
#include "harness/yaml_reader.h"
#include "policies/registry.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {

// Whether `specs` declares a parameter `name`, and the declared names for messages ("(none)").
bool DeclaresParam(const std::vector<ParamSpec>& specs, const std::string& name);
std::string ParamNames(const std::vector<ParamSpec>& specs);

// Reads the store keys of one entry (a mapping); keys it does not know are left to the caller.
class StoreKeys {
 public:
  // The keys above, in the order of the comment.
  static const std::vector<std::string>& Names();

  // `where` names the entry in messages ("policies[2]", "cache"); without `allow_sweep` a list is
  // an error.
  StoreKeys(const YamlReader& reader, std::string where, bool allow_sweep)
      : reader_(reader), where_(std::move(where)), allow_sweep_(allow_sweep) {}

  // `store` together with `k_store` / `v_store` is an error.
  absl::Status CheckEntry(const YAML::Node& entry) const;
  // Reads `key: value` into `axes` when `key` is a store key (true); false, reading nothing, for
  // any other key.
  absl::StatusOr<bool> Read(const YAML::Node& key, const YAML::Node& value,
                            std::vector<SweepAxis>* axes);
  // Once every key is read: each store parameter is one that a named store declares.
  absl::Status CheckParams() const;

 private:
  struct ParamKey {
    std::string name;
    YAML::Node node;  // for the message's line
    bool k, v;        // which stores it applies to
  };

  absl::StatusOr<std::vector<std::string>> Values(const YAML::Node& value,
                                                  const std::string& key) const;

  const YamlReader& reader_;
  std::string where_;
  bool allow_sweep_;
  std::vector<std::string> k_names_, v_names_;  // every store named for K, for V
  std::vector<ParamKey> params_;
};

// Applies one point of a store axis to `spec`; false when `key` is not a store axis. Apply a
// point's axes in order: k_param / v_param values win over store_param values whatever the order.
bool ApplyStoreAxis(const std::string& key, const std::string& value, CacheSpec* spec);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_STORE_KEYS_H_
