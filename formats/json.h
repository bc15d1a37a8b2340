// JSON parsing through yaml-cpp. The project carries no JSON library; YAML 1.2 is a superset of
// JSON, so yaml-cpp reads tokenizer.json, config.json and safetensors headers. Two gaps are closed
// here: yaml-cpp rejects UTF-16 surrogate-pair escapes ("\ud83d\ude00"), so they are rewritten to
// UTF-8 before parsing, and it would silently read text after the value as a second document, which
// is reported as an error instead.
//
// The result is a YAML::Node: objects are maps, arrays are sequences, and every other value is a
// scalar whose text is the JSON literal (numbers as written, strings unescaped). `null` gives a
// null node. JsonIsString() tells a JSON string "1" from the number 1. yaml-cpp is more lenient
// than JSON (e.g. a trailing comma in an object is accepted); the helpers do not tighten that.
#ifndef KVBENCH_FORMATS_JSON_H_
#define KVBENCH_FORMATS_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {

// Parses one JSON value (object or array at the top level) from `text`. `source_name` (a path or
// a description) prefixes every error message. Errors are InvalidArgument with the 1-based line
// and column reported by yaml-cpp.
// The text is first checked to be strict JSON (one value, nothing after it, UTF-8 strings, at most
// `max_depth` levels of nesting), because yaml-cpp hangs or recurses without bound on some inputs
// that are not JSON.
absl::StatusOr<YAML::Node> ParseJson(std::string_view text,
                                     std::string_view source_name = "<json string>",
                                     int max_depth = 64);

// Reads and parses the file at `path`: NotFound if it does not exist, PermissionDenied or
// DataLoss if it cannot be read, InvalidArgument for malformed JSON (with path, line and column).
absl::StatusOr<YAML::Node> ParseJsonFile(const std::string& path);

// True when `node` came from a JSON string literal (quoted), false for numbers, true/false, null,
// objects and arrays.
bool JsonIsString(const YAML::Node& node);

}  // namespace kvbench

#endif  // KVBENCH_FORMATS_JSON_H_
