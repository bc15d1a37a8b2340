#include "base/params.h"

#include <cmath>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/check.h"

namespace kvbench {
namespace {

absl::Status CheckValue(std::string_view owner, const ParamSpec& spec, const std::string& value) {
  auto bad = [&](const std::string& expected) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(owner), ": parameter '", spec.name,
                                                   "' = '", value, "' is not ", expected));
  };
  switch (spec.type) {
    case ParamType::kInt: {
      // Parsed as the type GetInt returns, so a value beyond int is an error here instead of a
      // failed check (and an aborted sweep) when the policy is built.
      int v;
      if (!absl::SimpleAtoi(value, &v)) {
        return bad(absl::StrCat("an integer between ", std::numeric_limits<int>::min(), " and ",
                                std::numeric_limits<int>::max()));
      }
      return absl::OkStatus();
    }
    case ParamType::kFloat: {
      double v;
      if (!absl::SimpleAtod(value, &v) || !std::isfinite(v)) return bad("a number");
      return absl::OkStatus();
    }
    case ParamType::kBool: {
      bool v;
      if (!absl::SimpleAtob(value, &v)) return bad("true or false");
      return absl::OkStatus();
    }
    case ParamType::kString:
      if (!spec.choices.empty() &&
          std::find(spec.choices.begin(), spec.choices.end(), value) == spec.choices.end()) {
        return bad(absl::StrCat("one of ", absl::StrJoin(spec.choices, ", ")));
      }
      return absl::OkStatus();
    case ParamType::kBudget: {
      absl::string_view text = value;
      const bool percent = absl::ConsumeSuffix(&text, "%");
      double v;
      if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
        return bad("a token count (64) or a ratio of the context (0.25 or 25%)");
      }
      if (v <= 0) return bad("positive: a budget must keep at least one token");
      const bool is_ratio = percent || absl::StrContains(text, ".");
      if (is_ratio && (percent ? v / 100 : v) > 1.0) {
        return bad(percent ? std::string("a percentage <= 100%")
                           : absl::StrCat("a ratio <= 1 (a number with a '.' is a ratio of the "
                                          "context; write a token count without one)"));
      }
      if (!is_ratio && v != std::floor(v)) return bad("a whole number of tokens");
      // A token count must be exactly representable as int: 1e30 or 3000000000 tokens would
      // otherwise be narrowed (undefined behaviour) into a nonsense budget.
      if (!is_ratio && v > std::numeric_limits<int>::max()) {
        return bad(absl::StrCat("a token count of at most ", std::numeric_limits<int>::max()));
      }
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Params> Params::Parse(std::string_view owner, const std::vector<ParamSpec>& specs,
                                     const ParamMap& given) {
  Params p;
  p.owner_ = std::string(owner);
  for (const auto& [name, value] : given) {
    // A named reference for the lambda: clang 14 cannot capture a structured binding (C++20
    // allows it; GCC does).
    const std::string& key = name;
    auto it = std::find_if(specs.begin(), specs.end(),
                           [&key](const ParamSpec& s) { return s.name == key; });
    if (it == specs.end()) {
      std::vector<std::string> valid;
      for (const ParamSpec& s : specs) valid.push_back(s.name);
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(owner), ": unknown parameter '", name,
          "'; valid: ", valid.empty() ? std::string("(none)") : absl::StrJoin(valid, ", ")));
    }
    if (absl::Status s = CheckValue(owner, *it, value); !s.ok()) return s;
    p.values_[name] = value;
  }
  for (const ParamSpec& s : specs) {
    if (p.values_.count(s.name)) continue;
    if (s.default_value.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(owner), ": parameter '", s.name, "' is required"));
    }
    p.values_[s.name] = s.default_value;
  }
  return p;
}

namespace {
const std::string& Lookup(const ParamMap& values, std::string_view owner, std::string_view name) {
  auto it = values.find(std::string(name));
  KVBENCH_CHECK(it != values.end(), "%s has no parameter %s", std::string(owner).c_str(),
                std::string(name).c_str());
  return it->second;
}
}  // namespace

int Params::GetInt(std::string_view name) const {
  int v = 0;
  KVBENCH_CHECK(absl::SimpleAtoi(Lookup(values_, owner_, name), &v));
  return v;
}

double Params::GetFloat(std::string_view name) const {
  double v = 0;
  KVBENCH_CHECK(absl::SimpleAtod(Lookup(values_, owner_, name), &v));
  return v;
}

const std::string& Params::GetString(std::string_view name) const {
  return Lookup(values_, owner_, name);
}

bool Params::GetBool(std::string_view name) const {
  bool v = false;
  KVBENCH_CHECK(absl::SimpleAtob(Lookup(values_, owner_, name), &v));
  return v;
}

int Params::GetBudget(std::string_view name, int context_tokens) const {
  absl::string_view text = Lookup(values_, owner_, name);
  const bool percent = absl::ConsumeSuffix(&text, "%");
  double v = 0;
  KVBENCH_CHECK(absl::SimpleAtod(text, &v));
  if (percent || absl::StrContains(text, ".")) {
    const double ratio = percent ? v / 100.0 : v;  // in (0, 1]: Parse checked it
    return std::max(1, static_cast<int>(std::lround(ratio * context_tokens)));
  }
  KVBENCH_CHECK(v >= 1 && v <= std::numeric_limits<int>::max(), "budget %g out of range", v);
  return static_cast<int>(v);
}

std::string Params::ToString() const {
  return absl::StrJoin(values_, ",", absl::PairFormatter("="));
}

}  // namespace kvbench
