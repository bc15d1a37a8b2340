// kvbench run: runs a YAML experiment (harness/experiment.h), appends its rows to the CSV, writes
// the run metadata beside it and prints a summary table.
//
// Exit codes: 0 when the sweep completed, even if some cases became error rows (they are listed on
// stderr and in the CSV's `error` column); 2 for a bad experiment, model or dataset; 1 otherwise.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "harness/experiment.h"
#include "harness/runner.h"
#include "model/loader.h"

ABSL_FLAG(bool, force, false, "recompute cases already present in the CSV");
ABSL_FLAG(bool, lockstep_check, false,
          "also evaluate the first lockstep batch one policy at a time: print the speed-up and "
          "check the numbers are identical");
ABSL_FLAG(std::string, progress, "auto",
          "progress bar on stderr: auto (when a terminal), always, never");

namespace kvbench::cli {

int Run(int argc, char** argv) {
  const std::vector<std::string> args =
      ParseFlags("run", "EXPERIMENT.yaml [--force] [--lockstep_check]", argc, argv);
  if (args.size() != 1) {
    return ReportError(
        "run", absl::InvalidArgumentError(
                   "expected one experiment file, e.g. kvbench run configs/quickstart.yaml"));
  }
  const std::string progress = absl::GetFlag(FLAGS_progress);
  if (progress != "auto" && progress != "always" && progress != "never") {
    return ReportError("run", absl::InvalidArgumentError(absl::StrCat(
                                  "--progress '", progress, "' is not auto, always or never")));
  }
  auto experiment = LoadExperiment(args[0]);
  if (!experiment.ok()) return ReportError("run", experiment.status());
  auto model = LoadModel(experiment->model);
  if (!model.ok()) return ReportError("run", model.status());

  RunOptions options{
      .force = absl::GetFlag(FLAGS_force),
      .progress = progress == "always" || (progress == "auto" && isatty(fileno(stderr))),
      .lockstep_check = absl::GetFlag(FLAGS_lockstep_check),
      .log = stderr};
  std::fprintf(stderr, "kvbench run: %s: %zu cases (%zu policy specs x %d repetitions), model %s\n",
               experiment->name.c_str(), experiment->policies.size() * experiment->repetitions,
               experiment->policies.size(), experiment->repetitions, (*model)->path.c_str());
  auto report = RunExperiment(*experiment, **model, options);
  if (!report.ok()) return ReportError("run", report.status());
  std::fputs(report->summary.c_str(), stdout);
  std::fprintf(stderr, "%d cases run, %d skipped (already in the CSV), %d failed; %.1f s\n",
               report->cases_run, report->cases_skipped, report->cases_failed, report->seconds);
  std::fprintf(stderr, "wrote %s and %s\n", report->csv_path.c_str(),
               report->metadata_path.c_str());
  if (report->cases_failed > 0) {
    std::fprintf(stderr, "note: %d cases failed; see the `error` column\n", report->cases_failed);
  }
  return 0;
}

}  // namespace kvbench::cli
