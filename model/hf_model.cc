// Loads a Hugging Face Llama checkpoint folder: config.json + model.safetensors (or a sharded
// model.safetensors.index.json) + tokenizer.json.
//
// RoPE layout. The decoder rotates interleaved pairs (x[2i], x[2i+1]) of each head, as llama2.c,
// Meta's original checkpoints and GGUF do. Hugging Face's Llama rotates "halves": pair i is
// (x[i], x[i + head_dim/2]). HF's convert_llama_weights_to_hf.py turned Meta's weights into that
// layout by permuting the rows of q_proj and k_proj within each head:
//     w.view(n_heads, head_dim/2, 2, dim).transpose(1, 2).reshape(n_heads * head_dim, dim)
// so HF row j (j < head_dim/2) holds the first element of pair j and HF row j + head_dim/2 its
// second. Both conventions give pair j the same frequency theta^(-2j/head_dim) and the same
// rotation sign, so un-permuting the rows once here (HF row j -> row 2j, HF row j + head_dim/2 ->
// row 2j + 1, per head) makes the interleaved decoder compute exactly the HF model's attention
// scores. llama.cpp's convert_hf_to_gguf.py does the same reordering when it writes GGUF. The
// permuted q/k matrices live in buffers the Model owns, in the file's dtype; everything else points
// into the file mapping, except norm vectors that are widened to f32 when stored as F16/BF16.
//
// Mistral checkpoints have the same tensors and are accepted; a sliding window caps the context
// length instead of being implemented (within the window, sliding-window attention is full
// attention).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "formats/half.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "model/loader.h"
#include "model/model.h"
#include "text/hf_tokenizer.h"

namespace kvbench {
namespace {

// ---------------------------------------------------------------------------------------------
// config.json

// Typed, checked access to the keys of config.json. A key that is absent or JSON null takes the
// default; one of the wrong type is an error naming key and value.
class ConfigReader {
 public:
  ConfigReader(const Json& root, std::string path) : root_(root), path_(std::move(path)) {}

  // The value of `key`; nullptr when it is absent or null.
  const Json* Find(const char* key) const {
    const Json* n = JsonMember(root_, key);
    return n == nullptr || n->is_null() ? nullptr : n;
  }
  bool Has(const char* key) const { return Find(key) != nullptr; }

  absl::StatusOr<int> Int(const char* key, std::optional<int> fallback) const {
    const Json* n = Find(key);
    if (n == nullptr) {
      if (fallback.has_value()) return *fallback;
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": required key \"", key, "\" is missing"));
    }
    const std::optional<int> v = JsonInteger<int>(*n);
    if (!v.has_value()) return Bad(key, *n, "an integer");
    return *v;
  }

  absl::StatusOr<double> Float(const char* key, double fallback) const {
    const Json* n = Find(key);
    if (n == nullptr) return fallback;
    if (!n->is_number()) return Bad(key, *n, "a number");
    return n->get<double>();
  }

  absl::StatusOr<bool> Bool(const char* key, bool fallback) const {
    const Json* n = Find(key);
    if (n == nullptr) return fallback;
    if (!n->is_boolean()) return Bad(key, *n, "true or false");
    return n->get<bool>();
  }

  absl::StatusOr<std::string> String(const char* key) const {
    const Json* n = Find(key);
    if (n == nullptr) return std::string();
    if (!n->is_string()) return Bad(key, *n, "a string");
    return n->get<std::string>();
  }

  absl::StatusOr<std::vector<std::string>> StringList(const char* key) const {
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

  const std::string& path() const { return path_; }

 private:
  absl::Status Bad(const char* key, const Json& n, const std::string& expected) const {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": \"", key, "\" = ", JsonShow(n), " is not ", expected));
  }

  const Json& root_;
  const std::string path_;
};

absl::StatusOr<ModelConfig> ParseConfig(const ConfigReader& r) {
  ModelConfig c;
  ASSIGN_OR_RETURN(const std::vector<std::string> archs, r.StringList("architectures"));
  ASSIGN_OR_RETURN(const std::string model_type, r.String("model_type"));
  auto has_arch = [&](std::string_view a) {
    return std::find(archs.begin(), archs.end(), a) != archs.end();
  };
  if (has_arch("LlamaForCausalLM") || model_type == "llama") {
    c.architecture = "llama";
  } else if (has_arch("MistralForCausalLM") || model_type == "mistral") {
    c.architecture = "mistral";
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        r.path(), ": unsupported architecture: architectures = [", absl::StrJoin(archs, ", "),
        "], model_type = \"", model_type,
        "\" (supported: LlamaForCausalLM / \"llama\", MistralForCausalLM / \"mistral\")"));
  }

  // Features the decoder does not implement are refused rather than silently ignored.
  ASSIGN_OR_RETURN(const std::string act, r.String("hidden_act"));
  if (!act.empty() && act != "silu") {
    return absl::InvalidArgumentError(
        absl::StrCat(r.path(), ": hidden_act \"", act, "\" is not supported (only silu)"));
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    ASSIGN_OR_RETURN(const bool bias, r.Bool(key, false));
    if (bias) {
      return absl::InvalidArgumentError(absl::StrCat(
          r.path(), ": ", key, " = true is not supported (the decoder has no biases)"));
    }
  }
  if (const Json* scaling = r.Find("rope_scaling")) {
    std::string type = "(no type given)";
    for (const char* key : {"rope_type", "type"}) {
      const Json* t = JsonMember(*scaling, key);
      if (t != nullptr && t->is_string()) {
        type = t->get<std::string>();
        break;
      }
    }
    // "default" is plain RoPE, as newer transformers versions write it.
    if (type != "default") {
      return absl::InvalidArgumentError(
          absl::StrCat(r.path(), ": rope_scaling type \"", type,
                       "\" is not implemented (only null or \"default\" RoPE)"));
    }
  }

  ASSIGN_OR_RETURN(c.dim, r.Int("hidden_size", std::nullopt));
  ASSIGN_OR_RETURN(c.n_layers, r.Int("num_hidden_layers", std::nullopt));
  ASSIGN_OR_RETURN(c.n_heads, r.Int("num_attention_heads", std::nullopt));
  ASSIGN_OR_RETURN(c.n_kv_heads, r.Int("num_key_value_heads", c.n_heads));
  ASSIGN_OR_RETURN(c.hidden_dim, r.Int("intermediate_size", std::nullopt));
  ASSIGN_OR_RETURN(c.vocab_size, r.Int("vocab_size", std::nullopt));
  // transformers' LlamaConfig defaults.
  ASSIGN_OR_RETURN(c.context_length, r.Int("max_position_embeddings", 2048));
  if (!r.Has("head_dim")) {
    if (c.n_heads <= 0 || c.dim % c.n_heads != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          r.path(), ": hidden_size = ", c.dim,
          " is not a multiple of num_attention_heads = ", c.n_heads, " and no head_dim is given"));
    }
  }
  ASSIGN_OR_RETURN(c.head_dim, r.Int("head_dim", c.n_heads > 0 ? c.dim / c.n_heads : 0));
  c.rope_dims = c.head_dim;
  ASSIGN_OR_RETURN(const double theta, r.Float("rope_theta", 10000.0));
  c.rope_theta = static_cast<float>(theta);
  ASSIGN_OR_RETURN(const double eps, r.Float("rms_norm_eps", 1e-6));
  c.rms_eps = static_cast<float>(eps);

  if (c.architecture == "mistral" && r.Has("sliding_window")) {
    ASSIGN_OR_RETURN(const int window, r.Int("sliding_window", 0));
    if (window <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(r.path(), ": sliding_window = ", window, " is invalid"));
    }
    // Sliding-window attention is not implemented; up to the window it equals full attention.
    if (window < c.context_length) c.context_length = window;
  }

  RETURN_IF_ERROR(Annotate(c.Validate(), r.path()));  // InvalidArgument
  return c;
}

// ---------------------------------------------------------------------------------------------
// Tensors

size_t ElementBytes(DType t) { return t == DType::kF32 ? 4 : 2; }

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

class TensorLoader {
 public:
  TensorLoader(const SafetensorsCheckpoint& ckpt, Model* model, std::string dir)
      : ckpt_(ckpt), model_(model), dir_(std::move(dir)) {}

  absl::StatusOr<const SafetensorsTensor*> Get(const std::string& name,
                                               const std::vector<int64_t>& shape) const {
    const SafetensorsTensor* t = ckpt_.Find(name);
    if (t == nullptr) {
      return absl::NotFoundError(absl::StrCat(dir_, ": tensor '", name, "' is missing"));
    }
    if (t->shape != shape) {
      return absl::InvalidArgumentError(absl::StrCat(t->file, ": tensor '", name, "' has shape ",
                                                     ShapeString(t->shape),
                                                     ", config.json implies ", ShapeString(shape)));
    }
    return t;
  }

  // A matrix that points into the mapping (copied only if the file misaligns it).
  absl::StatusOr<WeightMatrix> Matrix(const std::string& name, int64_t rows, int64_t cols) {
    ASSIGN_OR_RETURN(const SafetensorsTensor* t, Get(name, {rows, cols}));
    WeightMatrix m{t->dtype, rows, cols, t->data};
    if (reinterpret_cast<uintptr_t>(m.data) % ElementBytes(m.dtype) != 0) {
      std::byte* copy = model_->Allocate(t->bytes);
      std::memcpy(copy, t->data, t->bytes);
      m.data = copy;
    }
    return m;
  }

  // q_proj / k_proj: rows reordered from HF's rotate-half layout to interleaved pairs (see the top
  // of this file), into an owned buffer of the same dtype.
  absl::StatusOr<WeightMatrix> RopeMatrix(const std::string& name, int n_heads, int head_dim,
                                          int64_t cols) {
    ASSIGN_OR_RETURN(const WeightMatrix hf,
                     Matrix(name, static_cast<int64_t>(n_heads) * head_dim, cols));
    WeightMatrix out = hf;
    std::byte* dst = model_->Allocate(hf.bytes());
    const size_t row_bytes = hf.row_bytes();
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; ++h) {
      const int64_t base = static_cast<int64_t>(h) * head_dim;
      for (int j = 0; j < half; ++j) {
        std::memcpy(dst + (base + 2 * j) * row_bytes, hf.row(base + j), row_bytes);
        std::memcpy(dst + (base + 2 * j + 1) * row_bytes, hf.row(base + j + half), row_bytes);
      }
    }
    out.data = dst;
    return out;
  }

  // A norm weight as f32: the mapping itself when it is aligned F32, otherwise an owned copy.
  absl::StatusOr<const float*> Vector(const std::string& name, int64_t n) {
    ASSIGN_OR_RETURN(const SafetensorsTensor* t, Get(name, {n}));
    const std::byte* src = t->data;
    if (t->dtype == DType::kF32 && reinterpret_cast<uintptr_t>(src) % alignof(float) == 0) {
      return reinterpret_cast<const float*>(src);
    }
    float* dst = reinterpret_cast<float*>(model_->Allocate(static_cast<size_t>(n) * sizeof(float)));
    for (int64_t i = 0; i < n; ++i) {
      if (t->dtype == DType::kF32) {
        std::memcpy(&dst[i], src + 4 * i, 4);
      } else {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = t->dtype == DType::kF16 ? Fp16ToF32(h) : Bf16ToF32(h);
      }
    }
    return dst;
  }

 private:
  const SafetensorsCheckpoint& ckpt_;
  Model* model_;
  std::string dir_;
};

absl::Status LoadWeights(const SafetensorsCheckpoint& ckpt, const std::string& dir, bool tied,
                         Model* model) {
  const ModelConfig& c = model->config;
  for (const SafetensorsTensor& t : ckpt.tensors()) {
    if (t.name.size() >= 5 && t.name.compare(t.name.size() - 5, 5, ".bias") == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(t.file, ": tensor '", t.name,
                       "' is a bias; the decoder implements bias-free Llama only"));
    }
  }

  TensorLoader load(ckpt, model, dir);
  ModelWeights& w = model->weights;
  // Tied embeddings: one matrix serves both ends. Some exports (TinyStories-656K) store only
  // lm_head.weight, others only model.embed_tokens.weight; use whichever exists.
  const std::string kEmbed = "model.embed_tokens.weight", kHead = "lm_head.weight";
  if (tied) {
    const std::string& name = ckpt.Find(kEmbed) != nullptr ? kEmbed : kHead;
    if (ckpt.Find(name) == nullptr) {
      return absl::NotFoundError(absl::StrCat(dir, ": tie_word_embeddings is set but neither '",
                                              kEmbed, "' nor '", kHead, "' is present"));
    }
    ASSIGN_OR_RETURN(w.token_embedding, load.Matrix(name, c.vocab_size, c.dim));
    w.classifier = w.token_embedding;
  } else {
    ASSIGN_OR_RETURN(w.token_embedding, load.Matrix(kEmbed, c.vocab_size, c.dim));
    ASSIGN_OR_RETURN(w.classifier, load.Matrix(kHead, c.vocab_size, c.dim));
  }

  w.layers.assign(c.n_layers, LayerWeights{});
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    LayerWeights& l = w.layers[i];
    ASSIGN_OR_RETURN(l.attn_norm, load.Vector(p + "input_layernorm.weight", c.dim));
    ASSIGN_OR_RETURN(l.wq,
                     load.RopeMatrix(p + "self_attn.q_proj.weight", c.n_heads, c.head_dim, c.dim));
    ASSIGN_OR_RETURN(
        l.wk, load.RopeMatrix(p + "self_attn.k_proj.weight", c.n_kv_heads, c.head_dim, c.dim));
    ASSIGN_OR_RETURN(l.wv, load.Matrix(p + "self_attn.v_proj.weight", c.kv_dim(), c.dim));
    ASSIGN_OR_RETURN(l.wo, load.Matrix(p + "self_attn.o_proj.weight", c.dim, c.q_dim()));
    ASSIGN_OR_RETURN(l.ffn_norm, load.Vector(p + "post_attention_layernorm.weight", c.dim));
    ASSIGN_OR_RETURN(l.w_gate, load.Matrix(p + "mlp.gate_proj.weight", c.hidden_dim, c.dim));
    ASSIGN_OR_RETURN(l.w_up, load.Matrix(p + "mlp.up_proj.weight", c.hidden_dim, c.dim));
    ASSIGN_OR_RETURN(l.w_down, load.Matrix(p + "mlp.down_proj.weight", c.dim, c.hidden_dim));
  }
  ASSIGN_OR_RETURN(w.final_norm, load.Vector("model.norm.weight", c.dim));
  return absl::OkStatus();
}

}  // namespace

// Config first (so an unsupported model fails before any tensor is mapped), then the tensors, with
// q_proj/k_proj rows un-permuted from rotate-half to interleaved RoPE pairs (top of this file),
// then tokenizer.json.
absl::StatusOr<std::unique_ptr<Model>> LoadHuggingFaceModel(const std::string& dir) {
  const std::string config_path = (std::filesystem::path(dir) / "config.json").string();
  if (!std::filesystem::exists(config_path)) {
    return absl::NotFoundError(
        absl::StrCat("Hugging Face model folder ", dir, " has no config.json"));
  }
  ASSIGN_OR_RETURN(const Json root, ParseJsonFile(config_path));
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(config_path, ": not a JSON object"));
  }
  auto model = std::make_unique<Model>();
  const ConfigReader reader(root, config_path);
  ASSIGN_OR_RETURN(model->config, ParseConfig(reader));
  // LlamaConfig's default.
  ASSIGN_OR_RETURN(const bool tied, reader.Bool("tie_word_embeddings", false));

  ASSIGN_OR_RETURN(const std::unique_ptr<SafetensorsCheckpoint> ckpt,
                   SafetensorsCheckpoint::OpenDir(dir));
  RETURN_IF_ERROR(LoadWeights(*ckpt, dir, tied, model.get()));
  for (const SafetensorsTensor& t : ckpt->tensors()) {
    model->tensors.push_back(TensorInfo{t.name, std::string(DTypeName(t.dtype)), t.shape, t.bytes});
  }
  model->mappings = ckpt->TakeMappings();

  const std::string tokenizer_path = (std::filesystem::path(dir) / "tokenizer.json").string();
  if (!std::filesystem::exists(tokenizer_path)) {
    return absl::NotFoundError(
        absl::StrCat("Hugging Face model folder ", dir, " has no tokenizer.json"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<HfBpeTokenizer> tokenizer,
                   HfBpeTokenizer::FromFile(tokenizer_path));
  if (tokenizer->vocab_size() > model->config.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(tokenizer_path, ": ", tokenizer->vocab_size(),
                                                   " tokens, but the model's vocab_size is ",
                                                   model->config.vocab_size));
  }
  model->tokenizer = std::move(tokenizer);
  model->format = "huggingface";
  model->path = dir;
  return model;
}

}  // namespace kvbench
