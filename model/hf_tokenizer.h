// Hugging Face BPE from tokenizer.json: merge ranks, the normalizer (prepend "▁", replace " " by
// "▁"), byte fallback, the decoder chain, and added/special tokens.
#ifndef KVBENCH_MODEL_HF_TOKENIZER_H_
#define KVBENCH_MODEL_HF_TOKENIZER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"

namespace kvbench {

class HfBpeTokenizer : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> FromFile(const std::string& path);
};

}  // namespace kvbench

#endif  // KVBENCH_MODEL_HF_TOKENIZER_H_
