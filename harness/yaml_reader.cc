#include "harness/yaml_reader.h"

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"

namespace kvbench {
namespace {

// YAML 1.2 (section 7.4.2) and yaml-cpp: an implicit key spans at most 1024 characters.
constexpr size_t kMaxImplicitKeyChars = 1024;

struct LongKey {
  int line;  // 0-based, as YAML::Mark
  size_t length;
  absl::string_view head;
};

// The first implicit key of `text` longer than YAML allows: the text before a ':' that ends a key
// (followed by a space, a line end, or anything inside a flow collection, where "k":1 is JSON),
// counted from the line's indentation and "- " markers or from the last '{', '[' or ','. A rough
// scan (quotes and comments are not followed), so it only explains a parse that already failed.
std::optional<LongKey> FindLongImplicitKey(absl::string_view text) {
  int line = 0;
  size_t start = 0;  // where the current key would begin
  bool at_line_start = true;
  int flow_depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (at_line_start && (c == ' ' || c == '\t' || c == '-')) {
      start = i + 1;
      continue;
    }
    at_line_start = false;
    if (c == '\n') {
      ++line;
      start = i + 1;
      at_line_start = true;
    } else if (c == '{' || c == '[' || c == ',') {
      if (c != ',') ++flow_depth;
      start = i + 1;
    } else if (c == '}' || c == ']') {
      if (flow_depth > 0) --flow_depth;
      start = i + 1;
    } else if (c == ':') {
      const bool ends_key = flow_depth > 0 || i + 1 == text.size() || text[i + 1] == ' ' ||
                            text[i + 1] == '\t' || text[i + 1] == '\n' || text[i + 1] == '\r';
      if (!ends_key) continue;
      const absl::string_view key = absl::StripAsciiWhitespace(text.substr(start, i - start));
      if (key.size() > kMaxImplicitKeyChars) return LongKey{line, key.size(), key.substr(0, 20)};
      start = i + 1;
    }
  }
  return std::nullopt;
}

}  // namespace

absl::Status YamlReader::SyntaxError(absl::string_view text, const YAML::Exception& ex,
                                     absl::string_view prefix) const {
  if (const std::optional<LongKey> key = FindLongImplicitKey(text); key.has_value()) {
    YAML::Mark mark;
    mark.line = key->line;
    return Error(mark, absl::StrCat(prefix, "a key of ", key->length, " characters ('", key->head,
                                    "...'): YAML allows at most ", kMaxImplicitKeyChars,
                                    " (and no kvbench key is that long)"));
  }
  return Error(ex.mark, absl::StrCat(prefix, ex.msg));
}

absl::StatusOr<YAML::Node> YamlReader::Load(absl::string_view text) const {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& ex) {
    return SyntaxError(text, ex);
  }
  RETURN_IF_ERROR(CheckNoDuplicateKeys(root));
  return root;
}

absl::Status YamlReader::CheckNoDuplicateKeys(const YAML::Node& node) const {
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) RETURN_IF_ERROR(CheckNoDuplicateKeys(item));
    return absl::OkStatus();
  }
  if (!node.IsMap()) return absl::OkStatus();
  absl::flat_hash_map<std::string, int> first_line;
  for (const auto& kv : node) {
    if (kv.first.IsScalar()) {
      const auto [it, inserted] = first_line.emplace(kv.first.Scalar(), kv.first.Mark().line + 1);
      if (!inserted) {
        return Error(kv.first, absl::StrCat("key '", kv.first.Scalar(),
                                            "' appears twice in one mapping (first at line ",
                                            it->second, ")"));
      }
    }
    RETURN_IF_ERROR(CheckNoDuplicateKeys(kv.second));
  }
  return absl::OkStatus();
}

absl::Status YamlReader::Error(const YAML::Node& at, absl::string_view message) const {
  return Error(at.Mark(), message);
}

absl::Status YamlReader::Error(const YAML::Mark& mark, absl::string_view message) const {
  if (mark.line < 0) return absl::InvalidArgumentError(absl::StrCat(source_, ": ", message));
  return absl::InvalidArgumentError(absl::StrCat(source_, ":", mark.line + 1, ": ", message));
}

absl::Status YamlReader::CheckKeys(const YAML::Node& map, absl::string_view where,
                                   const std::vector<std::string>& valid) const {
  if (!map.IsMap()) return Error(map, absl::StrCat(where, " must be a mapping of key: value"));
  for (auto it = map.begin(); it != map.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
      return Error(it->first, absl::StrCat("unknown key '", key, "' in ", where,
                                           "; valid: ", absl::StrJoin(valid, ", ")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> YamlReader::String(const YAML::Node& node,
                                               absl::string_view key) const {
  if (!node.IsScalar()) return Error(node, absl::StrCat("'", key, "' must be a single value"));
  return node.Scalar();
}

absl::StatusOr<int64_t> YamlReader::Int(const YAML::Node& node, absl::string_view key, int64_t min,
                                        int64_t max) const {
  if (!node.IsScalar()) return Error(node, absl::StrCat("'", key, "' must be an integer"));
  int64_t v;
  if (!absl::SimpleAtoi(node.Scalar(), &v)) {
    return Error(node, absl::StrCat("'", key, "' must be an integer, got '", node.Scalar(), "'"));
  }
  if (v < min || v > max) {
    return Error(node,
                 absl::StrCat("'", key, "' = ", v, " is out of range [", min, ", ", max, "]"));
  }
  return v;
}

absl::StatusOr<double> YamlReader::Double(const YAML::Node& node, absl::string_view key) const {
  double v = 0;
  if (!node.IsScalar() || !absl::SimpleAtod(node.Scalar(), &v)) {
    return Error(node, absl::StrCat("'", key, "' must be a number"));
  }
  return v;
}

absl::StatusOr<bool> YamlReader::Bool(const YAML::Node& node, absl::string_view key) const {
  bool v;
  if (!node.IsScalar() || !absl::SimpleAtob(node.Scalar(), &v)) {
    return Error(node, absl::StrCat("'", key, "' must be true or false"));
  }
  return v;
}

absl::StatusOr<std::vector<std::string>> YamlReader::Values(const YAML::Node& node,
                                                            absl::string_view key) const {
  if (node.IsScalar()) return std::vector<std::string>{node.Scalar()};
  if (node.IsSequence()) {
    if (node.size() == 0) {
      return Error(node, absl::StrCat("'", key, "' is an empty list: nothing to sweep"));
    }
    std::vector<std::string> values;
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) {
        return Error(item, absl::StrCat("'", key, "' list items must be single values"));
      }
      values.push_back(item.Scalar());
    }
    return values;
  }
  return Error(node, absl::StrCat("'", key, "' must be a value or a list of values"));
}

}  // namespace kvbench
