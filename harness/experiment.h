// An experiment as written in YAML, checked and with its policy sweeps expanded.
//
//   name: eviction_sweep            # default: the file's stem; names the CSV and metadata
//   model: stories260K              # short name or path (model/loader.h)
//   threads: 2                      # OpenMP threads for the decoder
//   seed: 0                         # recorded with every row (the evaluation itself is greedy)
//   dataset:
//     path: ../shared/data/tinystories-valid-200.txt   # or `prompts: [text, ...]` inline
//     format: text                  # text (split on `separator`) | jsonl ({"text": ...} per line);
//                                   # default from the extension (.jsonl -> jsonl)
//     separator: "<|endoftext|>"    # text format only; a line holding only it splits stories
//     concatenate: true             # join stories into one token stream cut into sequences;
//                                   # false: one sequence per story, shorter stories skipped
//   context_tokens: 256             # tokens per sequence = prompt_tokens + score_tokens
//   prompt_tokens: 128              # prefilled in one step
//   score_tokens: 128               # decoded one token per step and scored
//   max_sequences: 4
//   policies:                       # each entry may give lists: the cartesian product is run
//     - name: window
//       budget: [32, 64]            # any other key is a policy parameter (policies/registry.h)
//       k_store: f32                # or `store:` for both K and V (harness/store_keys.h)
//       k_params: {}                # store parameters: k_params, v_params, store_params (both)
//   reference: {name: full, store: f32}   # divergence is measured against it (the default)
//   measure: [divergence, latency, memory]
//   repetitions: 3                  # latency rows per policy
//   warmup: 1                       # unrecorded latency runs before them
//   lockstep_batch: 16              # policies evaluated together in one batched pass (1: alone)
//   output: results/eviction_sweep.csv   # default results/<name>.csv
//   task: {name: niah, ...}       # a long-context task instead of divergence (harness/niah_spec.h):
//                                 # the dataset is its haystack; no token counts, measure,
//                                 # reference, repetitions or warmup
//
// Omitted token counts follow from the others; with none given context is 256, half prompt and
// half scored (llama.cpp's perplexity scores the second half of each window too). Every error names
// the file and line, e.g. "exp.yaml:7: unknown key 'budgte' in policies[0]".
#ifndef KVBENCH_HARNESS_EXPERIMENT_H_
#define KVBENCH_HARNESS_EXPERIMENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/niah_spec.h"
#include "policies/registry.h"

namespace YAML {
class Node;
}  // namespace YAML

namespace kvbench {

struct DatasetSpec {
  std::string path;                  // as written (resolved by dataset.h)
  std::vector<std::string> prompts;  // inline texts, when no path
  std::string format = "text";       // "text" | "jsonl"
  std::string separator = "<|endoftext|>";
  bool concatenate = true;
};

// One expanded sweep point.
struct PolicyCase {
  CacheSpec spec;
  int line = 0;  // YAML line of its `policies` entry
};

struct Experiment {
  std::string name;
  std::string source;  // the YAML file, for messages
  std::string model = "stories260K";
  int threads = 2;
  uint64_t seed = 0;
  DatasetSpec dataset;
  int context_tokens = 256;
  int prompt_tokens = 128;
  int score_tokens = 128;
  int max_sequences = 4;
  std::vector<PolicyCase> policies;
  CacheSpec reference;
  bool measure_divergence = true;
  bool measure_latency = true;
  bool measure_memory = true;
  int repetitions = 3;
  int warmup = 1;
  int lockstep_batch = 16;
  std::string output;
  // `--set key=value` (and `--model`) overrides the YAML was read with, as given: recorded in the
  // run metadata; they reach the config hash only through the values they change.
  std::vector<std::string> overrides;
  std::optional<NiahTask> niah;  // `task: niah`: accuracy rows instead of divergence rows

  // The experiment as resolved (defaults filled, sweeps expanded), as a JSON object: recorded in
  // the run metadata.
  std::string ToJson() const;
};

// Parses YAML text. `source` names it in errors; `default_name` is used when `name` is absent.
// InvalidArgument for syntax errors, unknown keys, wrong types, empty sweeps, unknown policy or
// store names and inconsistent token counts, always with source:line.
absl::StatusOr<Experiment> ParseExperiment(std::string_view yaml, std::string_view source,
                                           std::string_view default_name);

// As ParseExperiment, from a document YamlReader::Load parsed (and `--set` changed:
// harness/yaml_overrides.h); its nodes' positions give the lines of errors.
absl::StatusOr<Experiment> ParseExperimentDocument(const YAML::Node& root, std::string_view source,
                                                   std::string_view default_name);

// Reads and parses a file (NotFound when missing); the default name is the file's stem.
absl::StatusOr<Experiment> LoadExperiment(const std::string& path);

// JSON string literal for `s` (quotes included), for the small JSON writers of the harness.
std::string JsonQuote(std::string_view s);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_EXPERIMENT_H_
