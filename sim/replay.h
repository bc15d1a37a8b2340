// Trace-driven replay: runs cache policies on a recorded trace (sim/trace.h) without the model, and
// measures attention recall, the share of the reference (full-cache) attention mass that falls on
// the positions a policy kept.
//
// Decisions come from the real policy classes, built by the registry and driven through their
// CachePolicy hooks in PolicyCache's order (BeginStep; per layer OnAppend then OnAttention; per
// (layer, KV head) SelectKeep, applied to the same KvCells PolicyCache keeps, then OnKeep;
// EndStep), with the same step structure as the harness: one prefill step of prompt_tokens, then
// one token per step. The policy's traits (policies/cache_policy.h), not its name, say which
// attention rows it reads and where the replay approximates. What the hooks receive:
//   OnAppend     a one-value "key" per position holding the recorded key norm (the policy is
//                built for head_dim 1, so KnormPolicy's norm of it is the recorded norm exactly);
//   OnAttention  one row per query over the kept entries: the recorded group mean (aggregate=mean)
//                or group max (aggregate=max), for a shape with one query head per KV head. Once
//                an entry the query could see has been evicted, the row is renormalized over the
//                kept entries by the mean row's kept mass: softmax restricted to a subset, exact
//                for a query group of one head, an approximation for GQA groups (per-head masses
//                differ) and for max rows.
// So h2o, tova, scissorhands, window, sinks and knorm make the decisions they would make on those
// attention rows bit for bit (tests/replay_test.cc compares kept sets with real runs); snapkv and
// pyramidkv sum and pool per query head in a real run and here sum the group-aggregated rows:
// identical up to rounding for aggregate=mean with avg pooling, an approximation with max.
//
// What it ignores: after an eviction the model's later hidden states, queries, keys and attention
// change; the replay keeps using the full run's. Recall is therefore an optimistic, first-order
// screen: rank candidates with it, then measure the survivors with `kvbench run`.
//
// Recall is sampled for every decode step (query positions prompt_tokens .. T-1), layer and KV
// head of every sequence; the prefill step attends before any eviction (recall 1) and is not
// sampled. Bytes kept are the K and V store bytes (sim/planner.h StoreBytes, the stores' own
// accounting) of the entries held at the end of each sequence, averaged over sequences.
#ifndef KVBENCH_SIM_REPLAY_H_
#define KVBENCH_SIM_REPLAY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "policies/registry.h"
#include "sim/trace.h"

namespace kvbench {

struct RecallStats {
  int64_t n = 0;  // samples: sequences x decode steps x layers x KV heads
  double mean = 0, p1 = 0, p5 = 0, p10 = 0, p50 = 0, min = 0;
};

struct ReplayResult {
  std::string label;   // CacheSpec::Label()
  std::string policy;  // registry name
  int budget = -1;     // tokens per KV head (-1: the policy has none)
  RecallStats recall;
  double entries_mean = 0;    // entries per (layer, KV head) at the end of a sequence
  double kv_bytes_mean = 0;   // K + V store bytes at the end of a sequence
  std::string approximation;  // empty when decisions match a real run on the same attention
};

struct ReplayOptions {
  // Called after every step's SelectKeep with the positions (layer, head) keeps; for tests.
  std::function<void(int sequence, int step_end, int layer, int head,
                     absl::Span<const int32_t> kept)>
      on_keep;
};

// Replays one cache spec (policy + stores; the stores only size the bytes). InvalidArgument /
// NotFound for a policy or store the registry rejects (message names the parameter), or `none`.
absl::StatusOr<ReplayResult> ReplayPolicy(const Trace& trace, const CacheSpec& spec,
                                          const ReplayOptions& options = {});

// Replays every spec, `threads` at a time; one failed spec is a result with its status.
std::vector<absl::StatusOr<ReplayResult>> ReplayAll(const Trace& trace,
                                                    const std::vector<CacheSpec>& specs,
                                                    int threads);

// Parses a sweep: policies separated by ';', each "name:param=v1,v2,...,param2=..." where a
// comma-separated item without '=' is one more value of the preceding parameter, and a value may
// be a range "a..b+step" or "a..b*factor" (integers, b included). The cartesian product of each
// policy's values is expanded, in order. Stores come from `k_store` / `v_store` (name(params)).
// InvalidArgument naming the offending text.
absl::StatusOr<std::vector<CacheSpec>> ParsePolicySweep(const std::string& text,
                                                        const std::string& k_store,
                                                        const std::string& v_store);

// The results as a table (sorted as given) or as CSV with a header.
std::string ReplayTable(const TraceHeader& header, const std::vector<CacheSpec>& specs,
                        const std::vector<absl::StatusOr<ReplayResult>>& results);
std::string ReplayCsv(const std::vector<CacheSpec>& specs,
                      const std::vector<absl::StatusOr<ReplayResult>>& results);

// What every report of simulated numbers says about them.
extern const char kReplayCaveat[];

}  // namespace kvbench

#endif  // KVBENCH_SIM_REPLAY_H_
