#include "policies/spec_text.h"

#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status.h"

namespace kvbench {

std::vector<std::string> SplitSpecList(absl::string_view text, char separator) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string current;
  auto flush = [&] {
    const absl::string_view part = absl::StripAsciiWhitespace(current);
    if (!part.empty()) parts.emplace_back(part);
    current.clear();
  };
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')' && depth > 0) --depth;
    if (c == separator && depth == 0) {
      flush();
    } else {
      current.push_back(c);
    }
  }
  flush();
  return parts;
}

absl::StatusOr<SpecParts> SplitSpec(absl::string_view text) {
  const absl::string_view t = absl::StripAsciiWhitespace(text);
  SpecParts out;
  absl::string_view rest;
  if (const size_t open = t.find('('); open != absl::string_view::npos) {
    const size_t close = t.rfind(')');
    if (close == absl::string_view::npos || close < open) {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "': missing ')'"));
    }
    if (close + 1 != t.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "': unexpected '", t.substr(close + 1), "' after ')'"));
    }
    out.name = std::string(absl::StripAsciiWhitespace(t.substr(0, open)));
    rest = t.substr(open + 1, close - open - 1);
  } else if (const size_t colon = t.find(':'); colon != absl::string_view::npos) {
    out.name = std::string(absl::StripAsciiWhitespace(t.substr(0, colon)));
    rest = t.substr(colon + 1);
  } else {
    out.name = std::string(t);
  }
  if (out.name.empty()) return absl::InvalidArgumentError(absl::StrCat("'", text, "': no name"));
  for (absl::string_view item :
       absl::StrSplit(rest, absl::ByAnyChar(",;"), absl::SkipWhitespace())) {
    out.items.emplace_back(absl::StripAsciiWhitespace(item));
  }
  return out;
}

absl::StatusOr<std::pair<std::string, ParamMap>> ParseNamedParams(const std::string& text) {
  ASSIGN_OR_RETURN(const SpecParts parts, SplitSpec(text));
  ParamMap params;
  for (const std::string& item : parts.items) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "': parameter '", item, "' is not key=value"));
    }
    const std::string key(absl::StripAsciiWhitespace(item.substr(0, eq)));
    if (!params.emplace(key, std::string(absl::StripAsciiWhitespace(item.substr(eq + 1)))).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "': parameter '", key, "' is given twice"));
    }
  }
  return std::make_pair(parts.name, params);
}

absl::StatusOr<std::pair<std::string, CacheSpec>> SplitCacheSpec(absl::string_view text,
                                                                 const std::string& k_store,
                                                                 const std::string& v_store) {
  std::vector<std::string> words = SplitSpecList(text, ' ');
  // Trailing "k=..." / "v=..." words are the stores; the rest is the policy (blanks allowed).
  std::string k = k_store, v = v_store;
  bool k_given = false, v_given = false;
  while (words.size() > 1 &&
         (absl::StartsWith(words.back(), "k=") || absl::StartsWith(words.back(), "v="))) {
    const bool is_k = words.back()[0] == 'k';
    bool& given = is_k ? k_given : v_given;
    if (given) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "': ", is_k ? "k" : "v", "= is given twice"));
    }
    given = true;
    (is_k ? k : v) = words.back().substr(2);
    words.pop_back();
  }
  if (words.empty()) return absl::InvalidArgumentError("empty cache spec");
  CacheSpec spec;
  ASSIGN_OR_RETURN(std::tie(spec.k_store, spec.k_params), ParseNamedParams(k));
  ASSIGN_OR_RETURN(std::tie(spec.v_store, spec.v_params), ParseNamedParams(v));
  return std::make_pair(absl::StrJoin(words, " "), spec);
}

absl::StatusOr<CacheSpec> ParseCacheSpec(absl::string_view text, const std::string& k_store,
                                         const std::string& v_store) {
  ASSIGN_OR_RETURN(auto split, SplitCacheSpec(text, k_store, v_store));
  CacheSpec& spec = split.second;
  ASSIGN_OR_RETURN(std::tie(spec.policy, spec.policy_params), ParseNamedParams(split.first));
  return spec;
}

}  // namespace kvbench
