// `--set key=value` overrides of a YAML experiment, applied to the parsed document before the
// experiment parser reads it, so an overridden value meets exactly the checks of a written one:
//
//   kvbench run configs/eviction_sweep.yaml --set context_tokens=512 --set dataset.path=x.txt \
//       --set policies.0.budget=[16,32] --set reference={name: full, store: q8_0}
//
// The key is a dotted path: mapping keys, and list indices for lists (`policies.0.budget`); a
// missing key is added (the parser then rejects it if it is not a valid one). The value is YAML
// (a scalar, `[a, b]`, `{k: v}`). The rest of the document keeps its line numbers in errors; an
// overridden value has none, so its errors read "exp.yaml: 'context_tokens' must be an integer"
// and AnnotateOverrides adds which --set it came from.
#ifndef KVBENCH_HARNESS_YAML_OVERRIDES_H_
#define KVBENCH_HARNESS_YAML_OVERRIDES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {

struct YamlOverride {
  std::string key;    // "context_tokens", "dataset.path", "policies.0.budget"
  std::string value;  // YAML text: "512", "[16, 32]", "{name: full}"

  std::string Text() const { return key + "=" + value; }  // as given to --set
};

// "key=value", split at the first '='. InvalidArgument for a missing '=', an empty key or an
// empty part of the path ("a..b").
absl::StatusOr<YamlOverride> ParseOverride(absl::string_view text);
absl::StatusOr<std::vector<YamlOverride>> ParseOverrides(const std::vector<std::string>& texts);

// Sets every override in `root`, in order (a later one wins). InvalidArgument naming the --set for
// a value that is not YAML, a path through a scalar, or a list index that is not an existing
// position.
absl::Status ApplyOverrides(const std::vector<YamlOverride>& overrides, YAML::Node& root);

// Reads and parses `path` (YamlReader::Load: syntax errors and repeated keys with their line),
// then applies `overrides`: the document an experiment parser gets.
absl::StatusOr<YAML::Node> LoadYamlWithOverrides(const std::string& path,
                                                 const std::vector<YamlOverride>& overrides);

// `status` (a parser's error) with the --set that caused it when the message has no line (only
// overridden nodes have none): those whose key the message names, else whose value, else all.
// Other errors are returned unchanged.
absl::Status AnnotateOverrides(const absl::Status& status, absl::string_view source,
                               const std::vector<YamlOverride>& overrides);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_YAML_OVERRIDES_H_
