#include "harness/yaml_overrides.h"

#include <cctype>
#include <cstddef>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/status.h"
#include "formats/read_file.h"
#include "harness/yaml_reader.h"

namespace kvbench {
namespace {

// A copy built in code: its nodes carry no position, so an error on them is not attributed to a
// line of the file that never held them.
YAML::Node Unmarked(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return YAML::Node(node.Scalar());
    case YAML::NodeType::Sequence: {
      YAML::Node out(YAML::NodeType::Sequence);
      for (const YAML::Node& item : node) out.push_back(Unmarked(item));
      return out;
    }
    case YAML::NodeType::Map: {
      YAML::Node out(YAML::NodeType::Map);
      for (const auto& kv : node) out[Unmarked(kv.first)] = Unmarked(kv.second);
      return out;
    }
    default:
      return YAML::Node(YAML::NodeType::Null);
  }
}

absl::StatusOr<size_t> ListIndex(const YamlOverride& o, const std::string& part,
                                 const YAML::Node& list) {
  size_t index = 0;
  if (!absl::SimpleAtoi(part, &index) || index >= list.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", o.Text(), ": '", part, "' is not a position of a list of ",
                     list.size(), " (0..", list.size() == 0 ? 0 : list.size() - 1, ")"));
  }
  return index;
}

absl::Status Apply(const YamlOverride& o, YAML::Node& root) {
  YAML::Node value;
  try {
    value = Unmarked(YAML::Load(o.value));
  } catch (const YAML::Exception& ex) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", o.Text(), ": the value is not YAML: ", ex.msg));
  }
  const std::vector<std::string> parts = absl::StrSplit(o.key, '.');
  YAML::Node at = root;  // a handle: reset() moves it, assignment would write through it
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    const bool last = i + 1 == parts.size();
    if (at.IsSequence()) {
      ASSIGN_OR_RETURN(const size_t index, ListIndex(o, part, at));
      if (last) {
        at[index] = value;
      } else {
        at.reset(at[index]);
      }
      continue;
    }
    if (at.IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--set ", o.Text(), ": '", absl::StrJoin(parts.begin(), parts.begin() + i, "."),
          "' is a value (", at.Scalar(), "), not a mapping with '", part, "'"));
    }
    if (last) {
      at[part] = value;
    } else {
      if (!at[part]) at[part] = YAML::Node(YAML::NodeType::Map);
      at.reset(at[part]);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<YamlOverride> ParseOverride(absl::string_view text) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set '", text, "' is not key=value (e.g. --set context_tokens=512)"));
  }
  YamlOverride o{.key = std::string(absl::StripAsciiWhitespace(text.substr(0, eq))),
                 .value = std::string(absl::StripAsciiWhitespace(text.substr(eq + 1)))};
  for (absl::string_view part : absl::StrSplit(o.key, '.')) {
    if (part.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--set '", text,
                       "': the key needs a name before '=' and between dots (e.g. dataset.path)"));
    }
  }
  return o;
}

absl::StatusOr<std::vector<YamlOverride>> ParseOverrides(const std::vector<std::string>& texts) {
  std::vector<YamlOverride> out;
  for (const std::string& t : texts) {
    ASSIGN_OR_RETURN(YamlOverride o, ParseOverride(t));
    out.push_back(std::move(o));
  }
  return out;
}

absl::Status ApplyOverrides(const std::vector<YamlOverride>& overrides, YAML::Node& root) {
  if (overrides.empty()) return absl::OkStatus();
  if (!root.IsMap() && !root.IsNull()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", overrides.front().Text(), ": the document is not a mapping"));
  }
  for (const YamlOverride& o : overrides) RETURN_IF_ERROR(Apply(o, root));
  return absl::OkStatus();
}

absl::StatusOr<YAML::Node> LoadYamlWithOverrides(const std::string& path,
                                                 const std::vector<YamlOverride>& overrides) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path, "experiment"));
  const YamlReader reader{path};
  ASSIGN_OR_RETURN(YAML::Node root, reader.Load(text));
  RETURN_IF_ERROR(ApplyOverrides(overrides, root));
  return root;
}

absl::Status AnnotateOverrides(const absl::Status& status, absl::string_view source,
                               const std::vector<YamlOverride>& overrides) {
  if (status.ok() || overrides.empty()) return status;
  absl::string_view message = status.message();
  // "exp.yaml:12: ..." came from the file itself.
  if (absl::ConsumePrefix(&message, source) && absl::ConsumePrefix(&message, ":") &&
      !message.empty() && std::isdigit(static_cast<unsigned char>(message.front()))) {
    return status;
  }
  // By the key the message names; failing that by the value (short values match by chance).
  std::vector<std::string> named;
  for (const YamlOverride& o : overrides) {
    const std::vector<std::string> parts = absl::StrSplit(o.key, '.');
    if (absl::StrContains(status.message(), absl::StrCat("'", parts.back(), "'")) ||
        absl::StrContains(status.message(), absl::StrCat(parts.back(), " ("))) {
      named.push_back(absl::StrCat("--set ", o.Text()));
    }
  }
  for (const YamlOverride& o : overrides) {
    if (named.empty() && !o.value.empty() && absl::StrContains(status.message(), o.value)) {
      named.push_back(absl::StrCat("--set ", o.Text()));
    }
  }
  if (named.empty()) {
    for (const YamlOverride& o : overrides) named.push_back(absl::StrCat("--set ", o.Text()));
  }
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), " (from ", absl::StrJoin(named, ", "), ")"));
}

}  // namespace kvbench
