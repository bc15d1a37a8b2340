// The word splitter of byte-level BPE tokenizers: a sequence of steps, each applied to every piece
// the step before produced, as Hugging Face's pre_tokenizer Sequence runs them.
//   Split      cuts each piece by a regex or string (text/regex_split.h);
//   ByteLevel  optionally prepends a space to a piece that lacks one (add_prefix_space), cuts it
//              by the GPT-2 regex (use_regex), and spells each piece in the byte-level alphabet
//              (text/byte_level.h), the form the vocabulary and merges are written in.
// The words that come out are what BPE merges within; none is empty.
#ifndef KVBENCH_TEXT_PRE_TOKENIZER_H_
#define KVBENCH_TEXT_PRE_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "text/regex_split.h"

namespace kvbench {

// GPT-2's word regex, which ByteLevel(use_regex=true) applies (HF tokenizers' byte_level.rs).
inline constexpr std::string_view kGpt2WordRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class PreTokenizer {
 public:
  absl::Status AddSplit(const RegexSplitter::Options& options);
  absl::Status AddByteLevel(bool add_prefix_space, bool use_regex);

  bool empty() const { return steps_.empty(); }
  bool byte_level() const { return byte_level_; }
  // Appends the words of `text`.
  void Run(std::string_view text, std::vector<std::string>* words) const;

 private:
  struct Step {
    std::unique_ptr<RegexSplitter> splitter = nullptr;  // null: ByteLevel without its regex
    bool byte_level = false;
    bool add_prefix_space = false;
  };
  std::vector<Step> steps_;
  bool byte_level_ = false;  // some step is ByteLevel
};

}  // namespace kvbench

#endif  // KVBENCH_TEXT_PRE_TOKENIZER_H_
