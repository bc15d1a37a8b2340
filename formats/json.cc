#include "formats/json.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "formats/utf8.h"

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

// A strict JSON syntax check, run before yaml-cpp sees the text. yaml-cpp reads far more than
// JSON, and on some of that surplus it misbehaves: 0.7 loops forever in LoadAll on text after the
// top-level value (`{"a":1},`, or plain scalars with stray quotes that shift where it thinks the
// object ends), and its parser recurses once per nesting level. So the text must be exactly one
// JSON object or array, nested at most `max_depth` deep, with UTF-8 strings, followed by nothing
// but whitespace.
class JsonSyntaxCheck {
 public:
  JsonSyntaxCheck(std::string_view text, int max_depth) : t_(text), max_depth_(max_depth) {}

  // Empty on success, else the problem; offset() is then where it was found.
  std::string Run() {
    SkipSpace();
    if (i_ >= t_.size() || (t_[i_] != '{' && t_[i_] != '[')) {
      return "a JSON document must start with '{' or '['";
    }
    if (!Value(0)) return absl::StrCat("malformed JSON: ", error_);
    SkipSpace();
    if (i_ != t_.size()) return "text after the JSON value";
    return "";
  }
  size_t offset() const { return i_; }

 private:
  bool Fail(const char* what) {
    error_ = what;
    return false;
  }
  bool AtEnd() const { return i_ >= t_.size(); }
  void SkipSpace() {
    while (!AtEnd() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  bool Expect(char c) {
    SkipSpace();
    if (AtEnd() || t_[i_] != c)
      return Fail(c == ':' ? "expected ':'" : "expected a bracket or ','");
    ++i_;
    return true;
  }

  bool Value(int depth) {
    SkipSpace();
    if (AtEnd()) return Fail("unexpected end (truncated?)");
    const char c = t_[i_];
    if (c == '{' || c == '[') {
      if (depth >= max_depth_) return Fail("nesting too deep");
      return c == '{' ? Object(depth + 1) : Array(depth + 1);
    }
    if (c == '"') return String();
    if (c == '-' || (c >= '0' && c <= '9')) return Number();
    for (std::string_view literal : {"true", "false", "null"}) {
      if (t_.substr(i_, literal.size()) == literal) {
        i_ += literal.size();
        return true;
      }
    }
    return Fail("unexpected character");
  }

  bool Object(int depth) {
    ++i_;  // '{'
    SkipSpace();
    if (!AtEnd() && t_[i_] == '}') {
      ++i_;
      return true;
    }
    while (true) {
      SkipSpace();
      if (AtEnd() || t_[i_] != '"') return Fail("expected a string key");
      if (!String() || !Expect(':') || !Value(depth)) return false;
      SkipSpace();
      if (AtEnd()) return Fail("unexpected end (truncated?)");
      if (t_[i_] == '}') {
        ++i_;
        return true;
      }
      if (!Expect(',')) return false;
    }
  }

  bool Array(int depth) {
    ++i_;  // '['
    SkipSpace();
    if (!AtEnd() && t_[i_] == ']') {
      ++i_;
      return true;
    }
    while (true) {
      if (!Value(depth)) return false;
      SkipSpace();
      if (AtEnd()) return Fail("unexpected end (truncated?)");
      if (t_[i_] == ']') {
        ++i_;
        return true;
      }
      if (!Expect(',')) return false;
    }
  }

  bool String() {
    ++i_;  // opening quote
    while (!AtEnd()) {
      const unsigned char c = static_cast<unsigned char>(t_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return Fail("control character in a string");
      if (c == '\\') {
        if (++i_ >= t_.size()) break;
        const char e = t_[i_];
        if (e == 'u') {
          for (int k = 1; k <= 4; ++k) {
            if (i_ + k >= t_.size() ||
                !absl::ascii_isxdigit(static_cast<unsigned char>(t_[i_ + k]))) {
              return Fail("bad \\u escape");
            }
          }
          i_ += 5;
        } else if (std::string_view("\"\\/bfnrt").find(e) != std::string_view::npos) {
          ++i_;
        } else {
          return Fail("bad escape");
        }
        continue;
      }
      // UTF-8: a lead byte announces 0-3 continuation bytes of the form 10xxxxxx.
      int extra = c < 0x80             ? 0
                  : (c & 0xe0) == 0xc0 ? 1
                  : (c & 0xf0) == 0xe0 ? 2
                  : (c & 0xf8) == 0xf0 ? 3
                                       : -1;
      if (extra < 0 || c == 0xc0 || c == 0xc1) return Fail("invalid UTF-8 in a string");
      for (int k = 1; k <= extra; ++k) {
        if (i_ + k >= t_.size() || (static_cast<unsigned char>(t_[i_ + k]) & 0xc0) != 0x80) {
          return Fail("invalid UTF-8 in a string");
        }
      }
      i_ += 1 + extra;
    }
    return Fail("unterminated string (truncated?)");
  }

  bool Number() {
    auto digits = [&] {
      const size_t start = i_;
      while (!AtEnd() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
      return i_ > start;
    };
    if (t_[i_] == '-') ++i_;
    if (!AtEnd() && t_[i_] == '0') {
      ++i_;
    } else if (!digits()) {
      return Fail("bad number");
    }
    if (!AtEnd() && t_[i_] == '.') {
      ++i_;
      if (!digits()) return Fail("bad number");
    }
    if (!AtEnd() && (t_[i_] == 'e' || t_[i_] == 'E')) {
      ++i_;
      if (!AtEnd() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
      if (!digits()) return Fail("bad number");
    }
    return true;
  }

  std::string_view t_;
  int max_depth_;
  size_t i_ = 0;
  std::string error_;
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The code unit of "\uXXXX" starting at text[pos] (pos at the backslash), or -1.
int32_t ParseUnicodeEscape(std::string_view text, size_t pos) {
  if (pos + 6 > text.size() || text[pos] != '\\' || text[pos + 1] != 'u') return -1;
  int32_t value = 0;
  for (size_t i = pos + 2; i < pos + 6; ++i) {
    const int digit = HexValue(text[i]);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// Rewrites surrogate-pair escapes inside string literals as raw UTF-8, which yaml-cpp accepts
// (it rejects each half of the pair as an invalid code point). Everything else is copied as is.
absl::StatusOr<std::string> RewriteSurrogatePairs(std::string_view text,
                                                  std::string_view source_name) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (!in_string) {
      if (c == '"') in_string = true;
      out.push_back(c);
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = false;
      out.push_back(c);
      ++i;
      continue;
    }
    if (c != '\\') {
      out.push_back(c);
      ++i;
      continue;
    }
    const int32_t unit = ParseUnicodeEscape(text, i);
    if (unit >= 0xD800 && unit <= 0xDFFF) {
      const int32_t low = ParseUnicodeEscape(text, i + 6);
      if (unit > 0xDBFF || low < 0xDC00 || low > 0xDFFF) {
        return absl::InvalidArgumentError(absl::StrCat(Sv(source_name), ": ", Position(text, i),
                                                       ": unpaired UTF-16 surrogate escape \\u",
                                                       Sv(text.substr(i + 2, 4))));
      }
      AppendUtf8(0x10000 + ((static_cast<uint32_t>(unit) - 0xD800) << 10) +
                     (static_cast<uint32_t>(low) - 0xDC00),
                 &out);
      i += 12;
      continue;
    }
    // Any other escape: copy the backslash and the escaped character so that "\"" does not end
    // the string for this scan.
    out.push_back(c);
    if (i + 1 < text.size()) out.push_back(text[i + 1]);
    i += 2;
  }
  return out;
}

}  // namespace

absl::StatusOr<YAML::Node> ParseJson(std::string_view text, std::string_view source_name,
                                     int max_depth) {
  JsonSyntaxCheck check(text, max_depth);
  if (std::string problem = check.Run(); !problem.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(source_name), ": ", Position(text, check.offset()), ": ", problem));
  }
  absl::StatusOr<std::string> rewritten = RewriteSurrogatePairs(text, source_name);
  if (!rewritten.ok()) return rewritten.status();
  try {
    return YAML::Load(*rewritten);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(source_name), ": line ", e.mark.line + 1,
                                                   ", column ", e.mark.column + 1,
                                                   ": malformed JSON: ", e.msg));
  }
}

absl::StatusOr<YAML::Node> ParseJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    if (err == EACCES)
      return absl::PermissionDeniedError(absl::StrCat(path, ": permission denied"));
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(err)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return ParseJson(buffer.str(), path);
}

bool JsonIsString(const YAML::Node& node) {
  return node.IsDefined() && node.IsScalar() && node.Tag() == "!";
}

}  // namespace kvbench
