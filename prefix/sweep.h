// A prefix-cache experiment: one workload served under a sweep of cache budget x strategy x
// eviction rule, plus the no-cache baseline, one CSV row per case (the harness's results contract,
// harness/result_table.h: an `error` column, git sha and config hash per row, written atomically
// after every case, resumed where an interrupted sweep stopped).
//
//   name: prefix_sweep                  # default: the file's stem
//   model: stories260K
//   threads: 2
//   cache: {k_store: f32, v_store: f32} # each request's KV stores, as harness/store_keys.h
//                                       # (one value each); the policy is `full`
//   block_tokens: 16
//   context_tokens: 512                 # request KV cache shape; longer requests are errors
//   workload:                           # generated (prefix/workload.h) ...
//     stories: ../shared/data/tinystories-valid-200.txt
//     seed: 0
//     requests: 160                     # and any WorkloadOptions field by name
//   # workload: {trace: my_trace.jsonl} # ... or read from JSONL
//   warmup_requests: 32                 # the warm-up window (never measured)
//   active_top_k: 4
//   declared_prefixes: []               # texts (BOS prepended), warmed first by active/hybrid
//   budget_tokens: [64, 256, 1024]      # budgets as cached tokens (x bytes_per_token), or
//   # budget_bytes: [...]               # as bytes
//   strategy: [lazy, active, hybrid]
//   eviction: [lru, lfu]
//   repetitions: 1
//   output: results/prefix_sweep.csv
//
// Every error names the file and line ("exp.yaml:7: unknown key 'budgte'").
#ifndef KVBENCH_PREFIX_SWEEP_H_
#define KVBENCH_PREFIX_SWEEP_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model.h"
#include "policies/registry.h"
#include "prefix/prefix_cache.h"
#include "prefix/serve.h"
#include "prefix/workload.h"

namespace YAML {
class Node;
}  // namespace YAML

namespace kvbench {

struct PrefixExperiment {
  std::string name;
  std::string source;
  std::string model = "stories260K";
  int threads = 2;
  CacheSpec cache;
  int block_tokens = 16;
  int context_tokens = 512;
  std::string stories = "../shared/data/tinystories-valid-200.txt";
  std::string trace;  // JSONL path; empty: generate
  WorkloadOptions workload;
  int warmup_requests = 32;
  int active_top_k = 4;
  std::vector<std::string> declared_prefixes;
  bool budget_in_tokens = true;
  std::vector<uint64_t> budgets = {64, 256, 1024};
  std::vector<PrefixStrategy> strategies = {PrefixStrategy::kLazy, PrefixStrategy::kActive};
  std::vector<EvictionRule> evictions = {EvictionRule::kLru, EvictionRule::kLfu};
  int repetitions = 1;
  std::string output;
};

absl::StatusOr<PrefixExperiment> ParsePrefixExperiment(std::string_view yaml,
                                                       std::string_view source,
                                                       std::string_view default_name);
// As ParsePrefixExperiment, from a document YamlReader::Load parsed (and `--set` changed:
// harness/yaml_overrides.h).
absl::StatusOr<PrefixExperiment> ParsePrefixExperimentDocument(const YAML::Node& root,
                                                               std::string_view source,
                                                               std::string_view default_name);
absl::StatusOr<PrefixExperiment> LoadPrefixExperiment(const std::string& path);

// The CSV header, in order (documented in docs/prefix_cache.md).
const std::vector<std::string>& PrefixResultColumns();

struct PrefixRunOptions {
  bool force = false;     // recompute cases already in the CSV
  bool progress = false;  // draw a progress line on `log`, per request served (harness/progress.h)
  FILE* log = stderr;     // resume notes and failed cases; nullptr for silence
};

struct PrefixRunReport {
  std::string csv_path;
  int cases = 0;          // run now
  int cases_skipped = 0;  // already in the CSV
  int cases_failed = 0;   // rows written with an error
  std::string summary;    // a table: budget x strategy x eviction -> hit rate, TTFT p50 reduction
};

// Runs every case (per repetition the baseline `none` first, then the sweep) and writes the CSV
// after each row. Resumes as the divergence sweep does (harness/result_table.h): cases already in
// the CSV without an error are skipped. A case that fails becomes a row with its error;
// experiment-wide failures (model, workload, output) are returned.
absl::StatusOr<PrefixRunReport> RunPrefixExperiment(const PrefixExperiment& e, const Model& model,
                                                    const PrefixRunOptions& options);

}  // namespace kvbench

#endif  // KVBENCH_PREFIX_SWEEP_H_
