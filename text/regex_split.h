// Splitting text by a pattern, as Hugging Face's `Split` pre-tokenizer does: the matches of a
// PCRE2 regex (UTF and UCP: \p{L}, \s and \w are Unicode-aware, as in Rust's regex crate) or of a
// literal string cut the text into alternating delimiters (the matches) and gaps; `invert` swaps
// the two roles, and the behaviour says what becomes of each delimiter:
//   Removed             dropped;
//   Isolated            a piece of its own;
//   MergedWithPrevious  appended to the piece before it;
//   MergedWithNext      prepended to the piece after it;
//   Contiguous          runs of adjacent delimiters become one piece.
// Empty pieces are never produced. The pattern is compiled once (JIT when PCRE2 has it); Split is
// const and may run on several threads at once.
//
// Deviations from the Rust library, both on inputs its users never see: bytes that are not UTF-8
// never match (PCRE2_MATCH_INVALID_UTF; Rust refuses such text), and when a match gives up on a
// resource limit (a pathological pattern) the rest of the text is left as one gap.
#ifndef KVBENCH_TEXT_REGEX_SPLIT_H_
#define KVBENCH_TEXT_REGEX_SPLIT_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace kvbench {

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// "Removed", "Isolated", ... as tokenizer.json writes them; InvalidArgument naming the others.
absl::StatusOr<SplitBehavior> ParseSplitBehavior(std::string_view name);

class RegexSplitter {
 public:
  struct Options {
    std::string pattern;
    bool literal = false;  // `pattern` is a plain string, not a regex
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;
  };
  // InvalidArgument with PCRE2's message and offset when the regex does not compile.
  static absl::StatusOr<std::unique_ptr<RegexSplitter>> Create(const Options& options);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Appends the pieces of `text`, views into it, in order.
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const;

 private:
  struct Code;  // the compiled pattern (pcre2_code, kept out of this header)
  RegexSplitter(const Options& options, Code* code);

  Options options_;
  Code* code_;
};

}  // namespace kvbench

#endif  // KVBENCH_TEXT_REGEX_SPLIT_H_
