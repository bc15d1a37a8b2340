#include "model/hf_config.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status.h"
#include "model/rope.h"

namespace kvbench {
namespace {

using enum HfKeyUse;

constexpr absl::string_view kGeneration = "a generation default; kvbench's sampler is set per run";
constexpr absl::string_view kOtherTask = "belongs to other task heads or fine-tuning bookkeeping";
constexpr absl::string_view kOutputs = "selects extra outputs, not the logits";

constexpr absl::string_view kQwen = "qwen2 qwen3";
constexpr absl::string_view kSlidingFamilies = "qwen2 qwen3 gemma3";

constexpr HfConfigKey kKeys[] = {
    // Read.
    {"architectures", kRead,
     "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM or "
     "Gemma3ForCausalLM",
     ""},
    {"model_type", kRead, "\"llama\", \"mistral\", \"qwen2\", \"qwen3\" or \"gemma3_text\"", ""},
    {"hidden_size", kRead, "residual width", ""},
    {"num_hidden_layers", kRead, "layers", ""},
    {"num_attention_heads", kRead, "query heads", ""},
    {"num_key_value_heads", kRead, "K/V heads (GQA); default: num_attention_heads", ""},
    {"head_dim", kRead, "per-head width; default hidden_size / num_attention_heads", ""},
    {"intermediate_size", kRead, "SwiGLU width", ""},
    {"vocab_size", kRead, "vocabulary", ""},
    {"max_position_embeddings", kRead, "context length (default 2048)", ""},
    {"hidden_act", kRead, "only silu (alias swish) is implemented", "",
     "llama mistral qwen2 qwen3"},
    {"hidden_activation", kRead, "Gemma's FFN gate: only gelu_pytorch_tanh is implemented", "",
     "gemma3"},
    {"attention_bias", kRead, "q/k/v/o projection biases (Qwen2 has q/k/v biases without the key)",
     "", "llama qwen3 gemma3"},
    {"mlp_bias", kRead, "FFN biases: only false is implemented", "", "llama"},
    {"query_pre_attn_scalar", kRead, "Gemma-3: attention scores are q.k / sqrt(this)", "",
     "gemma3"},
    {"final_logit_softcapping", kRead, "Gemma: logits = c tanh(logits / c)", "", "gemma3"},
    {"layer_types", kRead, "full_attention or sliding_attention per layer", "", kSlidingFamilies},
    {"use_sliding_window", kRead, "Qwen: whether the sliding_window applies at all", "", kQwen},
    {"max_window_layers", kRead,
     "Qwen: layers from this one on slide (only when layer_types is absent)", "", kQwen},
    {"sliding_window_pattern", kRead,
     "Gemma-3 before transformers 5: every this-th layer is full (when layer_types is absent)", "",
     "gemma3"},
    {"_sliding_window_pattern", kRead, "the same, as transformers 5 writes it", "", "gemma3"},
    {"rope_local_base_freq", kRead,
     "Gemma-3 before transformers 5: the sliding layers' RoPE base (default 10000)", "", "gemma3"},
    {"rms_norm_eps", kRead, "RMSNorm epsilon (default 1e-6)", ""},
    {"rope_theta", kRead, "RoPE base before transformers 5 (default 10000)", ""},
    {"rope_parameters", kRead,
     "transformers 5 RoPE: default, linear, llama3; Gemma-3: one per layer type", ""},
    {"rope_scaling", kRead, "RoPE scaling before transformers 5: null, default, linear, llama3",
     ""},
    {"tie_word_embeddings", kRead, "one matrix for embedding and classifier (default false)", ""},
    {"dtype", kRead,
     "float32, bfloat16 or float16: the weights stay in their stored dtype, activations are f32",
     ""},
    {"torch_dtype", kRead, "dtype before transformers 5", ""},
    {"sliding_window", kRead,
     "keys a sliding layer's query sees (Mistral: every layer; Qwen: with use_sliding_window; "
     "Gemma-3: the sliding_attention layers); LlamaConfig has no such key and transformers' Llama "
     "ignores it, so does kvbench",
     ""},
    // Refused unless they hold the default.
    {"quantization_config", kRefused,
     "weights quantized by a library (GPTQ, AWQ, bitsandbytes, ...) that kvbench does not decode",
     ""},
    {"auto_map", kRefused, "custom modeling code (trust_remote_code), not the Llama decoder", ""},
    {"pruned_heads", kRefused, "pruned attention heads change the layer shapes", "{}"},
    {"partial_rotary_factor", kRefused, "RoPE on part of each head is not implemented", "1.0"},
    {"is_encoder_decoder", kRefused, "an encoder-decoder is not a decoder-only Llama", "false"},
    {"add_cross_attention", kRefused, "cross-attention layers are not implemented", "false"},
    {"tie_encoder_decoder", kRefused, "an encoder-decoder setting", "false"},
    {"attn_logit_softcapping", kRefused,
     "soft-capped attention scores (Gemma-2) are not implemented", ""},
    {"use_bidirectional_attention", kRefused,
     "bidirectional attention (EmbeddingGemma) is not a causal decoder", "false"},
    // Ignored.
    {"transformers_version", kIgnored, "bookkeeping", ""},
    {"_name_or_path", kIgnored, "bookkeeping", ""},
    {"_commit_hash", kIgnored, "bookkeeping", ""},
    {"_attn_implementation", kIgnored, "which attention kernel computes the same attention", ""},
    {"_attn_implementation_autoset", kIgnored, "which attention kernel computes the same attention",
     ""},
    {"attn_implementation", kIgnored, "which attention kernel computes the same attention", ""},
    {"bos_token_id", kIgnored, "special tokens come from tokenizer.json", ""},
    {"eos_token_id", kIgnored, "special tokens come from tokenizer.json", ""},
    {"pad_token_id", kIgnored, "special tokens come from tokenizer.json", ""},
    {"sep_token_id", kIgnored, "special tokens come from tokenizer.json", ""},
    {"decoder_start_token_id", kIgnored, "an encoder-decoder generation setting", ""},
    {"attention_dropout", kIgnored, "dropout is off at inference", ""},
    {"initializer_range", kIgnored, "initialization of untrained weights", ""},
    {"use_cache", kIgnored, "transformers' KV cache switch; kvbench always caches", ""},
    {"cache_implementation", kIgnored,
     "which transformers cache class generate() uses (Gemma-3's \"hybrid\"): the same attention",
     ""},
    {"pretraining_tp", kIgnored,
     "transformers 4 split the projections into that many slices: the same products", ""},
    {"is_decoder", kIgnored, "a Llama is causal either way", ""},
    {"chunk_size_feed_forward", kIgnored, "chunks the FFN over tokens: the same products", ""},
    {"cross_attention_hidden_size", kIgnored, "used only with add_cross_attention", ""},
    {"torchscript", kIgnored, "a tracing switch", ""},
    {"use_bfloat16", kIgnored, "a TensorFlow-era switch transformers no longer reads", ""},
    {"tf_legacy_loss", kIgnored, "a training loss switch", ""},
    {"output_attentions", kIgnored, kOutputs, ""},
    {"output_hidden_states", kIgnored, kOutputs, ""},
    {"return_dict", kIgnored, kOutputs, ""},
    {"output_scores", kIgnored, kOutputs, ""},
    {"return_dict_in_generate", kIgnored, kOutputs, ""},
    {"id2label", kIgnored, kOtherTask, ""},
    {"label2id", kIgnored, kOtherTask, ""},
    {"num_labels", kIgnored, kOtherTask, ""},
    {"problem_type", kIgnored, kOtherTask, ""},
    {"finetuning_task", kIgnored, kOtherTask, ""},
    {"task_specific_params", kIgnored, kOtherTask, ""},
    {"prefix", kIgnored, kOtherTask, ""},
    {"tokenizer_class", kIgnored, "the tokenizer comes from tokenizer.json", ""},
    {"max_length", kIgnored, kGeneration, ""},
    {"min_length", kIgnored, kGeneration, ""},
    {"do_sample", kIgnored, kGeneration, ""},
    {"early_stopping", kIgnored, kGeneration, ""},
    {"num_beams", kIgnored, kGeneration, ""},
    {"num_beam_groups", kIgnored, kGeneration, ""},
    {"diversity_penalty", kIgnored, kGeneration, ""},
    {"temperature", kIgnored, kGeneration, ""},
    {"top_k", kIgnored, kGeneration, ""},
    {"top_p", kIgnored, kGeneration, ""},
    {"typical_p", kIgnored, kGeneration, ""},
    {"repetition_penalty", kIgnored, kGeneration, ""},
    {"length_penalty", kIgnored, kGeneration, ""},
    {"no_repeat_ngram_size", kIgnored, kGeneration, ""},
    {"encoder_no_repeat_ngram_size", kIgnored, kGeneration, ""},
    {"bad_words_ids", kIgnored, kGeneration, ""},
    {"num_return_sequences", kIgnored, kGeneration, ""},
    {"forced_bos_token_id", kIgnored, kGeneration, ""},
    {"forced_eos_token_id", kIgnored, kGeneration, ""},
    {"remove_invalid_values", kIgnored, kGeneration, ""},
    {"exponential_decay_length_penalty", kIgnored, kGeneration, ""},
    {"suppress_tokens", kIgnored, kGeneration, ""},
    {"begin_suppress_tokens", kIgnored, kGeneration, ""},
    // Written by nanotron / SmolLM exports; transformers' LlamaConfig does not read them.
    {"is_llama_config", kIgnored, "nanotron export flag, unread by transformers", ""},
    {"rope_interleaved", kIgnored,
     "nanotron export flag, unread by transformers (the exported rows are rotate-half)", ""},
    {"transformers.js_config", kIgnored, "settings of another runtime", ""},
};

const HfConfigKey* FindKey(absl::string_view name) {
  for (const HfConfigKey& k : kKeys) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string ReadKeyNames() {
  std::vector<absl::string_view> names;
  for (const HfConfigKey& k : kKeys) {
    if (k.use == kRead) names.push_back(k.name);
  }
  return absl::StrJoin(names, ", ");
}

// Typed, checked access to the members of a config object (the root, or rope_parameters). A key
// that is absent or JSON null takes the fallback; one of the wrong type is an error naming key and
// value. `where` prefixes messages: the path, and for a nested object its key.
class ConfigReader {
 public:
  ConfigReader(const Json& object, std::string where) : object_(object), where_(std::move(where)) {}

  // The value of `key`; nullptr when it is absent or null.
  const Json* Find(absl::string_view key) const {
    const Json* n = JsonMember(object_, std::string_view(key.data(), key.size()));
    return n == nullptr || n->is_null() ? nullptr : n;
  }
  bool Has(absl::string_view key) const { return Find(key) != nullptr; }

  absl::StatusOr<int> Int(absl::string_view key, std::optional<int> fallback) const {
    const Json* n = Find(key);
    if (n == nullptr) return Fallback(key, fallback);
    const std::optional<int> v = JsonInteger<int>(*n);
    if (!v.has_value()) return Bad(key, *n, "an integer");
    return *v;
  }

  absl::StatusOr<double> Float(absl::string_view key, std::optional<double> fallback) const {
    const Json* n = Find(key);
    if (n == nullptr) return Fallback(key, fallback);
    if (!n->is_number()) return Bad(key, *n, "a number");
    return n->get<double>();
  }

  // A number that must be finite and > 0.
  absl::StatusOr<double> Positive(absl::string_view key, std::optional<double> fallback) const {
    ASSIGN_OR_RETURN(const double v, Float(key, fallback));
    if (!(v > 0.0) || !std::isfinite(v)) return Bad(key, *Find(key), "a positive number");
    return v;
  }

  absl::StatusOr<bool> Bool(absl::string_view key, bool fallback) const {
    const Json* n = Find(key);
    if (n == nullptr) return fallback;
    if (!n->is_boolean()) return Bad(key, *n, "true or false");
    return n->get<bool>();
  }

  absl::StatusOr<std::string> String(absl::string_view key) const {
    const Json* n = Find(key);
    if (n == nullptr) return std::string();
    if (!n->is_string()) return Bad(key, *n, "a string");
    return n->get<std::string>();
  }

  absl::StatusOr<std::vector<std::string>> StringList(absl::string_view key) const {
    const Json* n = Find(key);
    std::vector<std::string> out;
    if (n == nullptr) return out;
    if (!n->is_array()) return Bad(key, *n, "a list of strings");
    for (const Json& item : *n) {
      if (!item.is_string()) return Bad(key, *n, "a list of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  absl::Status Error(absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(where_, ": ", message));
  }

  const Json& object() const { return object_; }
  const std::string& where() const { return where_; }

 private:
  template <typename T>
  absl::StatusOr<T> Fallback(absl::string_view key, std::optional<T> fallback) const {
    if (fallback.has_value()) return *fallback;
    return Error(absl::StrCat("required key \"", key, "\" is missing"));
  }

  absl::Status Bad(absl::string_view key, const Json& n, absl::string_view expected) const {
    return Error(absl::StrCat("\"", key, "\" = ", JsonShow(n), " is not ", expected));
  }

  const Json& object_;
  const std::string where_;
};

// One family the decoder implements: how transformers names it and the defaults its config class
// gives keys that are absent.
struct Family {
  absl::string_view name;          // ModelConfig::architecture, and HfConfigKey::families
  absl::string_view architecture;  // `architectures` entry
  absl::string_view model_type;
  int default_context;   // max_position_embeddings
  int default_head_dim;  // 0: hidden_size / num_attention_heads
  bool default_tied;     // tie_word_embeddings
  double default_theta;  // RoPE base of the (full-attention) layers
  int default_window;    // sliding_window when the key is absent (0: none)
};

constexpr Family kFamilies[] = {
    {"llama", "LlamaForCausalLM", "llama", 2048, 0, false, 10000.0, 0},
    {"mistral", "MistralForCausalLM", "mistral", 4096 * 32, 0, false, 10000.0, 4096},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", 32768, 0, false, 10000.0, 4096},
    {"qwen3", "Qwen3ForCausalLM", "qwen3", 32768, 128, false, 10000.0, 4096},
    {"gemma3", "Gemma3ForCausalLM", "gemma3_text", 131072, 256, true, 1000000.0, 4096},
};

// The family, from `architectures` or `model_type`; anything else is refused before its keys are
// looked at.
absl::StatusOr<const Family*> ParseFamily(const ConfigReader& r) {
  ASSIGN_OR_RETURN(const std::vector<std::string> archs, r.StringList("architectures"));
  ASSIGN_OR_RETURN(const std::string model_type, r.String("model_type"));
  auto has_arch = [&](absl::string_view a) {
    return std::find(archs.begin(), archs.end(), a) != archs.end();
  };
  // The architecture decides; model_type must agree with it (or stand alone).
  for (const Family& f : kFamilies) {
    if (!(archs.empty() ? model_type == f.model_type : has_arch(f.architecture))) continue;
    if (!model_type.empty() && model_type != f.model_type) {
      return r.Error(absl::StrCat("architectures = [", absl::StrJoin(archs, ", "),
                                  "] and model_type = \"", model_type, "\" disagree"));
    }
    return &f;
  }
  std::vector<std::string> supported;
  for (const Family& f : kFamilies) {
    supported.push_back(absl::StrCat(f.architecture, " / \"", f.model_type, "\""));
  }
  std::string hint;
  if (has_arch("Gemma3ForConditionalGeneration") || model_type == "gemma3") {
    hint =
        "; the multimodal Gemma-3 (text_config + vision_config) is not implemented, its text "
        "model saved alone (Gemma3ForCausalLM) is";
  }
  return r.Error(absl::StrCat("unsupported architecture: architectures = [",
                              absl::StrJoin(archs, ", "), "], model_type = \"", model_type,
                              "\" (supported: ", absl::StrJoin(supported, ", "), ")", hint));
}

bool InFamily(const HfConfigKey& key, const Family& family) {
  if (key.families.empty()) return true;
  for (absl::string_view f : absl::StrSplit(key.families, ' ')) {
    if (f == family.name) return true;
  }
  return false;
}

// Every top-level key is in the table and read by this family; refused keys hold their harmless
// value.
absl::Status CheckKeys(const ConfigReader& r, const Family& family) {
  for (const auto& [name, value] : r.object().items()) {
    const HfConfigKey* key = FindKey(name);
    if (key == nullptr) {
      return r.Error(absl::StrCat("config key \"", name,
                                  "\" is unknown to kvbench, which cannot tell whether it changes "
                                  "the computation (keys it reads: ",
                                  ReadKeyNames(), ")"));
    }
    if (key->use == kRead && !InFamily(*key, family) && !value.is_null()) {
      return r.Error(absl::StrCat("config key \"", name, "\" is not a key of ", family.name,
                                  " configs (it belongs to: ", key->families,
                                  "), so kvbench cannot tell what it means here"));
    }
    if (key->use != kRefused || value.is_null()) continue;
    if (!key->harmless.empty() &&
        value == Json::parse(key->harmless, nullptr, /*allow_exceptions=*/false))
      continue;
    return r.Error(
        absl::StrCat("\"", name, "\" = ", JsonShow(value), " is not supported: ", key->why));
  }
  return absl::OkStatus();
}

absl::Status ParseDtype(const ConfigReader& r, absl::string_view key) {
  ASSIGN_OR_RETURN(const std::string dtype, r.String(key));
  if (dtype.empty() || dtype == "float32" || dtype == "bfloat16" || dtype == "float16") {
    return absl::OkStatus();
  }
  return r.Error(absl::StrCat("\"", key, "\" = \"", dtype,
                              "\" is not supported (float32, bfloat16 or float16)"));
}

// The parameters each implemented rope_type may carry.
struct RopeTypeKeys {
  absl::string_view type;
  std::vector<absl::string_view> keys;
};

const std::vector<RopeTypeKeys>& RopeTypes() {
  static const auto* const kTypes = new std::vector<RopeTypeKeys>{
      {"default", {}},
      {"linear", {"factor"}},
      {"llama3",
       {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}},
  };
  return *kTypes;
}

// One RoPE: its base, type and per-pair frequency divisors (model/rope.h).
struct Rope {
  double theta = 10000.0;
  std::string type = "default";
  std::vector<float> freq_factors;

  bool operator==(const Rope&) const = default;
};

// One RoPE object ({rope_type, rope_theta, ...}) read by `p`; top_theta is the top-level
// rope_theta (or the family's default), which the object's own rope_theta must agree with.
absl::StatusOr<Rope> ParseRopeObject(const ConfigReader& p, double top_theta, bool has_top_theta,
                                     int rope_dims) {
  for (const auto& [name, value] : p.object().items()) {
    if (value.is_object()) {
      return p.Error(absl::StrCat("\"", name,
                                  "\" is an object: per-layer-type RoPE parameters are read only "
                                  "for Gemma-3 (sliding_attention, full_attention)"));
    }
  }
  std::string type;
  for (absl::string_view type_key : {"rope_type", "type"}) {  // "type" before transformers 4.45
    ASSIGN_OR_RETURN(type, p.String(type_key));
    if (!type.empty()) break;
  }
  if (type.empty()) type = "default";
  const auto known = std::find_if(RopeTypes().begin(), RopeTypes().end(),
                                  [&](const RopeTypeKeys& t) { return t.type == type; });
  if (known == RopeTypes().end()) {
    std::vector<absl::string_view> names;
    for (const RopeTypeKeys& t : RopeTypes()) names.push_back(t.type);
    return p.Error(absl::StrCat("rope_type \"", type, "\" is not implemented (implemented: ",
                                absl::StrJoin(names, ", "), ")"));
  }
  for (const auto& [name, value] : p.object().items()) {
    const bool common = name == "rope_type" || name == "type" || name == "rope_theta" ||
                        name == "partial_rotary_factor" || name == "attention_factor";
    if (common || std::find(known->keys.begin(), known->keys.end(), name) != known->keys.end()) {
      continue;
    }
    return p.Error(absl::StrCat("\"", name, "\" is not a parameter of rope_type \"", type,
                                "\" (its parameters: rope_theta", known->keys.empty() ? "" : ", ",
                                absl::StrJoin(known->keys, ", "), ")"));
  }
  // Scalings kvbench does not implement, accepted only at their no-op value.
  for (absl::string_view unity : {"partial_rotary_factor", "attention_factor"}) {
    ASSIGN_OR_RETURN(const double v, p.Float(unity, 1.0));
    if (v != 1.0) {
      return p.Error(absl::StrCat("\"", unity, "\" = ", v, " is not supported (only 1.0)"));
    }
  }
  Rope rope;
  ASSIGN_OR_RETURN(rope.theta, p.Positive("rope_theta", top_theta));
  if (has_top_theta && p.Has("rope_theta") && rope.theta != top_theta) {
    return p.Error(absl::StrCat("rope_theta = ", rope.theta,
                                " differs from the top-level rope_theta = ", top_theta));
  }
  rope.type = type;
  if (type == "linear") {
    ASSIGN_OR_RETURN(const double factor, p.Positive("factor", std::nullopt));
    rope.freq_factors.assign(rope_dims / 2, static_cast<float>(factor));
  } else if (type == "llama3") {
    Llama3RopeScaling s;
    ASSIGN_OR_RETURN(s.factor, p.Positive("factor", std::nullopt));
    ASSIGN_OR_RETURN(s.low_freq_factor, p.Positive("low_freq_factor", std::nullopt));
    ASSIGN_OR_RETURN(s.high_freq_factor, p.Positive("high_freq_factor", std::nullopt));
    ASSIGN_OR_RETURN(s.original_context, p.Int("original_max_position_embeddings", std::nullopt));
    if (!(s.high_freq_factor > s.low_freq_factor)) {
      return p.Error(absl::StrCat("high_freq_factor = ", s.high_freq_factor,
                                  " must be greater than low_freq_factor = ", s.low_freq_factor));
    }
    if (s.original_context <= 0) {
      return p.Error(absl::StrCat("original_max_position_embeddings = ", s.original_context,
                                  " is not positive"));
    }
    rope.freq_factors = Llama3RopeFactors(rope_dims, static_cast<float>(rope.theta), s);
  }
  return rope;
}

// The RoPE of every layer (`full`) and, for Gemma-3, of the sliding layers, from rope_parameters /
// rope_scaling / rope_theta (and Gemma-3's rope_local_base_freq). transformers 5 writes Gemma-3's
// rope_parameters as {"sliding_attention": {...}, "full_attention": {...}}; older Gemma-3 configs
// have rope_theta and rope_scaling for the full layers and rope_local_base_freq for the others.
absl::Status ParseRope(const ConfigReader& r, const Family& family, int rope_dims, Rope* full,
                       Rope* sliding) {
  const Json* parameters = r.Find("rope_parameters");
  const Json* scaling = r.Find("rope_scaling");
  // transformers 5 takes rope_scaling over rope_parameters; both present and different is a
  // config whose meaning depends on the reader.
  if (parameters != nullptr && scaling != nullptr && *parameters != *scaling) {
    return r.Error("rope_parameters and rope_scaling are both given and differ");
  }
  const absl::string_view key = scaling != nullptr ? "rope_scaling" : "rope_parameters";
  const Json* rope = scaling != nullptr ? scaling : parameters;
  const bool gemma = family.name == "gemma3";
  ASSIGN_OR_RETURN(const double top_theta, r.Float("rope_theta", family.default_theta));
  const bool has_top_theta = r.Has("rope_theta");
  if (rope != nullptr && !rope->is_object()) {
    return r.Error(absl::StrCat("\"", key, "\" = ", JsonShow(*rope),
                                " is not an object {\"rope_type\": ..., \"rope_theta\": ...}"));
  }
  const bool per_layer_type = gemma && rope != nullptr &&
                              (JsonMember(*rope, "full_attention") != nullptr ||
                               JsonMember(*rope, "sliding_attention") != nullptr);
  if (!per_layer_type) {
    if (rope == nullptr) {
      full->theta = top_theta;
    } else {
      ASSIGN_OR_RETURN(
          *full, ParseRopeObject(ConfigReader(*rope, absl::StrCat(r.where(), ": ", key)), top_theta,
                                 has_top_theta, rope_dims));
    }
    if (gemma) {
      ASSIGN_OR_RETURN(sliding->theta, r.Positive("rope_local_base_freq", 10000.0));
    } else {
      *sliding = *full;
    }
    return absl::OkStatus();
  }
  for (const auto& [name, value] : rope->items()) {
    if (name != "full_attention" && name != "sliding_attention") {
      return r.Error(absl::StrCat(key, ": \"", name,
                                  "\" is not a layer type (full_attention, sliding_attention)"));
    }
    if (!value.is_object()) {
      return r.Error(absl::StrCat(key, ": \"", name, "\" = ", JsonShow(value),
                                  " is not an object {\"rope_type\": ..., \"rope_theta\": ...}"));
    }
  }
  if (r.Has("rope_local_base_freq")) {
    return r.Error(absl::StrCat("rope_local_base_freq and per-layer-type ", key,
                                " are both given (which one holds?)"));
  }
  for (const auto& [name, out, fallback] :
       {std::tuple<const char*, Rope*, double>{"full_attention", full, top_theta},
        std::tuple<const char*, Rope*, double>{"sliding_attention", sliding, 10000.0}}) {
    const Json* member = JsonMember(*rope, name);
    if (member == nullptr || member->is_null()) {
      out->theta = fallback;
      continue;
    }
    const bool full_layers = std::string_view(name) == "full_attention";
    ASSIGN_OR_RETURN(
        *out, ParseRopeObject(ConfigReader(*member, absl::StrCat(r.where(), ": ", key, ".", name)),
                              fallback, full_layers && has_top_theta, rope_dims));
  }
  return absl::OkStatus();
}

absl::Status ParseActivation(const ConfigReader& r, const Family& family, ModelConfig* c) {
  if (family.name == "gemma3") {
    ASSIGN_OR_RETURN(std::string act, r.String("hidden_activation"));
    if (act.empty()) act = "gelu_pytorch_tanh";
    if (act != "gelu_pytorch_tanh") {
      return r.Error(absl::StrCat("hidden_activation \"", act,
                                  "\" is not supported (only gelu_pytorch_tanh)"));
    }
    c->activation = ModelConfig::Activation::kGeluTanh;
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const std::string act, r.String("hidden_act"));
  if (!act.empty() && act != "silu" && act != "swish") {
    return r.Error(absl::StrCat("hidden_act \"", act, "\" is not supported (only silu)"));
  }
  c->activation = ModelConfig::Activation::kSilu;
  return absl::OkStatus();
}

// Which layers slide, and the window: Mistral's every layer; Qwen's layers from max_window_layers
// on when use_sliding_window; Gemma-3's sliding_attention layers. transformers 5 writes
// layer_types, which then decides; older configs are expanded here as transformers does.
absl::Status ParseSlidingLayers(const ConfigReader& r, const Family& family, ModelConfig* c) {
  if (family.name == "llama") return absl::OkStatus();  // LlamaConfig ignores sliding_window
  // Absent and null differ: transformers' default window applies to an absent key only.
  const Json* window_json = JsonMember(r.object(), "sliding_window");
  int window = 0;
  if (window_json == nullptr) {
    window = family.default_window;
  } else if (!window_json->is_null()) {
    ASSIGN_OR_RETURN(window, r.Int("sliding_window", 0));
    if (window <= 0) return r.Error(absl::StrCat("sliding_window = ", window, " is invalid"));
  }
  if (family.name == "qwen2" || family.name == "qwen3") {
    ASSIGN_OR_RETURN(const bool use, r.Bool("use_sliding_window", false));
    if (!use) window = 0;
  }
  std::vector<uint8_t> sliding(c->n_layers, 0);
  const Json* types = r.Find("layer_types");
  if (types != nullptr) {
    if (!types->is_array() || static_cast<int>(types->size()) != c->n_layers) {
      return r.Error(absl::StrCat("layer_types = ", JsonShow(*types), " is not a list of ",
                                  c->n_layers, " layer types"));
    }
    for (int l = 0; l < c->n_layers; ++l) {
      const Json& t = (*types)[l];
      if (t == "sliding_attention") {
        sliding[l] = 1;
      } else if (t != "full_attention") {
        return r.Error(absl::StrCat("layer_types[", l, "] = ", JsonShow(t),
                                    " is not implemented (full_attention, sliding_attention)"));
      }
    }
  } else if (family.name == "mistral") {
    sliding.assign(c->n_layers, 1);
  } else if (family.name == "gemma3") {
    int pattern = 6;
    for (const char* key : {"_sliding_window_pattern", "sliding_window_pattern"}) {
      if (!r.Has(key)) continue;
      ASSIGN_OR_RETURN(pattern, r.Int(key, 6));
    }
    if (pattern <= 0) {
      return r.Error(absl::StrCat("sliding_window_pattern = ", pattern, " is not positive"));
    }
    for (int l = 0; l < c->n_layers; ++l) sliding[l] = (l + 1) % pattern != 0;
  } else {  // Qwen
    ASSIGN_OR_RETURN(const int first, r.Int("max_window_layers", 28));
    for (int l = 0; l < c->n_layers; ++l) sliding[l] = window > 0 && l >= first;
  }
  if (family.name == "mistral" && types == nullptr && window == 0) sliding.assign(c->n_layers, 0);
  const bool any = std::find(sliding.begin(), sliding.end(), 1) != sliding.end();
  if (any && window == 0) {
    return r.Error(
        "layer_types names sliding_attention layers but there is no sliding_window "
        "(null, or use_sliding_window is false)");
  }
  if (!any) return absl::OkStatus();
  c->sliding_window = window;
  c->sliding_layers = std::move(sliding);
  return absl::OkStatus();
}

// The switches that differ by family (ModelConfig's architecture block).
absl::Status ParseFamilySwitches(const ConfigReader& r, const Family& family, ModelConfig* c) {
  RETURN_IF_ERROR(ParseActivation(r, family, c));
  ASSIGN_OR_RETURN(const bool mlp_bias, r.Bool("mlp_bias", false));
  if (mlp_bias) return r.Error("mlp_bias = true is not supported (the FFN has no biases)");
  ASSIGN_OR_RETURN(c->attention_bias, r.Bool("attention_bias", false));
  if (family.name == "qwen2") c->attention_bias = true;  // Qwen2Attention: q/k/v biases always
  c->qk_norm = family.name == "qwen3" || family.name == "gemma3";
  if (family.name == "gemma3") {
    c->sandwich_norms = true;
    c->embedding_scale = std::sqrt(static_cast<float>(c->dim));
    ASSIGN_OR_RETURN(const double scalar, r.Positive("query_pre_attn_scalar", 256.0));
    c->query_scale = static_cast<float>(std::sqrt(c->head_dim / scalar));
    ASSIGN_OR_RETURN(const double cap, r.Float("final_logit_softcapping", 0.0));
    if (cap < 0.0) return r.Error(absl::StrCat("final_logit_softcapping = ", cap, " is negative"));
    c->final_logit_softcap = static_cast<float>(cap);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Span<const HfConfigKey> HfConfigKeys() { return kKeys; }

absl::StatusOr<HfConfig> ParseHfConfig(const Json& root, const std::string& path) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  const ConfigReader r(root, path);
  HfConfig out;
  ModelConfig& c = out.model;
  ASSIGN_OR_RETURN(const Family* family, ParseFamily(r));
  c.architecture = std::string(family->name);
  RETURN_IF_ERROR(CheckKeys(r, *family));
  RETURN_IF_ERROR(ParseDtype(r, "dtype"));
  RETURN_IF_ERROR(ParseDtype(r, "torch_dtype"));

  ASSIGN_OR_RETURN(c.dim, r.Int("hidden_size", std::nullopt));
  ASSIGN_OR_RETURN(c.n_layers, r.Int("num_hidden_layers", std::nullopt));
  ASSIGN_OR_RETURN(c.n_heads, r.Int("num_attention_heads", std::nullopt));
  ASSIGN_OR_RETURN(c.n_kv_heads, r.Int("num_key_value_heads", c.n_heads));
  ASSIGN_OR_RETURN(c.hidden_dim, r.Int("intermediate_size", std::nullopt));
  ASSIGN_OR_RETURN(c.vocab_size, r.Int("vocab_size", std::nullopt));
  ASSIGN_OR_RETURN(c.context_length, r.Int("max_position_embeddings", family->default_context));
  if (!r.Has("head_dim") && family->default_head_dim == 0 &&
      (c.n_heads <= 0 || c.dim % c.n_heads != 0)) {
    return r.Error(absl::StrCat("hidden_size = ", c.dim,
                                " is not a multiple of num_attention_heads = ", c.n_heads,
                                " and no head_dim is given"));
  }
  const int default_head_dim = family->default_head_dim > 0 ? family->default_head_dim
                               : c.n_heads > 0              ? c.dim / c.n_heads
                                                            : 0;
  ASSIGN_OR_RETURN(c.head_dim, r.Int("head_dim", default_head_dim));
  c.rope_dims = c.head_dim;
  ASSIGN_OR_RETURN(const double eps, r.Float("rms_norm_eps", 1e-6));
  c.rms_eps = static_cast<float>(eps);
  // Sizes first: the RoPE factors and layer flags are sized by them.
  RETURN_IF_ERROR(Annotate(c.Validate(), path));
  Rope full, sliding;
  RETURN_IF_ERROR(ParseRope(r, *family, c.rope_dims, &full, &sliding));
  c.rope_theta = static_cast<float>(full.theta);
  c.rope_type = full.type;
  c.rope_freq_factors = full.freq_factors;
  ASSIGN_OR_RETURN(out.tie_word_embeddings, r.Bool("tie_word_embeddings", family->default_tied));
  RETURN_IF_ERROR(ParseFamilySwitches(r, *family, &c));
  RETURN_IF_ERROR(ParseSlidingLayers(r, *family, &c));
  if (c.sliding_window > 0 && !(sliding == full)) {
    c.sliding_rope_theta = static_cast<float>(sliding.theta);
    c.sliding_rope_type = sliding.type;
    c.sliding_rope_freq_factors = sliding.freq_factors;
  }
  RETURN_IF_ERROR(Annotate(c.Validate(), path));  // the RoPE factors, the window
  return out;
}

}  // namespace kvbench
