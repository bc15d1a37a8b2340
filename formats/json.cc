#include "formats/json.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "formats/read_file.h"

namespace kvbench {
namespace {

// This Abseil build has its own string_view type, which StrCat does not take from std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// 1-based line and column of byte `offset` in `text`.
std::string Position(std::string_view text, size_t offset) {
  int line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return absl::StrCat("line ", line, ", column ", column);
}

// Longer parser messages are cut: nlohmann quotes the token it was reading, which for an
// unterminated string is the rest of the file.
constexpr size_t kMaxDetailBytes = 200;

// Builds the Json tree from nlohmann's SAX events, refusing what the DOM parser would accept
// silently: a key repeated in one object (it would keep the last) and nesting deeper than
// `max_depth` (the tree's size is bounded by the file, its depth should be by the format).
class StrictJsonBuilder final : public nlohmann::json_sax<Json> {
 public:
  explicit StrictJsonBuilder(int max_depth) : max_depth_(max_depth) {}

  bool null() override { return Add(nullptr); }
  bool boolean(bool value) override { return Add(value); }
  bool number_integer(number_integer_t value) override { return Add(value); }
  bool number_unsigned(number_unsigned_t value) override { return Add(value); }
  bool number_float(number_float_t value, const string_t& /*text*/) override { return Add(value); }
  bool string(string_t& value) override { return Add(std::move(value)); }
  // Only the binary formats (CBOR, MessagePack, ...) produce this event, never JSON text.
  bool binary(binary_t& value) override { return Add(Json::binary(std::move(value))); }
  bool start_object(std::size_t /*elements*/) override { return Open(Json::object()); }
  bool key(string_t& key) override {
    if (open_.back()->contains(key)) {
      problem_ = absl::StrCat("key \"", key, "\" appears twice");
      return false;
    }
    key_ = std::move(key);
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t /*elements*/) override { return Open(Json::array()); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& error) override {
    error_position_ = position > 0 ? position - 1 : 0;  // the byte that stopped the parser
    if (complete_) {
      problem_ = "text after the JSON value";
      return false;
    }
    // "[json.exception.parse_error.101] parse error at line 1, column 4: <detail>"
    std::string_view detail = error.what();
    if (const size_t at = detail.find("parse error"); at != std::string_view::npos) {
      if (const size_t colon = detail.find(": ", at); colon != std::string_view::npos) {
        detail.remove_prefix(colon + 2);
      }
    }
    problem_ = absl::StrCat("malformed JSON: ", Sv(detail.substr(0, kMaxDetailBytes)),
                            detail.size() > kMaxDetailBytes ? "..." : "");
    return false;
  }

  Json& root() { return root_; }
  const std::string& problem() const { return problem_; }
  // Where a syntax error was found; npos for a repeated key or too deep nesting.
  size_t error_position() const { return error_position_; }

 private:
  // Stores `value` where the parser is (the root, the next element of the open array, or the
  // member named by the last key) and returns it. Elements stay put while they are open: a parent
  // does not grow until its open child is closed.
  Json* Place(Json&& value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    return &(parent[key_] = std::move(value));
  }
  bool Add(Json&& value) {
    Place(std::move(value));
    return true;
  }
  bool Open(Json&& container) {
    if (static_cast<int>(open_.size()) >= max_depth_) {
      problem_ =
          absl::StrCat("malformed JSON: nesting too deep (more than ", max_depth_, " levels)");
      return false;
    }
    open_.push_back(Place(std::move(container)));
    return true;
  }
  bool Close() {
    open_.pop_back();
    complete_ = open_.empty();
    return true;
  }

  const int max_depth_;
  Json root_;
  std::vector<Json*> open_;  // the open objects and arrays, outermost first
  std::string key_;          // the key of the next member of the innermost open object
  bool complete_ = false;    // the top-level value is closed
  std::string problem_;
  size_t error_position_ = std::string_view::npos;
};

}  // namespace

absl::StatusOr<Json> ParseJson(std::string_view text, std::string_view source_name, int max_depth) {
  // A bare scalar is JSON too, but never a document kvbench reads.
  const size_t start = text.find_first_not_of(" \t\n\r");
  if (start == std::string_view::npos || (text[start] != '{' && text[start] != '[')) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(source_name), ": ",
                                                   Position(text, std::min(start, text.size())),
                                                   ": a JSON document must start with '{' or '['"));
  }
  StrictJsonBuilder builder(max_depth);
  if (!Json::sax_parse(text, &builder)) {
    const size_t at = builder.error_position();
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(source_name), ": ",
                     at == std::string_view::npos ? "" : absl::StrCat(Position(text, at), ": "),
                     builder.problem()));
  }
  return std::move(builder.root());
}

absl::StatusOr<Json> ParseJsonFile(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseJson(text, path);
}

absl::StatusOr<std::vector<JsonLine>> ParseJsonLines(std::string_view text,
                                                     std::string_view source_name) {
  std::vector<JsonLine> records;
  size_t start = 0;
  int line = 0;
  while (start < text.size()) {
    ++line;
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view record = text.substr(start, end - start);
    start = end + 1;
    if (absl::StripAsciiWhitespace(Sv(record)).empty()) continue;
    absl::StatusOr<Json> value = ParseJson(record, absl::StrCat(Sv(source_name), ":", line));
    if (!value.ok()) return absl::DataLossError(value.status().message());
    records.push_back({line, *std::move(value)});
  }
  return records;
}

const Json* JsonMember(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string JsonShow(const Json& value) {
  if (value.is_string()) return value.get_ref<const std::string&>();
  if (value.is_array()) return "a list";
  if (value.is_object()) return "an object";
  return value.dump();
}

}  // namespace kvbench
