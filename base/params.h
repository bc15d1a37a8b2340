// Named parameters of policies and stores, as the registry declares them and as users give them
// (YAML or the command line, always as strings first). Parsing checks names and types against the
// declared specs, so a typo is an error that lists what is valid, never a silently ignored key.
#ifndef KVBENCH_BASE_PARAMS_H_
#define KVBENCH_BASE_PARAMS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kvbench {

enum class ParamType {
  kInt,     // integer
  kFloat,   // real number
  kString,  // one of `choices` when given
  kBool,
  kBudget,  // token count ("64") or ratio of the context ("0.25", "25%")
};

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kInt;
  std::string default_value;  // as text; empty = required
  std::string help;
  std::vector<std::string> choices;  // for kString, empty = any
};

// User-given values by name. std::map keeps them sorted, so names and hashes are canonical.
using ParamMap = std::map<std::string, std::string>;

// Values checked against specs, with defaults filled in.
class Params {
 public:
  // Fails on an unknown name (listing valid ones), a malformed value or a missing required one.
  static absl::StatusOr<Params> Parse(std::string_view owner, const std::vector<ParamSpec>& specs,
                                      const ParamMap& given);

  int GetInt(std::string_view name) const;
  double GetFloat(std::string_view name) const;
  const std::string& GetString(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  // A budget in tokens: a ratio r becomes round(r * context_tokens), at least 1.
  int GetBudget(std::string_view name, int context_tokens) const;

  // "name=value,..." over every parameter (defaults included), sorted: the canonical spelling used
  // in CSV rows and benchmark names.
  std::string ToString() const;
  const ParamMap& values() const { return values_; }

 private:
  std::string owner_;
  ParamMap values_;
};

}  // namespace kvbench

#endif  // KVBENCH_BASE_PARAMS_H_
