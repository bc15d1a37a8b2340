// Hugging Face config.json -> ModelConfig, for the families the decoder implements: Llama
// (LlamaForCausalLM), Mistral (sliding window), Qwen2 (q/k/v biases), Qwen3 (q/k norms) and
// Gemma-3 text (Gemma3ForCausalLM: GELU-tanh, (1 + w) norms, sandwich norms, embedding and query
// scales, sliding and full layers with their own RoPE). Each is the one decoder with the switches
// of ModelConfig; anything else (Gemma-3's multimodal Gemma3ForConditionalGeneration, Phi, ...)
// is refused by name.
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
  // kRead: the families whose configs carry it, space-separated ("" = every family); in another
  // family's config it is refused by name (transformers would ignore it, or it means another
  // model).
  absl::string_view families = "";
};

// Every top-level config.json key kvbench knows, for every family.
absl::Span<const HfConfigKey> HfConfigKeys();

struct HfConfig {
  ModelConfig model;
  bool tie_word_embeddings = false;  // the family's default when absent (Gemma-3: true)
};

// Parses and validates a config.json object. `path` prefixes every error (all InvalidArgument).
absl::StatusOr<HfConfig> ParseHfConfig(const Json& root, const std::string& path);

}  // namespace kvbench

#endif  // KVBENCH_MODEL_HF_CONFIG_H_
