// Text <-> token ids. Two implementations: SentencePiece-style BPE driven by scores (GGUF
// `tokenizer.ggml.model = llama`, llama2.c tokenizer.bin) in sp_tokenizer.h, and Hugging Face BPE
// from tokenizer.json in hf_tokenizer.h, which also runs the byte-level vocabularies of GGUF
// `tokenizer.ggml.model = gpt2` (gguf_bpe.h).
#ifndef KVBENCH_TEXT_TOKENIZER_H_
#define KVBENCH_TEXT_TOKENIZER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"

namespace kvbench {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text`, with BOS first when `add_bos`.
  virtual std::vector<int> Encode(std::string_view text, bool add_bos) const = 0;
  // The text of a whole sequence. Exact inverse of Encode (without BOS) for any text the
  // tokenizer can represent; byte-fallback tokens are joined back into UTF-8.
  virtual std::string Decode(absl::Span<const int> ids) const = 0;
  // The raw vocabulary entry for `id` (e.g. "▁the", "<0x0A>", "<s>"), for listings.
  virtual std::string_view Piece(int id) const = 0;

  virtual int vocab_size() const = 0;
  virtual int bos_id() const = 0;
  virtual int eos_id() const = 0;
  // One line for `kvbench inspect`, e.g. "sentencepiece-bpe, 512 tokens, byte fallback".
  virtual std::string Summary() const = 0;
};

}  // namespace kvbench

#endif  // KVBENCH_TEXT_TOKENIZER_H_
