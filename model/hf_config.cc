#include "model/hf_config.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "model/rope.h"

namespace kvbench {
namespace {

using enum HfKeyUse;

constexpr absl::string_view kGeneration = "a generation default; kvbench's sampler is set per run";
constexpr absl::string_view kOtherTask = "belongs to other task heads or fine-tuning bookkeeping";
constexpr absl::string_view kOutputs = "selects extra outputs, not the logits";

constexpr HfConfigKey kKeys[] = {
    // Read.
    {"architectures", kRead, "LlamaForCausalLM or MistralForCausalLM", ""},
    {"model_type", kRead, "\"llama\" or \"mistral\"", ""},
    {"hidden_size", kRead, "residual width", ""},
    {"num_hidden_layers", kRead, "layers", ""},
    {"num_attention_heads", kRead, "query heads", ""},
    {"num_key_value_heads", kRead, "K/V heads (GQA); default: num_attention_heads", ""},
    {"head_dim", kRead, "per-head width; default hidden_size / num_attention_heads", ""},
    {"intermediate_size", kRead, "SwiGLU width", ""},
    {"vocab_size", kRead, "vocabulary", ""},
    {"max_position_embeddings", kRead, "context length (default 2048)", ""},
    {"hidden_act", kRead, "only silu (alias swish) is implemented", ""},
    {"attention_bias", kRead, "q/k/v/o biases: only false is implemented", ""},
    {"mlp_bias", kRead, "FFN biases: only false is implemented", ""},
    {"rms_norm_eps", kRead, "RMSNorm epsilon (default 1e-6)", ""},
    {"rope_theta", kRead, "RoPE base before transformers 5 (default 10000)", ""},
    {"rope_parameters", kRead, "transformers 5 RoPE: default, linear, llama3", ""},
    {"rope_scaling", kRead, "RoPE scaling before transformers 5: null, default, linear, llama3",
     ""},
    {"tie_word_embeddings", kRead, "one matrix for embedding and classifier (default false)", ""},
    {"dtype", kRead,
     "float32, bfloat16 or float16: the weights stay in their stored dtype, activations are f32",
     ""},
    {"torch_dtype", kRead, "dtype before transformers 5", ""},
    {"sliding_window", kRead,
     "Mistral: caps the context (up to the window, sliding attention is full attention); "
     "LlamaConfig has no such key and transformers' Llama ignores it, so does kvbench",
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

// The architecture, from `architectures` or `model_type`; anything outside the Llama family is
// refused before its keys are looked at.
absl::StatusOr<std::string> ParseArchitecture(const ConfigReader& r) {
  ASSIGN_OR_RETURN(const std::vector<std::string> archs, r.StringList("architectures"));
  ASSIGN_OR_RETURN(const std::string model_type, r.String("model_type"));
  auto has_arch = [&](absl::string_view a) {
    return std::find(archs.begin(), archs.end(), a) != archs.end();
  };
  if (has_arch("LlamaForCausalLM") || model_type == "llama") return std::string("llama");
  if (has_arch("MistralForCausalLM") || model_type == "mistral") return std::string("mistral");
  return r.Error(absl::StrCat(
      "unsupported architecture: architectures = [", absl::StrJoin(archs, ", "),
      "], model_type = \"", model_type,
      "\" (supported: LlamaForCausalLM / \"llama\", MistralForCausalLM / \"mistral\")"));
}

// Every top-level key is in the table; refused keys hold their harmless value.
absl::Status CheckKeys(const ConfigReader& r) {
  for (const auto& [name, value] : r.object().items()) {
    const HfConfigKey* key = FindKey(name);
    if (key == nullptr) {
      return r.Error(absl::StrCat("config key \"", name,
                                  "\" is unknown to kvbench, which cannot tell whether it changes "
                                  "the computation (keys it reads: ",
                                  ReadKeyNames(), ")"));
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

// rope_theta, rope_type and the frequency factors from rope_parameters / rope_scaling /
// rope_theta. c->rope_dims must be set and valid.
absl::Status ParseRope(const ConfigReader& r, ModelConfig* c) {
  const Json* parameters = r.Find("rope_parameters");
  const Json* scaling = r.Find("rope_scaling");
  // transformers 5 takes rope_scaling over rope_parameters; both present and different is a
  // config whose meaning depends on the reader.
  if (parameters != nullptr && scaling != nullptr && *parameters != *scaling) {
    return r.Error("rope_parameters and rope_scaling are both given and differ");
  }
  const absl::string_view key = scaling != nullptr ? "rope_scaling" : "rope_parameters";
  const Json* rope = scaling != nullptr ? scaling : parameters;
  ASSIGN_OR_RETURN(const double top_theta, r.Float("rope_theta", 10000.0));
  if (rope == nullptr) {
    c->rope_theta = static_cast<float>(top_theta);
    return absl::OkStatus();
  }
  if (!rope->is_object()) {
    return r.Error(absl::StrCat("\"", key, "\" = ", JsonShow(*rope),
                                " is not an object {\"rope_type\": ..., \"rope_theta\": ...}"));
  }
  const ConfigReader p(*rope, absl::StrCat(r.where(), ": ", key));
  for (const auto& [name, value] : rope->items()) {
    if (value.is_object()) {
      return p.Error(
          absl::StrCat("\"", name,
                       "\" is an object: per-layer-type RoPE parameters (Gemma-3's layout) are not "
                       "implemented for the Llama family, which has one RoPE"));
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
  for (const auto& [name, value] : rope->items()) {
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
  ASSIGN_OR_RETURN(const double theta, p.Positive("rope_theta", top_theta));
  if (r.Has("rope_theta") && p.Has("rope_theta") && theta != top_theta) {
    return p.Error(absl::StrCat("rope_theta = ", theta,
                                " differs from the top-level rope_theta = ", top_theta));
  }
  c->rope_theta = static_cast<float>(theta);
  c->rope_type = type;
  if (type == "linear") {
    ASSIGN_OR_RETURN(const double factor, p.Positive("factor", std::nullopt));
    c->rope_freq_factors.assign(c->rope_dims / 2, static_cast<float>(factor));
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
    c->rope_freq_factors = Llama3RopeFactors(c->rope_dims, c->rope_theta, s);
  }
  return absl::OkStatus();
}

absl::Status ParseUnsupportedFeatures(const ConfigReader& r) {
  ASSIGN_OR_RETURN(const std::string act, r.String("hidden_act"));
  if (!act.empty() && act != "silu" && act != "swish") {
    return r.Error(absl::StrCat("hidden_act \"", act, "\" is not supported (only silu)"));
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    ASSIGN_OR_RETURN(const bool bias, r.Bool(key, false));
    if (bias) {
      return r.Error(absl::StrCat(key, " = true is not supported (the decoder has no biases)"));
    }
  }
  RETURN_IF_ERROR(ParseDtype(r, "dtype"));
  return ParseDtype(r, "torch_dtype");
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
  ASSIGN_OR_RETURN(c.architecture, ParseArchitecture(r));
  RETURN_IF_ERROR(CheckKeys(r));
  RETURN_IF_ERROR(ParseUnsupportedFeatures(r));

  ASSIGN_OR_RETURN(c.dim, r.Int("hidden_size", std::nullopt));
  ASSIGN_OR_RETURN(c.n_layers, r.Int("num_hidden_layers", std::nullopt));
  ASSIGN_OR_RETURN(c.n_heads, r.Int("num_attention_heads", std::nullopt));
  ASSIGN_OR_RETURN(c.n_kv_heads, r.Int("num_key_value_heads", c.n_heads));
  ASSIGN_OR_RETURN(c.hidden_dim, r.Int("intermediate_size", std::nullopt));
  ASSIGN_OR_RETURN(c.vocab_size, r.Int("vocab_size", std::nullopt));
  // transformers' LlamaConfig defaults.
  ASSIGN_OR_RETURN(c.context_length, r.Int("max_position_embeddings", 2048));
  if (!r.Has("head_dim") && (c.n_heads <= 0 || c.dim % c.n_heads != 0)) {
    return r.Error(absl::StrCat("hidden_size = ", c.dim,
                                " is not a multiple of num_attention_heads = ", c.n_heads,
                                " and no head_dim is given"));
  }
  ASSIGN_OR_RETURN(c.head_dim, r.Int("head_dim", c.n_heads > 0 ? c.dim / c.n_heads : 0));
  c.rope_dims = c.head_dim;
  ASSIGN_OR_RETURN(const double eps, r.Float("rms_norm_eps", 1e-6));
  c.rms_eps = static_cast<float>(eps);
  // Sizes first: the RoPE factors are sized by them.
  RETURN_IF_ERROR(Annotate(c.Validate(), path));
  RETURN_IF_ERROR(ParseRope(r, &c));
  ASSIGN_OR_RETURN(out.tie_word_embeddings, r.Bool("tie_word_embeddings", false));

  if (c.architecture == "mistral" && r.Has("sliding_window")) {
    ASSIGN_OR_RETURN(const int window, r.Int("sliding_window", 0));
    if (window <= 0) return r.Error(absl::StrCat("sliding_window = ", window, " is invalid"));
    // Sliding-window attention is not implemented; up to the window it equals full attention.
    if (window < c.context_length) c.context_length = window;
  }

  RETURN_IF_ERROR(Annotate(c.Validate(), path));  // the RoPE factors, the window
  return out;
}

}  // namespace kvbench
