// Helpers shared by the subcommands: the flag groups several commands take (model and threads,
// input text, experiment overrides) and error reporting with the exit-code convention.
#ifndef KVBENCH_CLI_COMMON_H_
#define KVBENCH_CLI_COMMON_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/command_line.h"
#include "formats/atomic_file.h"
#include "harness/experiment.h"
#include "harness/yaml_overrides.h"
#include "model/model.h"
#include "prefix/sweep.h"

namespace kvbench::cli {

// --model and --threads.
struct ModelFlags {
  std::string model = "stories260K";
  int threads = 2;

  void AddTo(CommandLine& cl);
  // Applies --threads (InvalidArgument below 1) and loads --model.
  absl::StatusOr<std::unique_ptr<Model>> Load() const;
};

// --text / --file (and --bos where the command tokenizes with BOS optional).
struct TextFlags {
  std::string text;
  std::string file;
  bool bos = true;

  void AddTo(CommandLine& cl, bool with_bos);
  // The text of --file if given, else of --text.
  absl::StatusOr<std::string> Read() const;
};

// --set key=value (repeatable) and --model: overrides of an experiment YAML's fields
// (harness/yaml_overrides.h), applied before it is parsed and recorded in the run metadata.
struct ExperimentFlags {
  std::vector<std::string> set;
  std::string model;

  void AddTo(CommandLine& cl);
  // The overrides in order, --model last (as `--set model=M`).
  absl::StatusOr<std::vector<YamlOverride>> Overrides() const;
  // The experiment of `path` with the overrides applied.
  absl::StatusOr<Experiment> LoadExperiment(const std::string& path) const;
  // Every point of its model / context_tokens / prompt_tokens sweep (harness/experiment_sweep.h).
  absl::StatusOr<std::vector<Experiment>> LoadExperimentSweep(const std::string& path) const;
  absl::StatusOr<PrefixExperiment> LoadPrefixExperiment(const std::string& path) const;
};

// Prints "kvbench <command>: error: <status>" and returns the exit code for it: 2 for bad input
// (InvalidArgument, NotFound, OutOfRange, DataLoss, FailedPrecondition, PermissionDenied), 1
// otherwise.
int ReportError(std::string_view command, const absl::Status& status);

}  // namespace kvbench::cli

#endif  // KVBENCH_CLI_COMMON_H_
