// Command-line arguments of the simulation commands (trace, simulate, plan): `--name value`,
// `--name=value` and boolean `--name`, with '-' and '_' interchangeable in names (`--k-store` ==
// `--k_store`), plus positional arguments. Kept apart from absl flags, whose names are global to
// the executable, so these commands cannot collide with flags other commands define.
#ifndef KVBENCH_SIM_ARGS_H_
#define KVBENCH_SIM_ARGS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kvbench {

struct ArgSpec {
  std::string name;  // with underscores
  bool boolean = false;
  std::string help;
};

class Args {
 public:
  // Parses argv[1..argc). InvalidArgument for an unknown flag (listing the valid ones) or a flag
  // that needs a value and has none.
  static absl::StatusOr<Args> Parse(int argc, char** argv, const std::vector<ArgSpec>& specs);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // InvalidArgument naming the flag when the value is not an integer / number.
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t fallback) const;
  absl::StatusOr<double> GetDouble(const std::string& name, double fallback) const;
  bool GetBool(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  // "  --name  help" lines for a usage message.
  static std::string Usage(const std::vector<ArgSpec>& specs);

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace kvbench

#endif  // KVBENCH_SIM_ARGS_H_
