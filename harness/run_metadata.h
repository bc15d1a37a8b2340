// What makes a run reproducible, recorded beside its CSV as <output>.json (results/x.csv ->
// results/x.json): the experiment as resolved, the model, the code version (git sha), the tool
// versions and the machine. Also the small probes the runner writes into every CSV row.
#ifndef KVBENCH_HARNESS_RUN_METADATA_H_
#define KVBENCH_HARNESS_RUN_METADATA_H_

#include <cstdint>
#include <string>

#include "harness/experiment.h"
#include "model/model.h"

namespace kvbench {

// `git rev-parse HEAD` in the current folder, or "unknown" (not a checkout, no git).
std::string GitSha();

// Current UTC time as ISO 8601, e.g. "2025-01-31T12:34:56Z".
std::string UtcTimestamp();

// The process's peak resident set size in bytes (getrusage; it only ever grows).
int64_t PeakRssBytes();

// The metadata path for a CSV path: the extension replaced by ".json".
std::string MetadataPath(const std::string& csv_path);

struct RunInfo {
  std::string started;   // UtcTimestamp()
  std::string finished;  // empty while running
  int cases_total = 0;
  int cases_skipped = 0;  // already in the CSV
  int cases_failed = 0;
  int n_sequences = 0;
};

// The metadata document (JSON); "run" lists the experiment's --set overrides.
std::string RunMetadataJson(const Experiment& experiment, const Model& model, const RunInfo& info);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_RUN_METADATA_H_
