#include "policies/spec_text.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kvbench {

absl::StatusOr<std::pair<std::string, ParamMap>> ParseNamedParams(const std::string& text) {
  std::string t(absl::StripAsciiWhitespace(text));
  std::string name = t, rest;
  if (const size_t open = t.find('('); open != std::string::npos) {
    if (t.back() != ')')
      return absl::InvalidArgumentError(absl::StrCat("'", text, "': missing ')'"));
    name = t.substr(0, open);
    rest = t.substr(open + 1, t.size() - open - 2);
  } else if (const size_t colon = t.find(':'); colon != std::string::npos) {
    name = t.substr(0, colon);
    rest = t.substr(colon + 1);
  }
  name = std::string(absl::StripAsciiWhitespace(name));
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("'", text, "': no name"));
  ParamMap params;
  for (absl::string_view part : absl::StrSplit(rest, ',', absl::SkipWhitespace())) {
    const size_t eq = part.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "': parameter '", std::string(part), "' is not key=value"));
    }
    params[std::string(absl::StripAsciiWhitespace(part.substr(0, eq)))] =
        std::string(absl::StripAsciiWhitespace(part.substr(eq + 1)));
  }
  return std::make_pair(name, params);
}

}  // namespace kvbench
