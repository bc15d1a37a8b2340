// A cache policy decides which cached positions stay; it never touches K/V bytes (the store does).
//
// PolicyCache (policy_cache.h) drives it: after each append it reports the new keys, after each
// attention the probabilities the step's queries put on every entry (computed once, by the
// attention itself), and at the end of the step it asks which entries to keep. Budgets are per KV
// head; entries of (layer, head) are ordered by position and indexed [0, size).
//
// Plan, then apply (llama.cpp's prepare() / apply_ubatch()): SelectKeep only plans; the cache
// checks the plan, applies it to its cells and stores, and then tells the policy through OnKeep,
// where a policy with per-entry state compacts it. EndStep closes the step.
//
// A new policy is one header/source pair implementing this interface and declaring its PolicyInfo
// (policy_info.h), plus one line in the registry's list (registry.cc); the decoder and the harness
// need no change.
#ifndef KVBENCH_POLICIES_CACHE_POLICY_H_
#define KVBENCH_POLICIES_CACHE_POLICY_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "model/cache_shape.h"
#include "policies/score_utils.h"

namespace kvbench {

// What a policy is, for tools that drive it without knowing its name (sim/replay.cc).
struct PolicyTraits {
  int budget = -1;  // entries per KV head it was built for; -1: none (full, none)
  // How a KV head combines its query group's attention (kMean for a policy that reads none).
  Aggregate aggregate = Aggregate::kMean;
  // Sums the prompt's attention per query head and pools it over positions before aggregating
  // the group (the snapkv family), by max or by average.
  bool pools_prompt_scores = false;
  bool max_pooling = false;
};

class CachePolicy {
 public:
  virtual ~CachePolicy() = default;

  // What this policy is, as built (its budget and aggregate are parameters).
  virtual PolicyTraits traits() const { return {}; }
  // Whether OnAttention should be called (score-based policies); skipping it keeps `full` lean.
  virtual bool wants_attention() const { return false; }
  // How many of the step's last queries (of n_tokens) OnAttention reads; the rows of the others
  // may go unreported. A lockstep mirror (StepInput::mirrors) computes attention for these rows
  // only: all of them for a policy that accumulates every query (h2o), the observation window of a
  // one-shot prefill (snapkv), the newest query (tova), none without wants_attention(). Called
  // after BeginStep.
  virtual int observed_queries(int n_tokens) const { return wants_attention() ? n_tokens : 0; }
  // False only for `none`: nothing survives a step, the caller recomputes the prefix.
  virtual bool retains_entries() const { return true; }

  virtual void BeginStep(int pos0, int n_tokens) {}
  // n new keys (RoPE applied) appended to (layer, head); key i at keys + i * ld.
  virtual void OnAppend(int layer, int head, const float* keys, int n, int ld) {}
  // Whether OnValues and OnQueries should be called (expected_attention reads both).
  virtual bool wants_queries() const { return false; }
  // The n new values appended to (layer, head), after OnAppend; value i at values + i * ld.
  virtual void OnValues(int layer, int head, const float* values, int n, int ld) {}
  // The step's queries of `layer` before its attention: q[t * ld + qh * head_dim + d] for token t
  // (at position pos0 + t, RoPE applied) and query head qh.
  virtual void OnQueries(int layer, const float* q, int n_tokens, int ld) {}
  // Attention probabilities of this step's queries t0 .. t0 + n_q / group - 1 over the entries of
  // (layer, head): probs[i * ld + j], i = (t - t0) * group + query head within the group, j < n.
  // Rows of queries that cannot see an entry (causality inside a prefill block) hold 0 there. May
  // be called several times per step with consecutive query ranges, which start at or after the
  // first of the observed_queries: the result must not depend on how the rows are split.
  virtual void OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                           int ld) {}
  // Whether SelectKeep ranks the entries by their keys as the K store holds them: then the cache
  // calls OnStoredKeys for (layer, head) right before each SelectKeep of it, and the policy keeps
  // no copy of its own (keydiff: kvpress's KeyDiffPress scores the cached keys when it compresses).
  virtual bool plans_from_stored_keys() const { return false; }
  // The n keys of (layer, head) as the K store returns them (KvStore::Read: dequantized, RoPE at
  // the positions they were stored with), keys[j * head_dim + d] for entry j; valid during the
  // SelectKeep that follows.
  virtual void OnStoredKeys(int layer, int head, const float* keys, int n) {}
  // At the end of a step, the plan: fills `keep` with the indices of entries to keep (strictly
  // increasing) and returns true, or returns false to keep all. `positions` are the entries'
  // absolute positions. Changes nothing: the plan is applied by the caller.
  virtual bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                          std::vector<int>* keep) const = 0;
  // The plan SelectKeep returned for (layer, head) was applied: only the entries at `keep` remain,
  // in order. A policy with per-entry state compacts it here, with the same indices.
  virtual void OnKeep(int layer, int head, absl::Span<const int> keep) {}
  // After every (layer, head) of the step was planned and applied: state only the step needed
  // (a one-shot policy's prompt scores) can go.
  virtual void EndStep() {}

  // The scores the policy ranks the entries of (layer, head) by now, one per entry in order, for
  // reports (`kvbench keep --scores`); false for a policy that holds none (one-shot policies
  // release theirs once the prompt is compressed).
  virtual bool EntryScores(int layer, int head, std::vector<float>* out) const { return false; }

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
