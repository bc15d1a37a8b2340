// kvbench run: runs a YAML experiment (harness/experiment.h), appends its rows to the CSV, writes
// the run metadata beside it and prints a summary table.
//
// Exit codes: 0 when the sweep completed, even if some cases became error rows (they are listed on
// stderr and in the CSV's `error` column); 2 for a bad experiment, model or dataset; 1 otherwise.
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "formats/atomic_file.h"
#include "harness/csv.h"
#include "harness/experiment.h"
#include "harness/progress.h"
#include "harness/row_formats.h"
#include "harness/run_metadata.h"
#include "harness/runner.h"
#include "model/loader.h"

namespace kvbench::cli {

int Run(int argc, char** argv) {
  std::string path, progress = "auto", cases_out, format = "csv", format_output;
  ExperimentFlags experiment_flags;
  bool force = false, lockstep_check = false;
  CommandLine cl("run", "EXPERIMENT.yaml [--set key=value ...] [flags]",
                 "run a YAML experiment: sweep policies, write CSV + summary");
  cl.Positional("experiment", &path, "the experiment YAML, e.g. configs/quickstart.yaml");
  experiment_flags.AddTo(cl);
  cl.Switch("force", &force, "recompute cases already present in the CSV")
      .Switch("lockstep_check", &lockstep_check,
              "also evaluate the first lockstep batch one policy at a time: print the speed-up "
              "and check the numbers are identical")
      .Flag("progress", &progress,
            "one progress line on stderr, per token fed, with an ETA: auto (only when stderr is a "
            "terminal), always, never")
      .Flag("format", &format,
            "rows also as jsonl, json or md (Markdown), written beside the CSV from its rows "
            "after the run; csv (the default): the CSV alone, the resumable store of record")
      .Flag("format_output", &format_output,
            "where --format's file goes (default: the CSV's path with .jsonl, .rows.json or .md)")
      .Flag("cases_out", &cases_out,
            "task niah: write one JSONL line per case and cache (case, policy, answer, correct)");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  const absl::StatusOr<ProgressMode> progress_mode = ParseProgressMode(progress);
  if (!progress_mode.ok()) return ReportError("run", progress_mode.status());
  const absl::StatusOr<RowFormat> row_format = ParseRowFormat(format);
  if (!row_format.ok()) return ReportError("run", row_format.status());
  if (!format_output.empty() && *row_format == RowFormat::kCsv) {
    return ReportError(
        "run", absl::InvalidArgumentError("--format-output needs --format jsonl, json or md"));
  }
  auto experiment = experiment_flags.LoadExperiment(path);
  if (!experiment.ok()) return ReportError("run", experiment.status());
  // Checked before the first case, so a bad path fails before the work, not after it.
  if (format_output.empty()) format_output = RowFormatPath(experiment->output, *row_format);
  if (*row_format != RowFormat::kCsv) {
    if (absl::Status s = CheckOutputPath(format_output); !s.ok()) return ReportError("run", s);
    if (format_output == experiment->output || format_output == MetadataPath(experiment->output)) {
      return ReportError("run", absl::InvalidArgumentError(
                                    absl::StrCat("--format-output ", format_output,
                                                 " is the experiment's CSV or its metadata")));
    }
  }
  auto model = LoadModel(experiment->model);
  if (!model.ok()) return ReportError("run", model.status());

  RunOptions options{.force = force,
                     .progress = ProgressEnabled(*progress_mode, stderr),
                     .lockstep_check = lockstep_check,
                     .log = stderr,
                     .cases_out = cases_out};
  if (!cases_out.empty() && !experiment->niah) {
    return ReportError("run", absl::InvalidArgumentError(
                                  "--cases-out applies to an experiment with `task: niah`"));
  }
  if (experiment->niah) {
    std::fprintf(stderr, "kvbench run: %s: task niah, %zu caches, protocol %s, model %s\n",
                 experiment->name.c_str(), experiment->policies.size(),
                 experiment->niah->Protocol().c_str(), (*model)->path.c_str());
  } else {
    std::fprintf(stderr,
                 "kvbench run: %s: %zu cases (%zu policy specs x %d repetitions), model %s\n",
                 experiment->name.c_str(), experiment->policies.size() * experiment->repetitions,
                 experiment->policies.size(), experiment->repetitions, (*model)->path.c_str());
  }
  auto report = RunExperiment(*experiment, **model, options);
  if (!report.ok()) return ReportError("run", report.status());
  std::fputs(report->summary.c_str(), stdout);
  std::fprintf(stderr, "%d cases run, %d skipped (already in the CSV), %d failed; %.1f s\n",
               report->cases_run, report->cases_skipped, report->cases_failed, report->seconds);
  std::fprintf(stderr, "wrote %s and %s\n", report->csv_path.c_str(),
               report->metadata_path.c_str());
  if (*row_format != RowFormat::kCsv) {
    // From the CSV as written: the same rows, every configuration the file holds.
    auto rows = ReadCsvFile(report->csv_path);
    if (!rows.ok()) return ReportError("run", rows.status());
    if (absl::Status s = WriteFileAtomically(format_output, FormatRows(*rows, *row_format));
        !s.ok()) {
      return ReportError("run", s);
    }
    std::fprintf(stderr, "wrote %s (%zu rows)\n", format_output.c_str(), rows->rows.size());
  }
  if (report->cases_failed > 0) {
    std::fprintf(stderr, "note: %d cases failed; see the `error` column\n", report->cases_failed);
  }
  return 0;
}

}  // namespace kvbench::cli
