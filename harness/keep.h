// Which original positions a policy's cache holds after a context: `kvbench keep`, the kvpress
// oracle's comparison (tests/kvpress_oracle_test.cc) and the report's heat maps.
//
// The first `context_end` tokens (the prompt) are fed as one step, as kvpress compresses a
// prefilled context; tokens after it, if any, one per step (teacher forcing), so decode-time
// policies evict as they would in a run. The cache shape's context is all the tokens and its
// prompt the first step, so ratio budgets mean what they mean in a run (one-shot policies: a
// fraction of the prompt). Several caches are fed together: while they use the same stores, the
// prompt's rows are computed once (FeedMirrored) and each cache still sees its own attention.
//
// JSON (KeptJson): {"policy": LABEL, "n_tokens": N, "kept": [[[positions of KV head 0], ...] per
// layer]} and, with scores, "scores" of the same shape (the policy's score of each kept entry,
// e.g. h2o's accumulated attention) or null for a policy that keeps none after the context.
#ifndef KVBENCH_HARNESS_KEEP_H_
#define KVBENCH_HARNESS_KEEP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/model.h"
#include "policies/registry.h"

namespace kvbench {

struct KeepOptions {
  int context_end = 0;  // tokens of the first step; 0: all of them
  bool scores = false;  // also read each kept entry's score from the policy
};

struct KeptPositions {
  std::string label;  // the cache, as CacheSpec::Label prints it
  int n_tokens = 0;   // tokens fed
  // (layers, KV heads) -> original positions kept, increasing.
  std::vector<std::vector<std::vector<int32_t>>> kept;
  // Same shape as `kept` when scores were asked for and the policy has them, else empty.
  std::vector<std::vector<std::vector<float>>> scores;
};

// One result per spec, in order. InvalidArgument for no tokens or a context_end outside
// [1, tokens]; OutOfRange beyond the model's context; the registry's errors for a bad spec (with
// the spec's text).
absl::StatusOr<std::vector<KeptPositions>> KeepPositions(const Model& model,
                                                         absl::Span<const int> tokens,
                                                         absl::Span<const CacheSpec> specs,
                                                         const KeepOptions& options = {});

// The JSON object above, on one line.
std::string KeptJson(const KeptPositions& kept, bool with_scores);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_KEEP_H_
