// kvbench run: runs a YAML experiment (harness/experiment.h), or each point of its model /
// context_tokens / prompt_tokens lists (harness/experiment_sweep.h), appends the rows to the CSV,
// writes the run metadata beside it and prints a summary table per point.
//
// Exit codes: 0 when the sweep completed, even if some cases became error rows (they are listed on
// stderr and in the CSV's `error` column); 2 for a bad experiment, model or dataset; 1 otherwise.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
namespace {

// " (context_tokens 512)": the values of the keys a sweep varies, empty for one experiment.
std::string SweepPoint(const std::vector<Experiment>& sweep, const Experiment& e) {
  bool model = false, context = false, prompt = false;
  for (const Experiment& other : sweep) {
    model |= other.model != e.model;
    context |= other.context_tokens != e.context_tokens;
    prompt |= other.prompt_tokens != e.prompt_tokens;
  }
  std::vector<std::string> parts;
  if (model) parts.push_back(absl::StrCat("model ", e.model));
  if (context) parts.push_back(absl::StrCat("context_tokens ", e.context_tokens));
  if (prompt) parts.push_back(absl::StrCat("prompt_tokens ", e.prompt_tokens));
  return parts.empty() ? "" : absl::StrCat(" (", absl::StrJoin(parts, ", "), ")");
}

}  // namespace

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
  // One experiment, or one per point of a model / context_tokens / prompt_tokens sweep
  // (harness/experiment_sweep.h), all writing the same CSV.
  auto sweep = experiment_flags.LoadExperimentSweep(path);
  if (!sweep.ok()) return ReportError("run", sweep.status());
  const Experiment& first = sweep->front();
  // Checked before the first case, so a bad path fails before the work, not after it.
  if (format_output.empty()) format_output = RowFormatPath(first.output, *row_format);
  if (*row_format != RowFormat::kCsv) {
    if (absl::Status s = CheckOutputPath(format_output); !s.ok()) return ReportError("run", s);
    if (format_output == first.output || format_output == MetadataPath(first.output)) {
      return ReportError("run", absl::InvalidArgumentError(
                                    absl::StrCat("--format-output ", format_output,
                                                 " is the experiment's CSV or its metadata")));
    }
  }
  if (!cases_out.empty() && !first.niah) {
    return ReportError("run", absl::InvalidArgumentError(
                                  "--cases-out applies to an experiment with `task: niah`"));
  }
  if (!cases_out.empty() && sweep->size() > 1) {
    return ReportError("run", absl::InvalidArgumentError(
                                  "--cases-out takes one experiment, not a sweep of models"));
  }
  const RunOptions options{.force = force,
                           .progress = ProgressEnabled(*progress_mode, stderr),
                           .lockstep_check = lockstep_check,
                           .log = stderr,
                           .cases_out = cases_out};
  std::unique_ptr<Model> model;  // loaded once per model: a sweep's model varies slowest
  int run = 0, skipped = 0, failed = 0;
  double seconds = 0;
  std::string csv_path, metadata_path, loaded_model;
  for (const Experiment& experiment : *sweep) {
    if (model == nullptr || experiment.model != loaded_model) {
      if (auto loaded = LoadModel(experiment.model); loaded.ok()) {
        model = *std::move(loaded);
        loaded_model = experiment.model;
      } else {
        return ReportError("run", loaded.status());
      }
    }
    const std::string point = SweepPoint(*sweep, experiment);
    if (experiment.niah) {
      std::fprintf(stderr, "kvbench run: %s%s: task niah, %zu caches, protocol %s, model %s\n",
                   experiment.name.c_str(), point.c_str(), experiment.policies.size(),
                   experiment.niah->Protocol().c_str(), model->path.c_str());
    } else {
      std::fprintf(stderr,
                   "kvbench run: %s%s: %zu cases (%zu policy specs x %d repetitions), model %s\n",
                   experiment.name.c_str(), point.c_str(),
                   experiment.policies.size() * experiment.repetitions, experiment.policies.size(),
                   experiment.repetitions, model->path.c_str());
    }
    auto report = RunExperiment(experiment, *model, options);
    if (!report.ok()) return ReportError("run", report.status());
    if (!point.empty()) std::printf("%s\n", point.substr(1).c_str());
    std::fputs(report->summary.c_str(), stdout);
    run += report->cases_run;
    skipped += report->cases_skipped;
    failed += report->cases_failed;
    seconds += report->seconds;
    csv_path = report->csv_path;
    metadata_path = report->metadata_path;
  }
  std::fprintf(stderr, "%d cases run, %d skipped (already in the CSV), %d failed; %.1f s\n", run,
               skipped, failed, seconds);
  std::fprintf(stderr, "wrote %s and %s\n", csv_path.c_str(), metadata_path.c_str());
  if (*row_format != RowFormat::kCsv) {
    // From the CSV as written: the same rows, every configuration the file holds.
    auto rows = ReadCsvFile(csv_path);
    if (!rows.ok()) return ReportError("run", rows.status());
    if (absl::Status s = WriteFileAtomically(format_output, FormatRows(*rows, *row_format));
        !s.ok()) {
      return ReportError("run", s);
    }
    std::fprintf(stderr, "wrote %s (%zu rows)\n", format_output.c_str(), rows->rows.size());
  }
  if (failed > 0) std::fprintf(stderr, "note: %d cases failed; see the `error` column\n", failed);
  return 0;
}

}  // namespace kvbench::cli
