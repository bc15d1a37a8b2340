#include "text/regex_split.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "formats/utf8.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace kvbench {

struct RegexSplitter::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

namespace {

struct Segment {
  size_t begin;
  size_t end;
  bool delimiter;
};

// HF's merge rules over the alternating segments (tokenizers' SplitDelimiterBehavior).
std::vector<Segment> ApplyBehavior(std::vector<Segment> segments, SplitBehavior behavior) {
  std::vector<Segment> out;
  out.reserve(segments.size());
  bool previous_delimiter = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      return segments;
    case SplitBehavior::kRemoved:
      for (const Segment& s : segments) {
        if (!s.delimiter) out.push_back(s);
      }
      return out;
    case SplitBehavior::kMergedWithPrevious:
      for (const Segment& s : segments) {
        if (s.delimiter && !previous_delimiter && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous_delimiter = s.delimiter;
      }
      return out;
    case SplitBehavior::kMergedWithNext:
      for (auto s = segments.rbegin(); s != segments.rend(); ++s) {
        if (s->delimiter && !previous_delimiter && !out.empty()) {
          out.back().begin = s->begin;
        } else {
          out.push_back(*s);
        }
        previous_delimiter = s->delimiter;
      }
      std::reverse(out.begin(), out.end());
      return out;
    case SplitBehavior::kContiguous:
      for (const Segment& s : segments) {
        if (s.delimiter == previous_delimiter && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous_delimiter = s.delimiter;
      }
      return out;
  }
  return segments;
}

}  // namespace

absl::StatusOr<SplitBehavior> ParseSplitBehavior(std::string_view name) {
  static constexpr std::pair<std::string_view, SplitBehavior> kNames[] = {
      {"Removed", SplitBehavior::kRemoved},
      {"Isolated", SplitBehavior::kIsolated},
      {"MergedWithPrevious", SplitBehavior::kMergedWithPrevious},
      {"MergedWithNext", SplitBehavior::kMergedWithNext},
      {"Contiguous", SplitBehavior::kContiguous}};
  for (const auto& [n, behavior] : kNames) {
    if (n == name) return behavior;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("split behavior \"", absl::string_view(name.data(), name.size()),
                   "\" is unknown (valid: Removed, Isolated, MergedWithPrevious, MergedWithNext, "
                   "Contiguous)"));
}

absl::StatusOr<std::unique_ptr<RegexSplitter>> RegexSplitter::Create(const Options& options) {
  if (options.pattern.empty()) {
    return absl::InvalidArgumentError("split pattern is empty");
  }
  // PCRE2_LITERAL refuses UCP, which only changes what classes match.
  const uint32_t flags =
      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (options.literal ? PCRE2_LITERAL : PCRE2_UCP);
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(options.pattern.data()),
                                   options.pattern.size(), flags, &error, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InvalidArgumentError(absl::StrCat("regex \"", options.pattern, "\" at offset ",
                                                   error_offset, ": ",
                                                   reinterpret_cast<const char*>(message)));
  }
  // JIT is an optimisation: where PCRE2 was built without it, the interpreter matches the same.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  auto* holder = new Code();
  holder->code = code;
  return std::unique_ptr<RegexSplitter>(new RegexSplitter(options, holder));
}

RegexSplitter::RegexSplitter(const Options& options, Code* code) : options_(options), code_(code) {}

RegexSplitter::~RegexSplitter() { delete code_; }

void RegexSplitter::Split(std::string_view text, std::vector<std::string_view>* pieces) const {
  std::vector<Segment> segments;
  pcre2_match_data* match = pcre2_match_data_create_from_pattern(code_->code, nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t gap_begin = 0, from = 0;
  while (from <= text.size()) {
    const int rc = pcre2_match(code_->code, subject, text.size(), from, 0, match, nullptr);
    if (rc < 0) break;  // no match, or a resource limit: the rest is one gap
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
    const size_t begin = ovector[0], end = ovector[1];
    if (begin > gap_begin) segments.push_back({gap_begin, begin, options_.invert});
    segments.push_back({begin, end, !options_.invert});
    gap_begin = end;
    if (end > begin) {
      from = end;
    } else if (end < text.size()) {
      from = end + Utf8CharLength(text, end);  // an empty match: step over one character
    } else {
      break;
    }
  }
  pcre2_match_data_free(match);
  if (gap_begin < text.size()) segments.push_back({gap_begin, text.size(), options_.invert});
  for (const Segment& s : ApplyBehavior(std::move(segments), options_.behavior)) {
    if (s.end > s.begin) pieces->push_back(text.substr(s.begin, s.end - s.begin));
  }
}

}  // namespace kvbench
