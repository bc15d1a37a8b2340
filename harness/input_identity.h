// What a case's numbers depend on beyond the experiment's text, for its config_hash
// (harness/result_table.h): the dataset's content, the resolved model file and kvbench's version.
// Before, the hash covered the dataset's path and the model's name only, so a changed dataset or a
// retrained model under the same name silently reused old rows.
#ifndef KVBENCH_HARNESS_INPUT_IDENTITY_H_
#define KVBENCH_HARNESS_INPUT_IDENTITY_H_

#include <string>

#include "absl/status/statusor.h"
#include "harness/experiment.h"

namespace kvbench {

// "dataset.content=<HashHex of the file's bytes>" for a `path` dataset (resolved as LoadTexts
// does), "dataset.content=inline" for inline prompts (already part of the experiment's key).
absl::StatusOr<std::string> DatasetIdentity(const DatasetSpec& spec);

// "model.file=<resolved path> size=<bytes> mtime=<ns>" for a model file; for a model folder (a
// Hugging Face checkpoint) the same for each regular file in it, sorted by name.
absl::StatusOr<std::string> ModelFileIdentity(const std::string& name_or_path);

// The three lines the config hash adds to an experiment's key: the dataset's and the model's
// identity and "kvbench.version=<kKvbenchVersion>".
absl::StatusOr<std::string> InputsKey(const Experiment& e);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_INPUT_IDENTITY_H_
