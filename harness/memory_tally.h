// What a cache holds at the point a case is scored, over a run's sequences: its bytes (mean
// logical, allocated, payload and index; the largest peak) and how many context tokens its policy
// had evicted by then (mean over sequences of KvCache::evicted_tokens, itself a mean over layers
// and KV heads). Divergence, latency and the needle task tally their caches with it, so every row's
// kv_bytes_* and evicted_tokens are the same numbers measured the same way.
#ifndef KVBENCH_HARNESS_MEMORY_TALLY_H_
#define KVBENCH_HARNESS_MEMORY_TALLY_H_

#include <algorithm>
#include <cstdint>

#include "absl/status/status.h"
#include "model/cache_shape.h"
#include "model/kv_cache.h"
#include "policies/registry.h"

namespace kvbench {

class MemoryTally {
 public:
  // One sequence's cache at its scored point.
  void Add(const KvCache& cache, const CacheShape& shape) {
    const KvMemory m = cache.total_memory(shape.n_layers);
    sum_.logical += m.logical;
    sum_.allocated += m.allocated;
    sum_.payload += m.payload;
    sum_.index += m.index;
    sum_.entries += m.entries;
    sum_.peak = std::max(sum_.peak, m.peak);
    evicted_sum_ += cache.evicted_tokens(shape.n_layers, shape.n_kv_heads);
    ++n_;
  }
  // Means over the sequences added (peak: the largest); zeros when none was.
  KvMemory Mean() const {
    const uint64_t n = std::max<uint64_t>(1, n_);
    return {.logical = sum_.logical / n,
            .allocated = sum_.allocated / n,
            .peak = sum_.peak,
            .payload = sum_.payload / n,
            .index = sum_.index / n,
            .entries = sum_.entries / n};
  }
  double evicted_tokens() const { return n_ > 0 ? evicted_sum_ / n_ : 0; }

  // The running sums, as a checkpoint stores them (harness/divergence_checkpoint.h).
  struct Sums {
    KvMemory sum;  // peak holds the largest, the others sums
    double evicted_sum = 0;
    uint64_t n = 0;
  };
  Sums sums() const { return {sum_, evicted_sum_, n_}; }
  static MemoryTally FromSums(const Sums& s) {
    MemoryTally t;
    t.sum_ = s.sum;
    t.evicted_sum_ = s.evicted_sum;
    t.n_ = s.n;
    return t;
  }

 private:
  KvMemory sum_;  // peak holds the largest, the others sums
  double evicted_sum_ = 0;
  uint64_t n_ = 0;
};

// FailedPrecondition when `spec`'s policy evicted nothing (evicted_tokens 0) by the point a case is
// scored, naming its budget and the context: its numbers would be the full cache's, silently
// (before, snapkv(budget=0.5) over a 384-token context with a 128-token prompt scored KL 0). OK for
// `full`, which evicts nothing by definition, and for a cache that evicted something.
absl::Status CheckEvicts(const CacheSpec& spec, double evicted_tokens, int context_tokens);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_MEMORY_TALLY_H_
