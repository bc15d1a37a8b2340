// SentencePiece-style BPE over a scored vocabulary, as llama.cpp's "llama" tokenizer and llama2.c
// run it: text is prefixed with a space, spaces become "▁", characters are looked up, then the
// adjacent pair whose merge has the highest score is merged until none applies; characters missing
// from the vocabulary fall back to <0xNN> byte tokens.
#ifndef KVBENCH_MODEL_SP_TOKENIZER_H_
#define KVBENCH_MODEL_SP_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"

namespace kvbench {

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Token types as GGUF stores them (tokenizer.ggml.token_type).
  enum TokenType : int32_t {
    kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6
  };
  struct Vocab {
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::vector<int32_t> types;  // empty: inferred (<unk>/<s>/</s> control, <0xNN> bytes)
    int bos_id = 1;
    int eos_id = 2;
    int unk_id = 0;
  };
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> Create(Vocab vocab);
  // llama2.c tokenizer.bin: int32 max_token_length, then per token: f32 score, int32 len, bytes.
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> FromLlama2cFile(
      const std::string& path, int vocab_size);
};

}  // namespace kvbench

#endif  // KVBENCH_MODEL_SP_TOKENIZER_H_
