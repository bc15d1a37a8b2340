// Evaluation text -> token sequences of exactly `context_tokens` tokens.
//
// Sources: inline prompts; a text file split on a separator (TinyStories' "<|endoftext|>"); JSONL
// with one {"text": "..."} object per line. Each text is tokenized with BOS first.
//
// With `concatenate` (the default) the token streams of all texts are joined and cut into
// consecutive windows of context_tokens; as llama.cpp's perplexity does, the first token of each
// window is replaced by BOS, so every sequence starts like a document. Without it each text is one
// sequence (its first context_tokens tokens); shorter texts are skipped. At most max_sequences are
// made.
#ifndef KVBENCH_HARNESS_DATASET_H_
#define KVBENCH_HARNESS_DATASET_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/experiment.h"
#include "text/tokenizer.h"

namespace kvbench {

// The file a dataset path names: the path as given (relative to the current folder), or, for a
// path starting with "../shared/", the same file under KVBENCH_SHARED_DIR, so an experiment runs
// from the repository root or from its build folder. NotFound lists what was tried.
absl::StatusOr<std::string> ResolveDataPath(const std::string& path);

// Pieces of `text` between occurrences of `separator`, trimmed of surrounding whitespace; empty
// pieces are dropped.
std::vector<std::string> SplitOnSeparator(std::string_view text, std::string_view separator);

// The texts of a dataset (inline prompts, or the resolved file in its format). DataLoss names the
// file and line of a malformed JSONL record.
absl::StatusOr<std::vector<std::string>> LoadTexts(const DatasetSpec& spec);

struct SequenceOptions {
  int context_tokens = 256;
  int max_sequences = 4;
  bool concatenate = true;
};

// Token sequences, each exactly context_tokens long. OutOfRange when the texts do not make even
// one.
absl::StatusOr<std::vector<std::vector<int>>> BuildSequences(const std::vector<std::string>& texts,
                                                             const Tokenizer& tokenizer,
                                                             const SequenceOptions& options);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_DATASET_H_
