#include "model/json.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/utf8.h"

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

absl::StatusOr<YAML::Node> ParseJson(std::string_view text, std::string_view source_name) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(source_name), ": empty JSON document"));
  }
  if (text[first] != '{' && text[first] != '[') {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(source_name), ": ", Position(text, first),
                     ": JSON document must start with '{' or '[', found byte 0x",
                     absl::Hex(static_cast<unsigned char>(text[first]), absl::kZeroPad2)));
  }
  absl::StatusOr<std::string> rewritten = RewriteSurrogatePairs(text, source_name);
  if (!rewritten.ok()) return rewritten.status();
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(*rewritten);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(source_name), ": line ", e.mark.line + 1,
                                                   ", column ", e.mark.column + 1,
                                                   ": malformed JSON: ", e.msg));
  }
  if (documents.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(source_name), ": expected one JSON value, found ", documents.size(),
                     " (text after the closing bracket?)"));
  }
  return documents[0];
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
