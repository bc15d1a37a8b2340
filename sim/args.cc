#include "sim/args.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace kvbench {

absl::StatusOr<Args> Args::Parse(int argc, char** argv, const std::vector<ArgSpec>& specs) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() < 2 || a[0] != '-' || a == "-") {
      args.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      for (++i; i < argc; ++i) args.positional_.push_back(argv[i]);
      break;
    }
    a = a.substr(a[1] == '-' ? 2 : 1);
    std::string name = a, value;
    bool has_value = false;
    if (const size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    std::replace(name.begin(), name.end(), '-', '_');
    auto spec =
        std::find_if(specs.begin(), specs.end(), [&](const ArgSpec& s) { return s.name == name; });
    if (spec == specs.end()) {
      std::vector<std::string> names;
      for (const ArgSpec& s : specs) names.push_back(absl::StrCat("--", s.name));
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '", argv[i], "'; valid: ", absl::StrJoin(names, ", ")));
    }
    if (spec->boolean) {
      if (!has_value) value = "true";
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, "=", value, ": expected true or false"));
      }
    } else if (!has_value) {
      if (i + 1 >= argc)
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = argv[++i];
    }
    args.values_[name] = value;
  }
  return args;
}

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<int64_t> Args::GetInt(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  int64_t v = 0;
  if (!absl::SimpleAtoi(it->second, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " ", it->second, " is not an integer"));
  }
  return v;
}

absl::StatusOr<double> Args::GetDouble(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  double v = 0;
  if (!absl::SimpleAtod(it->second, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " ", it->second, " is not a number"));
  }
  return v;
}

bool Args::GetBool(const std::string& name) const { return Get(name, "false") == "true"; }

std::string Args::Usage(const std::vector<ArgSpec>& specs) {
  std::string out;
  for (const ArgSpec& s : specs) {
    absl::StrAppendFormat(&out, "  --%-20s %s\n", s.boolean ? s.name : s.name + " V", s.help);
  }
  return out;
}

}  // namespace kvbench
