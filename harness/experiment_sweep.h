// Experiment-level sweeps: `model`, `context_tokens` and `prompt_tokens` may each be a list, and
// the experiment is then run once per combination, so one YAML gives a latency-vs-context curve:
//
//   context_tokens: [256, 512, 1024]   # with prompt_tokens: 128, score_tokens follows
//   model: [stories260K, tinystories656k]
//
// The combinations are nested loops in the order model, context_tokens, prompt_tokens (the model
// varies slowest, so each is loaded once). Each point is the document with each list replaced by
// one of its values, read by ParseExperimentDocument: the same checks as a file that gave that
// value, every error with the line of the value (or of the key the check concerns) and, when the
// point matters, which point it was. Every point writes to the same `output` CSV; the rows record
// the values in their `model`, `context_tokens` and `prompt_tokens` columns and the config hash
// covers them, so each value has its own rows and an interrupted sweep resumes per point.
#ifndef KVBENCH_HARNESS_EXPERIMENT_SWEEP_H_
#define KVBENCH_HARNESS_EXPERIMENT_SWEEP_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/experiment.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {

// The keys that may be lists, in loop order (outermost first).
const std::vector<std::string>& ExperimentSweepKeys();

// One Experiment per combination; a document without such lists gives one. `root` is changed (each
// list is replaced by its values in turn). InvalidArgument with source:line for an empty list, or
// any error of a point's experiment (naming the point: "... (sweep point context_tokens=64)").
absl::StatusOr<std::vector<Experiment>> ParseExperimentSweep(YAML::Node root,
                                                             std::string_view source,
                                                             std::string_view default_name);

// Reads a file (NotFound when missing) and parses its sweep; the default name is the file's stem.
absl::StatusOr<std::vector<Experiment>> LoadExperimentSweep(const std::string& path);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_EXPERIMENT_SWEEP_H_
