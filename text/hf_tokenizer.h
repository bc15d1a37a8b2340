// Hugging Face BPE from tokenizer.json: merge ranks, the normalizer (prepend "▁", replace " " by
// "▁"), byte fallback, byte-level BPE (GPT-2, Llama-3, Qwen2, SmolLM), the decoder chain, and
// added/special tokens.
//
// Supported (the Llama / Mistral / TinyStories SentencePiece-style files and the byte-level ones):
//   model:          BPE (vocab, merges as "a b" strings or [a, b] pairs, unk_token, fuse_unk,
//                   byte_fallback, ignore_merges). WordPiece, Unigram, WordLevel are refused.
//   normalizer:     null, Sequence, Prepend, Replace (string patterns).
//   pre_tokenizer:  null, Metaspace (replacement, prepend_scheme always/first/never or the older
//                   add_prefix_space, split); Split (Regex or String pattern, behavior, invert)
//                   and ByteLevel (add_prefix_space, use_regex; trim_offsets only moves offsets)
//                   through text/pre_tokenizer.h, Digits (individual_digits: a Split on \p{N});
//                   Sequence of those (Metaspace not mixed with the others).
//   decoder:        null, Sequence, Replace, ByteFallback, Fuse, Strip, Metaspace, ByteLevel.
//   post_processor: TemplateProcessing (the special token before $A is BOS, one after it EOS),
//                   Bert/RobertaProcessing (cls is BOS, sep is EOS), Sequence, ByteLevel, null.
// Anything else (Whitespace or Punctuation pre-tokenizers, NFC/NFKC normalizers, ...) is an
// InvalidArgument error naming the component, never a silent approximation.
//
// Encode follows tokenizers' pipeline: added tokens with normalized=false are split out of the raw
// text; each remaining piece is normalized; added tokens with normalized=true are split out of the
// normalized text (their patterns are normalized too, so with a Prepend("▁") normalizer
// "<|end_story|>" is only recognised as "▁<|end_story|>", i.e. after a space or at the start,
// exactly as the Python/Rust library does); the pre-tokenizer splits words; each word is merged
// by rank (lowest first, ties leftmost), or taken whole when ignore_merges is set and the word is
// itself a token. Matching of added tokens is leftmost-longest; lstrip/rstrip absorb ASCII
// whitespace. Deviations: text bytes that are not UTF-8 are treated as one-byte characters (the
// library only accepts valid UTF-8), and the ByteFallback and ByteLevel decoders keep raw bytes
// rather than writing U+FFFD for byte runs that are not valid UTF-8 (so Decode(Encode(x)) == x for
// any bytes x with a byte-level vocabulary).
//
// BOS/EOS come from the post_processor; when it names none, the first present of "<s>",
// "<|begin_of_text|>", "<|startoftext|>", "<|endoftext|>" is BOS, and the first present of "</s>",
// "<|end_of_text|>", "<|endoftext|>", "<|im_end|>", "<|eot_id|>", else the first special added
// token whose content contains "end", is EOS (-1 when none). tokenizer.json does not store EOS for
// Llama files; SetSpecialIds() lets a loader apply config.json's ids instead.
#ifndef KVBENCH_TEXT_HF_TOKENIZER_H_
#define KVBENCH_TEXT_HF_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "formats/json.h"
#include "text/pre_tokenizer.h"
#include "text/tokenizer.h"

namespace kvbench {

class HfBpeTokenizer : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> FromFile(const std::string& path);
  // The same from an already parsed tokenizer.json; `source` names it in error messages.
  static absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> FromJson(const Json& root,
                                                                  const std::string& source);

  std::vector<int> Encode(std::string_view text, bool add_bos) const override;
  // Skips special tokens (BOS, EOS, <unk> when marked special), like the library's
  // decode(ids, skip_special_tokens=True); ids outside the vocabulary are skipped.
  std::string Decode(absl::Span<const int> ids) const override;
  std::string Decode(absl::Span<const int> ids, bool skip_special_tokens) const;
  std::string_view Piece(int id) const override;
  int vocab_size() const override { return static_cast<int>(id_to_piece_.size()); }
  int bos_id() const override { return bos_id_; }
  int eos_id() const override { return eos_id_; }
  std::string Summary() const override;

  // Overrides BOS/EOS (e.g. with config.json's bos_token_id/eos_token_id); -1 means none.
  absl::Status SetSpecialIds(int bos_id, int eos_id);
  int num_merges() const { return static_cast<int>(merges_.size()); }
  bool IsSpecial(int id) const;

 private:
  struct AddedToken {
    std::string content;
    int id = -1;
    bool special = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = true;
    bool single_word = false;
  };
  // Added tokens of one kind (raw or normalized) with the patterns to look for.
  struct AddedMatcher {
    std::vector<std::pair<std::string, const AddedToken*>> patterns;  // longest first
    std::vector<int> by_first_byte[256];  // indices into `patterns` starting with that byte
  };
  struct Match {
    size_t start;
    size_t end;
    int id;
  };
  enum class PrependScheme { kAlways, kFirst, kNever };
  struct NormalizerStep {
    bool prepend;  // else replace
    std::string pattern;
    std::string content;
  };
  struct DecoderStep {
    enum Kind { kReplace, kByteFallback, kFuse, kStrip, kMetaspace, kByteLevel } kind;
    std::string pattern;  // Replace; Strip: the character; Metaspace: the replacement
    std::string content;  // Replace
    int start = 0;        // Strip
    int stop = 0;         // Strip
    PrependScheme prepend = PrependScheme::kAlways;  // Metaspace
  };
  struct Metaspace {
    std::string replacement;
    PrependScheme prepend = PrependScheme::kAlways;
    bool split = true;
  };
  struct MergeRule {
    int rank;
    int new_id;
  };

  HfBpeTokenizer() = default;
  absl::Status ParseModel(const Json& model, const std::string& source);
  absl::Status ParseAddedTokens(const Json& added, const std::string& source);
  absl::Status ParseNormalizer(const Json& node, const std::string& source);
  absl::Status ParsePreTokenizer(const Json& node, const std::string& source);
  absl::Status ParseSplit(const Json& node, const std::string& source);
  absl::Status ParseDecoder(const Json& node, const std::string& source);
  absl::Status ParsePostProcessor(const Json& node, const std::string& source);
  void BuildMatchers();
  void ChooseDefaultSpecialIds();

  std::string Normalize(std::string_view text) const;
  // Leftmost-longest match of `matcher` in text[from..], or nullopt-like {npos}.
  Match FindAdded(const AddedMatcher& matcher, std::string_view text, size_t from) const;
  // Pre-tokenizes and merges one normalized piece; `at_origin`: it starts the input text.
  void EncodeNormalized(std::string_view normalized, bool at_origin, std::vector<int>* ids) const;
  void EncodeWord(std::string_view word, std::vector<int>* ids) const;
  int LookupId(std::string_view piece) const;
  // The vocabulary id of one character, -1 when it is no piece. Characters of one or two UTF-8
  // bytes (the whole byte-level alphabet) are looked up in short_char_ids_, without hashing.
  int CharacterId(std::string_view character) const;
  // The code point of a well-formed one- or two-byte UTF-8 character, else -1.
  static int ShortCodePoint(std::string_view character);
  static constexpr int kShortCharLimit = 0x800;
  static uint64_t PairKey(int left, int right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  // Model.
  absl::flat_hash_map<std::string, int> vocab_;
  std::vector<std::string> id_to_piece_;  // (vocab_size) model pieces and added-token contents
  absl::flat_hash_map<uint64_t, MergeRule> merges_;  // (left id, right id) -> rank, merged id
  int unk_id_ = -1;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  int byte_ids_[256];                // <0xNN> ids, -1 when absent
  std::vector<int> short_char_ids_;  // (kShortCharLimit) code point -> id of that piece, or -1
  bool all_bytes_present_ = false;

  std::vector<AddedToken> added_;
  std::vector<bool> is_added_;       // (vocab_size)
  std::vector<bool> is_special_;     // (vocab_size)
  AddedMatcher raw_matcher_;         // normalized == false
  AddedMatcher normalized_matcher_;  // normalized == true, patterns normalized

  std::vector<NormalizerStep> normalizer_;
  bool has_metaspace_ = false;
  Metaspace metaspace_;
  PreTokenizer pre_tokenizer_;  // Split / ByteLevel steps; empty for SentencePiece-style files
  std::vector<DecoderStep> decoder_;
  int bos_id_ = -1;
  int eos_id_ = -1;
  std::string bos_source_ = "none";
};

}  // namespace kvbench

#endif  // KVBENCH_TEXT_HF_TOKENIZER_H_
