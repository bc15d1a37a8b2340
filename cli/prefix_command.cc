// kvbench prefix: serves a request trace with and without the prefix cache under a sweep of
// budget x strategy x eviction (prefix/sweep.h), writes the CSV and prints the summary table. Cases
// already in the CSV are skipped (an interrupted sweep resumes); --force recomputes them.
//
// Exit codes: 0 when the sweep completed (failed cases are CSV rows with an error); 2 for a bad
// experiment, model or workload; 1 otherwise.
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "harness/progress.h"
#include "model/loader.h"
#include "prefix/sweep.h"

namespace kvbench::cli {

int Prefix(int argc, char** argv) {
  std::string path, progress = "auto";
  ExperimentFlags experiment_flags;
  bool force = false;
  CommandLine cl("prefix",
                 "EXPERIMENT.yaml [--set key=value ...] [--force] [--progress auto|always|never]",
                 "prefix cache across requests: hit rate and TTFT per budget x strategy");
  cl.Positional("experiment", &path, "the prefix-sweep YAML, e.g. configs/prefix_sweep.yaml");
  experiment_flags.AddTo(cl);
  cl.Switch("force", &force, "recompute cases already present in the CSV")
      .Flag("progress", &progress,
            "one progress line on stderr, per request served, with an ETA: auto (only when "
            "stderr is a terminal), always, never");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  const absl::StatusOr<ProgressMode> progress_mode = ParseProgressMode(progress);
  if (!progress_mode.ok()) return ReportError("prefix", progress_mode.status());
  auto experiment = experiment_flags.LoadPrefixExperiment(path);
  if (!experiment.ok()) return ReportError("prefix", experiment.status());
  auto model = LoadModel(experiment->model);
  if (!model.ok()) return ReportError("prefix", model.status());
  std::fprintf(stderr,
               "kvbench prefix: %s: model %s, %zu budgets x %zu strategies x %zu eviction rules\n",
               experiment->name.c_str(), (*model)->path.c_str(), experiment->budgets.size(),
               experiment->strategies.size(), experiment->evictions.size());
  auto report = RunPrefixExperiment(
      *experiment, **model,
      {.force = force, .progress = ProgressEnabled(*progress_mode, stderr), .log = stderr});
  if (!report.ok()) return ReportError("prefix", report.status());
  std::fputs(report->summary.c_str(), stdout);
  std::fprintf(stderr, "%d cases run, %d skipped (already in the CSV), %d failed; wrote %s\n",
               report->cases, report->cases_skipped, report->cases_failed,
               report->csv_path.c_str());
  return 0;
}

}  // namespace kvbench::cli
