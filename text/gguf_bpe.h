// GGUF byte-level BPE vocabularies (`tokenizer.ggml.model = "gpt2"`, as llama.cpp's converter
// writes Llama-3, Qwen2, SmolLM, GPT-2 and most other tokenizer.json files) as an HfBpeTokenizer.
//
// A GGUF vocabulary is a tokenizer.json taken apart: tokens (in the byte-level alphabet), merges
// ("a b" lines in rank order), token types, BOS/EOS ids, and the pre-tokenizer only by name
// (`tokenizer.ggml.pre`). BuildGgufBpeTokenizer puts the tokenizer.json back together and hands
// it to HfBpeTokenizer::FromJson, so both containers run one parser, one set of checks and one
// encoder. Token types: control (3) tokens become special added tokens and user-defined (4) ones
// plain added tokens, both matched in the raw text before pre-tokenization, as llama.cpp does;
// every other token is a vocabulary piece. The pre-tokenizer names and the regexes they stand for
// are llama.cpp's (src/llama-vocab.cpp), each applied as a Split that keeps the text between its
// matches, then ByteLevel without a regex:
//   llama-bpe  the Llama-3 regex (digits in runs of up to 3); ignore_merges, as Llama-3 sets it
//   qwen2      the Llama-3 regex with single digits
//   smollm     single digits, then the GPT-2 regex
//   gpt-2      the GPT-2 regex
//   default    llama.cpp's fallback for an absent name: punctuation runs, GPT-2, digit runs, 3
//   digits
// Any other name is an InvalidArgument error naming it.
#ifndef KVBENCH_TEXT_GGUF_BPE_H_
#define KVBENCH_TEXT_GGUF_BPE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "formats/gguf.h"
#include "text/hf_tokenizer.h"

namespace kvbench {

struct GgufBpeVocab {
  std::vector<std::string> tokens;        // (vocab_size) tokenizer.ggml.tokens
  std::vector<std::string> merges;        // tokenizer.ggml.merges, "left right", rank order
  std::vector<int64_t> token_types = {};  // (vocab_size) or empty (all normal)
  int64_t bos_id = -1;                    // -1: none
  int64_t eos_id = -1;
  std::string pre = "default";  // tokenizer.ggml.pre
};

// The tokenizer.ggml.* metadata of `file` (tokens, merges required).
absl::StatusOr<GgufBpeVocab> ReadGgufBpeVocab(const GgufFile& file);

// `source` prefixes every error message (e.g. "model.gguf tokenizer.ggml").
absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> BuildGgufBpeTokenizer(const GgufBpeVocab& vocab,
                                                                      const std::string& source);

}  // namespace kvbench

#endif  // KVBENCH_TEXT_GGUF_BPE_H_
