// Hugging Face config.json -> ModelConfig, for the Llama family (LlamaForCausalLM, and Mistral's
// identical tensors).
//
// A key that changes the computation is either implemented or refused by name: a model that loads
// computes what transformers computes for it. So every top-level key is looked up in one table
// (HfConfigKeys) that says what kvbench does with it: reads it (and refuses the values it does not
// implement, e.g. attention_bias = true), ignores it (the reason is in the table: generation
// defaults, training-only settings, bookkeeping), or refuses it unless it holds transformers'
// default (quantization_config, pruned_heads, ...). A key missing from the table is an error too:
// kvbench cannot know whether it matters.
//
// RoPE: transformers 5 writes `rope_parameters` ({rope_type, rope_theta, ...}); older versions
// `rope_theta` and `rope_scaling` (with "type" or "rope_type"). Both are read: rope_type "default",
// "linear" and "llama3" are implemented as per-pair frequency factors (model/rope.h); any other
// type, unknown parameter, or a value of the wrong shape is an error naming it.
#ifndef KVBENCH_MODEL_HF_CONFIG_H_
#define KVBENCH_MODEL_HF_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "formats/json.h"
#include "model/config.h"

namespace kvbench {

enum class HfKeyUse {
  kRead,     // parsed; values the decoder does not implement are refused by name
  kIgnored,  // cannot change the logits (the reason says why)
  kRefused,  // changes the computation in a way kvbench does not implement, unless it holds
             // `harmless`, transformers' default
};

struct HfConfigKey {
  absl::string_view name;
  HfKeyUse use;
  absl::string_view why;       // what it means and why kvbench treats it so
  absl::string_view harmless;  // kRefused: the JSON value that is accepted ("" = none)
};

// Every top-level config.json key kvbench knows for the Llama family.
absl::Span<const HfConfigKey> HfConfigKeys();

struct HfConfig {
  ModelConfig model;
  bool tie_word_embeddings = false;  // LlamaConfig's default
};

// Parses and validates a config.json object. `path` prefixes every error (all InvalidArgument).
absl::StatusOr<HfConfig> ParseHfConfig(const Json& root, const std::string& path);

}  // namespace kvbench

#endif  // KVBENCH_MODEL_HF_CONFIG_H_
