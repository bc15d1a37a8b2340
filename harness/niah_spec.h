// The `task: niah` block of an experiment (tasks/niah.h is the task itself):
//
//   task:
//     name: niah
//     lengths: [1024, 2048, 4096]   # tokens per case: BOS + context + question + answer room
//     depths: [0, 0.25, 0.5, 0.75, 1]
//     needles: [1]                  # needles per case; more than 1 is RULER's niah_multikey
//     samples: 10                   # cases per (length, depth, needles) cell
//     seed: 0                       # default: the experiment's seed
//     words: PATH                   # needle_words.json; default: the one beside the model
//     answer_tokens: 8              # greedy tokens decoded (and room left for them)
//     query_aware: false            # true: the question is inside the compressed span
//     cases: FILE                   # JSONL cases (tasks/niah.h) instead of generating them
//
// The experiment's `dataset` is the haystack (not needed with `cases`).
#ifndef KVBENCH_HARNESS_NIAH_SPEC_H_
#define KVBENCH_HARNESS_NIAH_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/yaml_reader.h"
#include "tasks/niah.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {

struct NiahTask {
  NiahGridOptions grid;
  bool seed_given = false;  // else the experiment's seed
  std::string words;        // empty: needle_words.json beside the model
  std::string cases;        // JSONL file to read instead of generating
  bool query_aware = false;
  // "file:line" of the block and of its lengths, for errors found once the model is known.
  std::string where;
  std::string lengths_where;

  // "compress_after_context" (kvpress's protocol) or "query_aware".
  std::string Protocol() const { return query_aware ? "query_aware" : "compress_after_context"; }
};

// Parses the mapping under `task` (its `name` already read as "niah").
absl::StatusOr<NiahTask> ParseNiahTask(const YamlReader& p, const YAML::Node& node);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_NIAH_SPEC_H_
