#include "harness/experiment_sweep.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "formats/read_file.h"
#include "harness/yaml_reader.h"

namespace kvbench {
namespace {

struct Axis {
  std::string key;
  std::vector<YAML::Node> values;  // the list's elements, each with its own line
};

std::string ValueText(const YAML::Node& v) {
  if (v.IsScalar()) return v.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << v;
  return out.c_str();
}

}  // namespace

const std::vector<std::string>& ExperimentSweepKeys() {
  static const auto* const kKeys =
      new std::vector<std::string>{"model", "context_tokens", "prompt_tokens"};
  return *kKeys;
}

absl::StatusOr<std::vector<Experiment>> ParseExperimentSweep(YAML::Node root,
                                                             std::string_view source,
                                                             std::string_view default_name) {
  const YamlReader reader{std::string(source)};
  std::vector<Axis> axes;
  if (root.IsMap()) {
    for (const std::string& key : ExperimentSweepKeys()) {
      const YAML::Node list = root[key];
      if (!list.IsSequence()) continue;
      if (list.size() == 0) return reader.Error(list, absl::StrCat(key, ": an empty sweep"));
      Axis axis{.key = key};
      for (const YAML::Node& v : list) axis.values.push_back(v);
      axes.push_back(std::move(axis));
    }
  }
  std::vector<Experiment> experiments;
  std::vector<size_t> index(axes.size(), 0);  // the current point, an odometer over the axes
  while (true) {
    std::vector<std::string> point;
    for (size_t a = 0; a < axes.size(); ++a) {
      // Assigning the element makes the key's value that node, line included.
      root[axes[a].key] = axes[a].values[index[a]];
      point.push_back(absl::StrCat(axes[a].key, "=", ValueText(axes[a].values[index[a]])));
    }
    absl::StatusOr<Experiment> e = ParseExperimentDocument(root, source, default_name);
    if (!e.ok()) {
      if (point.empty()) return e.status();
      return absl::Status(e.status().code(), absl::StrCat(e.status().message(), " (sweep point ",
                                                          absl::StrJoin(point, " "), ")"));
    }
    experiments.push_back(*std::move(e));
    // The last axis varies fastest.
    size_t a = axes.size();
    while (a > 0 && ++index[a - 1] == axes[a - 1].values.size()) index[--a] = 0;
    if (a == 0) break;
  }
  return experiments;
}

absl::StatusOr<std::vector<Experiment>> LoadExperimentSweep(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path, "experiment"));
  const YamlReader reader{path};
  ASSIGN_OR_RETURN(YAML::Node root, reader.Load(text));
  return ParseExperimentSweep(root, path, std::filesystem::path(path).stem().string());
}

}  // namespace kvbench
