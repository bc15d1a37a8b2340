// Writes a loaded (or synthetic) model as a GGUF v3 file of architecture `llama`, readable by any
// GGUF reader: llama.* hyper-parameters, the tokenizer (a placeholder vocabulary when the model has
// none), norms in F32 and every matrix in its in-memory dtype, so a round trip is bit-identical.
#ifndef KVBENCH_MODEL_GGUF_EXPORT_H_
#define KVBENCH_MODEL_GGUF_EXPORT_H_

#include <string>

#include "absl/status/status.h"
#include "model/model.h"

namespace kvbench {

absl::Status WriteModelAsGguf(const Model& model, const std::string& name, const std::string& path);

}  // namespace kvbench

#endif  // KVBENCH_MODEL_GGUF_EXPORT_H_
