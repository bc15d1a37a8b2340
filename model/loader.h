// Finds and loads a model by short name or path, whatever its format.
//
//   stories260K | tinystories656k | aidreams260K     short names, searched in $KVBENCH_MODELS,
//                                                     ./models and ../shared/models
//   path/to/file.gguf                                 GGUF v2/v3
//   path/to/model.bin [+ tokenizer.bin beside it]     llama2.c legacy checkpoint
//   path/to/hf_dir/                                   config.json + model.safetensors +
//   tokenizer.json
#ifndef KVBENCH_MODEL_LOADER_H_
#define KVBENCH_MODEL_LOADER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "model/model.h"

namespace kvbench {

// Resolves a short name or a path to a file or directory that exists. The NotFound error lists
// every place it looked.
absl::StatusOr<std::string> ResolveModelPath(std::string_view name_or_path);

absl::StatusOr<std::unique_ptr<Model>> LoadModel(std::string_view name_or_path);

// Format-specific entry points (each in its own file).
absl::StatusOr<std::unique_ptr<Model>> LoadGgufModel(const std::string& path);
// `tokenizer_path` empty: looks for tokenizer.bin / tok*.bin beside the checkpoint.
absl::StatusOr<std::unique_ptr<Model>> LoadLlama2cModel(const std::string& path,
                                                        const std::string& tokenizer_path = "");
// `dir` holds config.json (LlamaForCausalLM / MistralForCausalLM), model.safetensors or a sharded
// model.safetensors.index.json, and tokenizer.json. The rows of q_proj/k_proj are reordered at load
// from HF's rotate-half RoPE layout to the decoder's interleaved pairs (see hf_model.cc).
absl::StatusOr<std::unique_ptr<Model>> LoadHuggingFaceModel(const std::string& dir);

}  // namespace kvbench

#endif  // KVBENCH_MODEL_LOADER_H_
