// Divergence of cache policies from a reference cache, on the same tokens.
//
// Teacher forcing: each sequence's first prompt_tokens are prefilled in one step, then the next
// score_tokens - 1 tokens are fed one per step (the decode path, where eviction policies act). The
// logits after each step predict the following token of the sequence: score_tokens scored
// positions per sequence, each compared with the reference (harness/metrics.h).
// Free running: after the same prefill, every cache continues greedily on its own output for
// score_tokens tokens; each policy's continuation is compared with the reference's.
//
// Lockstep: the reference and every policy advance together, one batched Feed per step, so the
// weights are read once per step for all of them and the reference runs once. Each sequence gets
// fresh caches. The decoder computes every batch row exactly as it would alone, so lockstep and
// one-at-a-time evaluation give identical numbers (tests/runner_test.cc checks it).
#ifndef KVBENCH_HARNESS_DIVERGENCE_H_
#define KVBENCH_HARNESS_DIVERGENCE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/memory_tally.h"
#include "harness/metrics.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "policies/registry.h"

namespace kvbench {

// What a lockstep pass has accumulated over its first `sequences_done` sequences: everything it
// needs to continue after a crash and end with the numbers an uninterrupted pass gives, bit for
// bit (harness/divergence_checkpoint.h writes and reads it).
struct DivergenceState {
  struct Lane {                                 // one policy
    std::vector<PositionDivergence> positions;  // every scored position so far
    int64_t greedy_prefix_sum = 0;              // free running: sums of CompareGreedy
    int64_t greedy_matches = 0;
    int64_t greedy_compared = 0;
    MemoryTally memory;  // at the end of teacher forcing
  };
  int sequences_done = 0;
  std::vector<Lane> policies;  // in the order of the pass's policies
  MemoryTally reference_memory;
};

struct DivergenceOptions {
  int prompt_tokens = 128;
  int score_tokens = 128;  // sequences must hold prompt_tokens + score_tokens tokens
  // Progress: called after each lockstep step with the tokens it fed (prompt_tokens for a
  // prefill, 1 for a decode step); 2 * (prompt_tokens + score_tokens - 1) per sequence.
  std::function<void(int64_t tokens)> on_tokens;
  // Crash safety: a pass given `resume` (same policies, in the same order, same sequences) starts
  // at its sequence resume->sequences_done; `on_sequence` is called after each sequence with the
  // state so far, and an error from it (a checkpoint that cannot be written) ends the pass.
  const DivergenceState* resume = nullptr;
  std::function<absl::Status(const DivergenceState&)> on_sequence;
};

struct PolicyDivergence {
  std::vector<PositionDivergence> positions;  // every scored position, sequence after sequence
  DivergenceSummary summary;
  double greedy_match_len = 0;  // mean over sequences of the common prefix with the reference
  double token_match_rate = 0;  // equal tokens / tokens compared, over all sequences
  KvMemory memory_end;          // at the end of teacher forcing: mean bytes, max peak
  double evicted_tokens = 0;    // context tokens evicted by then (MemoryTally)
};

struct DivergenceRun {
  // One entry per policy, in order: its result, or why its cache could not be built.
  std::vector<absl::StatusOr<PolicyDivergence>> policies;
  KvMemory reference_memory_end;
  double seconds = 0;  // wall time of the evaluation
};

// Evaluates `policies` against `reference` in lockstep over `sequences`. Fails only when the
// reference cache cannot be built or a sequence is too short; a policy whose cache cannot be built
// gets its error in its slot and the others go on.
absl::StatusOr<DivergenceRun> EvaluateDivergence(Decoder& decoder, const CacheSpec& reference,
                                                 const std::vector<CacheSpec>& policies,
                                                 const std::vector<std::vector<int>>& sequences,
                                                 int context_tokens,
                                                 const DivergenceOptions& options);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_DIVERGENCE_H_
