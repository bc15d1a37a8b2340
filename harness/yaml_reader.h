// YamlReader: typed access to a parsed YAML document with "<source>:<line>: " in every error.
//
// The experiment, prefix sweep and gate rule files all report problems as
//   exp.yaml:6: 'threads' must be an integer, got 'many'
// (the line is 1-based; a node without a position, e.g. one built in code, gives "exp.yaml: ...").
// All errors are absl::InvalidArgumentError. The reader only formats and checks; it holds no
// document, so one reader serves every node of a file.

#ifndef KVBENCH_HARNESS_YAML_READER_H_
#define KVBENCH_HARNESS_YAML_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {

class YamlReader {
 public:
  // `source` names the document in messages (usually its path).
  explicit YamlReader(std::string source) : source_(std::move(source)) {}

  const std::string& source() const { return source_; }

  // Parses `text`; a syntax error becomes "<source>:<line>: <yaml-cpp's message>", and a key given
  // twice in one mapping is an error (CheckNoDuplicateKeys).
  absl::StatusOr<YAML::Node> Load(absl::string_view text) const;

  // A syntax error yaml-cpp threw while parsing `text`, as "<source>:<line>: <prefix><message>".
  // One of yaml-cpp's messages misleads: YAML limits an implicit key to 1024 characters, and
  // yaml-cpp reports a longer one as "illegal map value" (block) or "end of map flow not found"
  // (flow), pointing past the key. When `text` holds such a key, the error says so at its line.
  absl::Status SyntaxError(absl::string_view text, const YAML::Exception& ex,
                           absl::string_view prefix = "") const;

  // yaml-cpp keeps both entries of a repeated key and lookups see only the first, so a second
  // `output:` or `budget:` would be silently ignored: "<source>:<line>: key 'output' appears twice
  // in one mapping (first at line N)", for every mapping of the document.
  absl::Status CheckNoDuplicateKeys(const YAML::Node& node) const;

  // "<source>:<line>: <message>", or "<source>: <message>" when the position is unknown.
  absl::Status Error(const YAML::Node& at, absl::string_view message) const;
  absl::Status Error(const YAML::Mark& mark, absl::string_view message) const;

  // Checks that `map` is a mapping whose keys are all in `valid`; `where` names it in messages
  // ("unknown key 'x' in dataset; valid: path, format").
  absl::Status CheckKeys(const YAML::Node& map, absl::string_view where,
                         const std::vector<std::string>& valid) const;

  // The value of `key` read from `node`; `key` only names it in messages.
  absl::StatusOr<std::string> String(const YAML::Node& node, absl::string_view key) const;
  // An integer in [min, max].
  absl::StatusOr<int64_t> Int(const YAML::Node& node, absl::string_view key, int64_t min,
                              int64_t max) const;
  absl::StatusOr<double> Double(const YAML::Node& node, absl::string_view key) const;
  // Anything absl::SimpleAtob accepts (true/false, yes/no, 1/0, ...).
  absl::StatusOr<bool> Bool(const YAML::Node& node, absl::string_view key) const;
  // A scalar or a non-empty list of scalars: the values of one sweep axis.
  absl::StatusOr<std::vector<std::string>> Values(const YAML::Node& node,
                                                  absl::string_view key) const;

 private:
  std::string source_;
};

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_YAML_READER_H_
