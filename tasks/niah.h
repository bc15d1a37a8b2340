// Needle in a haystack (RULER's niah_single / niah_multikey), exactly as kvb-docs-12M was trained
// on it: the cases, how they are written and read as JSONL, and how an answer is scored.
//
//   needle    "\nThe special magic number for {key} is: {value}.\n"   at a line boundary
//   question  "\nWhat is the special magic number for {key} mentioned in the provided text?
//              Answer: The special magic number for {key} mentioned in the provided text is"
//   answer    " {value}."        value: 7 digits (1000000-9999999); key: two distinct words "a-b"
//
// A case of length L fills the haystack so that BOS + context + question + answer_tokens <= L
// tokens, as RULER sizes its inputs (the answer's room included): at L = the model's context, the
// whole case fits the positions it was trained on. The haystack is whole lines of the dataset's
// documents, taken in order from a seeded starting document. Depth d puts the asked needle at the
// line boundary nearest to d of the haystack's tokens (0 = before the first line, 1 = after the
// last); in a multi-key case the other needles, with other keys and values, go to seeded random
// depths.
//
// Context and question are tokenized separately (as kvpress's pipeline does: the question is fed
// after the context is compressed), each without BOS; the prompt is BOS + context + question.
//
// Generation is deterministic for (seed, length, depth, needles, sample): the same cases on every
// machine. Cases can be written as JSONL, one object per line:
//   {"context", "question", "answer", "length_tokens", "depth", "n_needles"}
// and read back (cases made elsewhere run here).
#ifndef KVBENCH_TASKS_NIAH_H_
#define KVBENCH_TASKS_NIAH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "text/tokenizer.h"

namespace kvbench {

struct NiahCase {
  std::string context;    // haystack with the needles, no BOS
  std::string question;   // appended after the context
  std::string answer;     // the expected continuation, " 1234567."
  int length_tokens = 0;  // the cell's length (a bound on BOS + context + question + answer room)
  double depth = 0;       // where the asked needle is, in [0, 1]
  int n_needles = 1;
};

struct NiahGridOptions {
  std::vector<int> lengths;
  std::vector<double> depths;
  std::vector<int> needles = {1};  // needles per case (1 = niah_single, more = niah_multikey)
  int samples = 10;                // cases per (length, depth, needles) cell
  uint64_t seed = 0;
  int answer_tokens = 8;  // room left for the answer
};

// The haystack and the words keys are made of.
struct NiahSources {
  std::vector<std::string> documents;  // haystack texts, in dataset order
  std::vector<std::string> words;      // key words (needle_words.json "val")
};

// The words of a needle_words.json (`{"train": [...], "val": [...]}`) under `split`.
absl::StatusOr<std::vector<std::string>> LoadNeedleWords(const std::string& path,
                                                         absl::string_view split);

// Every case of the grid, cell by cell in (length, depth, needles) order, `samples` per cell.
// InvalidArgument when a length cannot hold the needles and the question, or the sources are empty
// or have fewer words than the keys need.
absl::StatusOr<std::vector<NiahCase>> MakeNiahCases(const NiahGridOptions& options,
                                                    const NiahSources& sources,
                                                    const Tokenizer& tokenizer);

// One JSON object per line, in the field order above.
std::string NiahCasesToJsonl(const std::vector<NiahCase>& cases);
// Cases from JSONL text; DataLoss naming source:line for a malformed line or a missing/mistyped
// field, depth outside [0, 1] included.
absl::StatusOr<std::vector<NiahCase>> NiahCasesFromJsonl(absl::string_view text,
                                                         absl::string_view source);

// The first run of 7 consecutive digits in `text`, or "" when there is none.
std::string FirstSevenDigitNumber(absl::string_view text);
// Whether the generated text answers the case: its first 7-digit number equals the expected one.
bool NiahCorrect(absl::string_view generated, const NiahCase& c);

// Wilson score interval of `correct` successes in `n` trials at 95% (z = 1.96).
struct Proportion {
  double estimate = 0, low = 0, high = 0;
};
Proportion WilsonInterval(int correct, int n);

}  // namespace kvbench

#endif  // KVBENCH_TASKS_NIAH_H_
