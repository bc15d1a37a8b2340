#include "harness/niah_spec.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "base/status.h"

namespace kvbench {
namespace {

std::string Where(const YamlReader& p, const YAML::Node& node) {
  return absl::StrCat(p.source(), ":", node.Mark().line + 1);
}

// The items of a scalar or a non-empty list, each with its own line for errors.
absl::StatusOr<std::vector<YAML::Node>> Items(const YamlReader& p, const YAML::Node& node,
                                              const std::string& key) {
  if (node.IsScalar()) return std::vector<YAML::Node>{node};
  if (!node.IsSequence() || node.size() == 0) {
    return p.Error(node, absl::StrCat(key, " must be a value or a non-empty list"));
  }
  return std::vector<YAML::Node>(node.begin(), node.end());
}

// A scalar or a non-empty list of distinct integers in [min, max].
absl::StatusOr<std::vector<int>> IntList(const YamlReader& p, const YAML::Node& node,
                                         const std::string& key, int min, int max) {
  ASSIGN_OR_RETURN(const std::vector<YAML::Node> items, Items(p, node, key));
  std::vector<int> out;
  std::set<int> seen;
  for (const YAML::Node& item : items) {
    ASSIGN_OR_RETURN(const int64_t x, p.Int(item, key, min, max));
    if (!seen.insert(static_cast<int>(x)).second) {
      return p.Error(item, absl::StrCat(key, " lists ", x, " twice"));
    }
    out.push_back(static_cast<int>(x));
  }
  return out;
}

}  // namespace

absl::StatusOr<NiahTask> ParseNiahTask(const YamlReader& p, const YAML::Node& node) {
  RETURN_IF_ERROR(p.CheckKeys(node, "task",
                              {"name", "lengths", "depths", "needles", "samples", "seed", "words",
                               "answer_tokens", "query_aware", "cases"}));
  NiahTask t;
  t.where = Where(p, node);
  if (node["cases"]) {
    for (const char* key : {"lengths", "depths", "needles", "samples", "seed", "words"}) {
      if (node[key]) {
        return p.Error(node[key], absl::StrCat("task.", key, " does not apply with task.cases: ",
                                               "the cases file fixes them"));
      }
    }
    ASSIGN_OR_RETURN(t.cases, p.String(node["cases"], "task.cases"));
    if (t.cases.empty()) return p.Error(node["cases"], "task.cases is empty");
  } else {
    if (!node["lengths"]) return p.Error(node, "task niah needs `lengths` (or `cases`)");
    if (!node["depths"]) return p.Error(node, "task niah needs `depths` (or `cases`)");
    t.lengths_where = Where(p, node["lengths"]);
    ASSIGN_OR_RETURN(t.grid.lengths, IntList(p, node["lengths"], "task.lengths", 16, 1 << 20));
    ASSIGN_OR_RETURN(const std::vector<YAML::Node> depths, Items(p, node["depths"], "task.depths"));
    std::set<double> seen;
    for (const YAML::Node& item : depths) {
      ASSIGN_OR_RETURN(const double depth, p.Double(item, "task.depths"));
      if (!(depth >= 0 && depth <= 1)) {
        return p.Error(item, absl::StrCat("task.depths: ", item.Scalar(),
                                          " is outside [0, 1] (0 = the first line of the "
                                          "context, 1 = the last)"));
      }
      if (!seen.insert(depth).second) {
        return p.Error(item, absl::StrCat("task.depths lists ", item.Scalar(), " twice"));
      }
      t.grid.depths.push_back(depth);
    }
    if (node["needles"]) {
      ASSIGN_OR_RETURN(t.grid.needles, IntList(p, node["needles"], "task.needles", 1, 64));
    }
    if (node["samples"]) {
      ASSIGN_OR_RETURN(const int64_t s, p.Int(node["samples"], "task.samples", 1, 100000));
      t.grid.samples = static_cast<int>(s);
    }
    if (node["seed"]) {
      ASSIGN_OR_RETURN(const int64_t s, p.Int(node["seed"], "task.seed", 0, INT64_MAX));
      t.grid.seed = static_cast<uint64_t>(s);
      t.seed_given = true;
    }
    if (node["words"]) {
      ASSIGN_OR_RETURN(t.words, p.String(node["words"], "task.words"));
      if (t.words.empty()) return p.Error(node["words"], "task.words is empty");
    }
  }
  if (node["answer_tokens"]) {
    ASSIGN_OR_RETURN(const int64_t a, p.Int(node["answer_tokens"], "task.answer_tokens", 1, 256));
    t.grid.answer_tokens = static_cast<int>(a);
  }
  if (node["query_aware"]) {
    ASSIGN_OR_RETURN(t.query_aware, p.Bool(node["query_aware"], "task.query_aware"));
  }
  return t;
}

}  // namespace kvbench
