// Runs an experiment: every (policy spec, repetition) case over the experiment's sequence set,
// one CSV row per case, written after each case so an interrupted sweep resumes where it stopped.
//
// Order of work: policies are taken lockstep_batch at a time; for each batch the divergence of all
// of them is evaluated together (harness/divergence.h), then each policy runs alone for latency
// and memory (harness/latency.h), and its rows are appended.
//
// Resume (harness/result_table.h): each case has a config hash over everything that determines its
// numbers (model, dataset, token counts, seed, threads, measures, warmup, reference, cache spec,
// repetition; not the experiment's name, output path or lockstep_batch, which change no number). A
// case whose hash is already in the CSV with an empty `error` is skipped; error rows are retried;
// `force` recomputes every case. Rows of other configurations already in the file are kept.
//
// A case that fails (invalid parameters at one sweep point, a store that rejects the shape) becomes
// a row with its `error` and the sweep goes on. Errors that concern the whole experiment (model,
// dataset, reference, an unreadable CSV) are returned as a Status instead.
#ifndef KVBENCH_HARNESS_RUNNER_H_
#define KVBENCH_HARNESS_RUNNER_H_

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/experiment.h"
#include "model/model.h"

namespace kvbench {

// The CSV header, in order (documented column by column in docs/harness.md).
const std::vector<std::string>& ResultColumns();

struct RunOptions {
  bool force = false;     // recompute cases already in the CSV
  bool progress = false;  // draw a progress bar on `log` (the CLI sets it when stderr is a tty)
  // Also evaluate the first lockstep batch one policy at a time: prints both times and the
  // speed-up, and fails (Internal) if any divergence number differs.
  bool lockstep_check = false;
  FILE* log = stderr;  // messages, progress and the summary table; nullptr for silence
  // task niah: one JSONL line per case and cache ({"case", "policy", "answer", "correct", ...}).
  std::string cases_out;
};

struct RunReport {
  std::string csv_path;
  std::string metadata_path;
  int cases_total = 0;
  int cases_skipped = 0;
  int cases_run = 0;
  int cases_failed = 0;  // rows written with an error
  double seconds = 0;
  double lockstep_seconds = 0;  // lockstep check only: the lockstep evaluation of the first batch
  double alone_seconds = 0;     // ... and the same policies one at a time
  std::string summary;          // the table printed at the end
};

// Runs `experiment` with an already loaded model (sets the decoder's thread count).
absl::StatusOr<RunReport> RunExperiment(const Experiment& experiment, const Model& model,
                                        const RunOptions& options);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_RUNNER_H_
