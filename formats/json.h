// JSON documents (tokenizer.json, config.json, safetensors headers and indexes, JSONL datasets and
// traces, token-id files) parsed by nlohmann-json into a `Json` value.
//
// Parsing is strict, because every input is a file someone else wrote: exactly one object or
// array, nothing after it but whitespace, UTF-8 strings, at most `max_depth` levels of nesting, and
// no key twice in one object (JSON leaves repeated keys to the reader; Python keeps the last,
// others the first, so reading either would silently disagree with someone). Every problem is an
// InvalidArgument status naming the source, never an exception.
//
// A Json keeps an object's members sorted by key, not in file order. Read it with the helpers
// below or with nlohmann's is_*() tests before get_ref/get: at(), get<T>() of the wrong type and a
// const operator[] of a missing key throw or assert.
#ifndef KVBENCH_FORMATS_JSON_H_
#define KVBENCH_FORMATS_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace kvbench {

using Json = nlohmann::json;

// Parses one JSON object or array from `text`. `source_name` (a path or a description) prefixes
// every error message; syntax errors give the 1-based line and column.
absl::StatusOr<Json> ParseJson(std::string_view text,
                               std::string_view source_name = "<json string>", int max_depth = 64);

// Reads (ReadFile's errors: NotFound, DataLoss, ...) and parses the file at `path`.
absl::StatusOr<Json> ParseJsonFile(const std::string& path);

// One record of a JSON Lines text.
struct JsonLine {
  int line;  // 1-based
  Json value;
};

// The records of a JSON Lines text, one object or array per line; blank lines are skipped. A
// malformed line is DataLoss naming "<source_name>:<line>".
absl::StatusOr<std::vector<JsonLine>> ParseJsonLines(std::string_view text,
                                                     std::string_view source_name);

// The member `key` of `object`; nullptr when `object` is not an object or has no such member.
const Json* JsonMember(const Json& object, std::string_view key);

// `value` as T when it is a JSON integer that T holds; nullopt for anything else (1.5, 1.0, "1",
// true, or an integer out of T's range).
template <typename T>
std::optional<T> JsonInteger(const Json& value) {
  if (value.is_number_unsigned()) {
    const uint64_t v = value.get<uint64_t>();
    if (std::in_range<T>(v)) return static_cast<T>(v);
  } else if (value.is_number_integer()) {
    const int64_t v = value.get<int64_t>();
    if (std::in_range<T>(v)) return static_cast<T>(v);
  }
  return std::nullopt;
}

// `value` as an error message shows it: a string's text, a number or literal as JSON, "a list" or
// "an object".
std::string JsonShow(const Json& value);

}  // namespace kvbench

#endif  // KVBENCH_FORMATS_JSON_H_
