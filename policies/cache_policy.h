// A cache policy decides which cached positions stay; it never touches K/V bytes (the store does).
//
// PolicyCache (policy_cache.h) drives it: after each append it reports the new keys, after each
// attention the probabilities the step's queries put on every entry (computed once, by the
// attention itself), and at the end of the step it asks which entries to keep. Budgets are per KV
// head; entries of (layer, head) are ordered by position and indexed [0, size).
//
// A new policy is one header/source pair implementing this interface plus one row in the registry
// (registry.cc); the decoder and the harness need no change.
#ifndef KVBENCH_POLICIES_CACHE_POLICY_H_
#define KVBENCH_POLICIES_CACHE_POLICY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "model/cache_shape.h"

namespace kvbench {

class CachePolicy {
 public:
  virtual ~CachePolicy() = default;

  // The registry name with its parameters, e.g. "window(budget=64)".
  virtual std::string name() const = 0;

  // Whether OnAttention should be called (score-based policies); skipping it keeps `full` lean.
  virtual bool wants_attention() const { return false; }
  // False only for `none`: nothing survives a step, the caller recomputes the prefix.
  virtual bool retains_entries() const { return true; }

  virtual void BeginStep(int pos0, int n_tokens) {}
  // n new keys (RoPE applied) appended to (layer, head); key i at keys + i * ld.
  virtual void OnAppend(int layer, int head, const float* keys, int n, int ld) {}
  // Attention probabilities of this step's queries t0 .. t0 + n_q / group - 1 over the entries of
  // (layer, head): probs[i * ld + j], i = (t - t0) * group + query head within the group, j < n.
  // Rows of queries that cannot see an entry (causality inside a prefill block) hold 0 there. May be
  // called several times per step with consecutive query ranges.
  virtual void OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n, int ld) {}
  // At the end of a step: fills `keep` with the indices of entries to keep (strictly increasing)
  // and returns true, or returns false to keep all. `positions` are the entries' absolute positions.
  // A policy that keeps per-entry state compacts it here, with the same indices.
  virtual bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                          std::vector<int>* keep) = 0;

  // Bytes of per-entry policy state (scores, counters) held for a layer, for memory reports.
  virtual uint64_t metadata_bytes(int layer) const { return 0; }

  // The policy's own promise, checked by the conformance suite and reported by the harness: the
  // most entries one KV head of `layer` (max_entries) or all KV heads of `layer` together
  // (max_layer_entries) may hold after the last EndStep; -1 = no bound (full). One-shot policies
  // (snapkv) bound the compressed prompt plus the tokens decoded since.
  virtual int64_t max_entries(int layer) const { return -1; }
  virtual int64_t max_layer_entries(int layer) const { return -1; }
};

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_CACHE_POLICY_H_
