// Speed and footprint of one cache policy running alone (no batching with others), on the same
// teacher-forced tokens as the divergence runs: the prompt prefilled in one step, then one token
// per decode step. One call is one repetition over every sequence; the caller runs warmup calls
// first and discards them.
#ifndef KVBENCH_HARNESS_LATENCY_H_
#define KVBENCH_HARNESS_LATENCY_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "policies/registry.h"

namespace kvbench {

struct LatencyOptions {
  int prompt_tokens = 128;
  int decode_tokens = 127;  // decode steps per sequence after the prefill (>= 0)
  // Progress: called after each step, outside the timed part, with the tokens it fed;
  // prompt_tokens + decode_tokens per sequence.
  std::function<void(int64_t tokens)> on_tokens;
};

struct LatencyResult {
  double prefill_ms = 0;     // mean over sequences
  double decode_ms_p50 = 0;  // per decode step (one token), over all steps of all sequences
  double decode_ms_p95 = 0;
  double decode_ms_p99 = 0;
  double decode_tokens_per_s = 0;  // decode steps / total decode time
  double bookkeeping_share = 0;    // PolicyCache::policy_ns() during decode / decode time
  KvMemory memory_end;             // at the end of each sequence: mean bytes, max peak
  double evicted_tokens = 0;       // context tokens evicted by then (MemoryTally)
};

// InvalidArgument (etc.) when the cache cannot be built; OutOfRange for a too-short sequence.
absl::StatusOr<LatencyResult> MeasureAlone(Decoder& decoder, const CacheSpec& spec,
                                           const std::vector<std::vector<int>>& sequences,
                                           int context_tokens, const LatencyOptions& options);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_LATENCY_H_
