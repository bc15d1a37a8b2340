// SentencePiece-style BPE over a scored vocabulary, as llama.cpp's "llama" tokenizer and llama2.c
// run it: text is prefixed with a space, spaces become "▁", characters are looked up, then the
// adjacent pair whose merge has the highest score is merged until none applies; characters missing
// from the vocabulary fall back to <0xNN> byte tokens.
#ifndef KVBENCH_TEXT_SP_TOKENIZER_H_
#define KVBENCH_TEXT_SP_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "text/tokenizer.h"

namespace kvbench {

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Token types as GGUF stores them (tokenizer.ggml.token_type).
  enum TokenType : int32_t {
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6
  };
  struct Vocab {
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::vector<int32_t> types = {};  // empty: inferred (<unk>/<s>/</s> control, <0xNN> bytes)
    int bos_id = 1;
    int eos_id = 2;
    int unk_id = 0;
  };
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> Create(Vocab vocab);
  // llama2.c tokenizer.bin: int32 max_token_length, then per token: f32 score, int32 len, bytes.
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> FromLlama2cFile(
      const std::string& path, int vocab_size);

  // Encode follows the SentencePiece library's BPE (add_dummy_prefix, identity normalisation, no
  // whitespace folding): "▁" + text with ' ' -> "▁", split into UTF-8 characters (user-defined
  // pieces are matched whole first), merge the highest-scoring adjacent pair (ties: leftmost)
  // while its concatenation is a normal/user-defined/unused piece, resegment unused pieces, and
  // spell pieces missing from the vocabulary as <0xNN> bytes (or <unk> without byte pieces).
  // Malformed UTF-8 bytes are spelled as byte tokens (the library would substitute U+FFFD), which
  // keeps Decode(Encode(text)) == text for any byte string.
  std::vector<int> Encode(std::string_view text, bool add_bos) const override;
  // Pieces with "▁" -> " ", byte tokens joined into raw bytes, control tokens (BOS/EOS) dropped,
  // <unk> as " ⁇ " (SentencePiece's surface), ids outside the vocabulary likewise; the leading
  // space the dummy prefix added is removed from the first piece that produces text.
  std::string Decode(absl::Span<const int> ids) const override;
  std::string_view Piece(int id) const override;
  int vocab_size() const override { return static_cast<int>(pieces_.size()); }
  int bos_id() const override { return bos_id_; }
  int eos_id() const override { return eos_id_; }
  int unk_id() const { return unk_id_; }
  std::string Summary() const override;

  float score(int id) const { return scores_[id]; }
  TokenType type(int id) const { return static_cast<TokenType>(types_[id]); }
  // True when all 256 <0xNN> pieces exist, so any text is representable.
  bool byte_fallback() const { return byte_fallback_; }

 private:
  SentencePieceTokenizer() = default;

  // Appends the ids of one final symbol: its id, its resegmentation if it is an unused piece, or
  // byte fallback / <unk> when it is not in the vocabulary.
  void EmitSymbol(
      std::string_view piece,
      const absl::flat_hash_map<std::string_view, std::pair<std::string_view, std::string_view>>&
          rev_merge,
      std::vector<int>* ids) const;

  std::vector<std::string> pieces_;  // (vocab_size)
  std::vector<float> scores_;        // (vocab_size)
  std::vector<int32_t> types_;       // (vocab_size) TokenType
  int bos_id_ = -1;
  int eos_id_ = -1;
  int unk_id_ = -1;
  // Every non-empty piece -> its first id (lookup of final symbols).
  absl::flat_hash_map<std::string_view, int> piece_to_id_;
  // Pieces a merge may produce: normal, user-defined and unused ones (as in SentencePiece).
  absl::flat_hash_map<std::string_view, int> mergeable_;
  std::vector<std::string_view> user_defined_;  // matched whole before merging, longest first
  int byte_ids_[256];                           // id of <0xNN>, or -1
  bool byte_fallback_ = false;
};

}  // namespace kvbench

#endif  // KVBENCH_TEXT_SP_TOKENIZER_H_
