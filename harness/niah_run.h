// Runs an experiment's `task: niah` (harness/niah_spec.h, tasks/niah.h): every cache of the sweep
// answers every case, one CSV row per (cache, length, depth, needles) cell with exact-match
// accuracy and its Wilson 95% interval.
//
// Protocol (recorded in every row), kvpress's by default, `compress_after_context`:
//   1. BOS + context is prefilled in one step. Caches that store K/V in the same formats share it
//      as lockstep mirrors (the rows are computed once); each policy compresses at the end of that
//      step, so a one-shot policy (snapkv) compresses the context once and a streaming policy
//      (window, h2o) evicts down to its budget there, as kvpress applies every press after prefill.
//      A quantized store differs from the first token, so each store group has its own prefill.
//   2. The question is fed through the compressed cache (one step, all caches batched).
//   3. answer_tokens greedy tokens are decoded one step at a time (all caches batched).
// `query_aware`: the question is part of step 1 (inside the compressed span), then 3.
// The decoder computes every batch row as it would alone, so batching changes no answer.
//
// Budgets given as ratios are fractions of the case's context (BOS + context tokens), the span
// that is compressed. Latency columns are the wall time of the shared steps a cache took part in:
// its store group's context prefill, the batched question step and the mean batched decode step.
//
// The results contract is harness/result_table.h's: a row's config hash covers the model, the
// cases (generated: the grid and haystack; read: the file's bytes), the protocol, threads, seed and
// the cache; rows resume, error rows are retried, a cache that cannot be built for a cell becomes
// an error row and the others go on.
#ifndef KVBENCH_HARNESS_NIAH_RUN_H_
#define KVBENCH_HARNESS_NIAH_RUN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/experiment.h"
#include "harness/runner.h"
#include "model/model.h"

namespace kvbench {

// The CSV header of a niah run, in order (docs/harness.md).
const std::vector<std::string>& NiahColumns();

// The experiment's cases: generated from its grid, haystack and words, or read from task.cases.
// Errors name the YAML line (a length beyond the model's context, a length too short for the
// needles).
absl::StatusOr<std::vector<NiahCase>> LoadNiahCases(const Experiment& e, const Model& model);

// Runs `e` (e.niah set). With options.cases_out, writes one JSONL line per case and cache run.
absl::StatusOr<RunReport> RunNiahExperiment(const Experiment& e, const Model& model,
                                            const RunOptions& options);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_NIAH_RUN_H_
