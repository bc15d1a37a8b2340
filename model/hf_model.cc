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
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "formats/half.h"
#include "text/hf_tokenizer.h"
#include "formats/json.h"
#include "model/loader.h"
#include "model/model.h"
#include "formats/safetensors.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {
namespace {

// ---------------------------------------------------------------------------------------------
// config.json

// Typed, checked access to the keys of config.json. A key that is absent or JSON null takes the
// default; one of the wrong type is an error naming key and value.
class ConfigReader {
 public:
  ConfigReader(const YAML::Node& root, std::string path) : root_(root), path_(std::move(path)) {}

  bool Has(const char* key) const {
    const YAML::Node n = root_[key];
    return n.IsDefined() && !n.IsNull();
  }

  absl::StatusOr<int> Int(const char* key, std::optional<int> fallback) const {
    const YAML::Node n = root_[key];
    if (!n.IsDefined() || n.IsNull()) {
      if (fallback.has_value()) return *fallback;
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": required key \"", key, "\" is missing"));
    }
    int64_t v;
    if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v) || v < std::numeric_limits<int>::min() ||
        v > std::numeric_limits<int>::max()) {
      return Bad(key, n, "an integer");
    }
    return static_cast<int>(v);
  }

  absl::StatusOr<double> Float(const char* key, double fallback) const {
    const YAML::Node n = root_[key];
    if (!n.IsDefined() || n.IsNull()) return fallback;
    double v;
    if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v)) return Bad(key, n, "a number");
    return v;
  }

  absl::StatusOr<bool> Bool(const char* key, bool fallback) const {
    const YAML::Node n = root_[key];
    if (!n.IsDefined() || n.IsNull()) return fallback;
    if (n.IsScalar() && n.Scalar() == "true") return true;
    if (n.IsScalar() && n.Scalar() == "false") return false;
    return Bad(key, n, "true or false");
  }

  absl::StatusOr<std::string> String(const char* key) const {
    const YAML::Node n = root_[key];
    if (!n.IsDefined() || n.IsNull()) return std::string();
    if (!n.IsScalar()) return Bad(key, n, "a string");
    return n.Scalar();
  }

  absl::StatusOr<std::vector<std::string>> StringList(const char* key) const {
    const YAML::Node n = root_[key];
    std::vector<std::string> out;
    if (!n.IsDefined() || n.IsNull()) return out;
    if (!n.IsSequence()) return Bad(key, n, "a list of strings");
    for (size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar()) return Bad(key, n, "a list of strings");
      out.push_back(n[i].Scalar());
    }
    return out;
  }

  YAML::Node Node(const char* key) const { return root_[key]; }
  const std::string& path() const { return path_; }

 private:
  absl::Status Bad(const char* key, const YAML::Node& n, const std::string& expected) const {
    std::string shown = n.IsScalar() ? n.Scalar() : (n.IsSequence() ? "a list" : "an object");
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": \"", key, "\" = ", shown, " is not ", expected));
  }

  const YAML::Node root_;
  const std::string path_;
};

absl::StatusOr<ModelConfig> ParseConfig(const ConfigReader& r) {
  ModelConfig c;
  absl::StatusOr<std::vector<std::string>> archs = r.StringList("architectures");
  if (!archs.ok()) return archs.status();
  absl::StatusOr<std::string> model_type = r.String("model_type");
  if (!model_type.ok()) return model_type.status();
  auto has_arch = [&](std::string_view a) {
    return std::find(archs->begin(), archs->end(), a) != archs->end();
  };
  if (has_arch("LlamaForCausalLM") || *model_type == "llama") {
    c.architecture = "llama";
  } else if (has_arch("MistralForCausalLM") || *model_type == "mistral") {
    c.architecture = "mistral";
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        r.path(), ": unsupported architecture: architectures = [", absl::StrJoin(*archs, ", "),
        "], model_type = \"", *model_type,
        "\" (supported: LlamaForCausalLM / \"llama\", MistralForCausalLM / \"mistral\")"));
  }

  // Features the decoder does not implement are refused rather than silently ignored.
  absl::StatusOr<std::string> act = r.String("hidden_act");
  if (!act.ok()) return act.status();
  if (!act->empty() && *act != "silu") {
    return absl::InvalidArgumentError(
        absl::StrCat(r.path(), ": hidden_act \"", *act, "\" is not supported (only silu)"));
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    absl::StatusOr<bool> bias = r.Bool(key, false);
    if (!bias.ok()) return bias.status();
    if (*bias) {
      return absl::InvalidArgumentError(absl::StrCat(
          r.path(), ": ", key, " = true is not supported (the decoder has no biases)"));
    }
  }
  const YAML::Node scaling = r.Node("rope_scaling");
  if (scaling.IsDefined() && !scaling.IsNull()) {
    std::string type = "(no type given)";
    if (scaling.IsMap()) {
      for (const char* key : {"rope_type", "type"}) {
        const YAML::Node t = scaling[key];
        if (t.IsDefined() && t.IsScalar()) {
          type = t.Scalar();
          break;
        }
      }
    }
    // "default" is plain RoPE, as newer transformers versions write it.
    if (type != "default") {
      return absl::InvalidArgumentError(
          absl::StrCat(r.path(), ": rope_scaling type \"", type,
                       "\" is not implemented (only null or \"default\" RoPE)"));
    }
  }

  auto set_int = [&](int* field, const char* key, std::optional<int> fallback) -> absl::Status {
    absl::StatusOr<int> v = r.Int(key, fallback);
    if (!v.ok()) return v.status();
    *field = *v;
    return absl::OkStatus();
  };
  absl::Status s;
  if (!(s = set_int(&c.dim, "hidden_size", std::nullopt)).ok()) return s;
  if (!(s = set_int(&c.n_layers, "num_hidden_layers", std::nullopt)).ok()) return s;
  if (!(s = set_int(&c.n_heads, "num_attention_heads", std::nullopt)).ok()) return s;
  if (!(s = set_int(&c.n_kv_heads, "num_key_value_heads", c.n_heads)).ok()) return s;
  if (!(s = set_int(&c.hidden_dim, "intermediate_size", std::nullopt)).ok()) return s;
  if (!(s = set_int(&c.vocab_size, "vocab_size", std::nullopt)).ok()) return s;
  // transformers' LlamaConfig defaults.
  if (!(s = set_int(&c.context_length, "max_position_embeddings", 2048)).ok()) return s;
  if (!r.Has("head_dim")) {
    if (c.n_heads <= 0 || c.dim % c.n_heads != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          r.path(), ": hidden_size = ", c.dim,
          " is not a multiple of num_attention_heads = ", c.n_heads, " and no head_dim is given"));
    }
  }
  if (!(s = set_int(&c.head_dim, "head_dim", c.n_heads > 0 ? c.dim / c.n_heads : 0)).ok()) {
    return s;
  }
  c.rope_dims = c.head_dim;
  absl::StatusOr<double> theta = r.Float("rope_theta", 10000.0);
  if (!theta.ok()) return theta.status();
  c.rope_theta = static_cast<float>(*theta);
  absl::StatusOr<double> eps = r.Float("rms_norm_eps", 1e-6);
  if (!eps.ok()) return eps.status();
  c.rms_eps = static_cast<float>(*eps);

  if (c.architecture == "mistral" && r.Has("sliding_window")) {
    absl::StatusOr<int> window = r.Int("sliding_window", 0);
    if (!window.ok()) return window.status();
    if (*window <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(r.path(), ": sliding_window = ", *window, " is invalid"));
    }
    // Sliding-window attention is not implemented; up to the window it equals full attention.
    if (*window < c.context_length) c.context_length = *window;
  }

  if (absl::Status v = c.Validate(); !v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(r.path(), ": ", v.message()));
  }
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
    absl::StatusOr<const SafetensorsTensor*> t = Get(name, {rows, cols});
    if (!t.ok()) return t.status();
    WeightMatrix m{(*t)->dtype, rows, cols, (*t)->data};
    if (reinterpret_cast<uintptr_t>(m.data) % ElementBytes(m.dtype) != 0) {
      std::byte* copy = model_->Allocate((*t)->bytes);
      std::memcpy(copy, (*t)->data, (*t)->bytes);
      m.data = copy;
    }
    return m;
  }

  // q_proj / k_proj: rows reordered from HF's rotate-half layout to interleaved pairs (see the top
  // of this file), into an owned buffer of the same dtype.
  absl::StatusOr<WeightMatrix> RopeMatrix(const std::string& name, int n_heads, int head_dim,
                                          int64_t cols) {
    absl::StatusOr<WeightMatrix> hf = Matrix(name, static_cast<int64_t>(n_heads) * head_dim, cols);
    if (!hf.ok()) return hf.status();
    WeightMatrix out = *hf;
    std::byte* dst = model_->Allocate(hf->bytes());
    const size_t row_bytes = hf->row_bytes();
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; ++h) {
      const int64_t base = static_cast<int64_t>(h) * head_dim;
      for (int j = 0; j < half; ++j) {
        std::memcpy(dst + (base + 2 * j) * row_bytes, hf->row(base + j), row_bytes);
        std::memcpy(dst + (base + 2 * j + 1) * row_bytes, hf->row(base + j + half), row_bytes);
      }
    }
    out.data = dst;
    return out;
  }

  // A norm weight as f32: the mapping itself when it is aligned F32, otherwise an owned copy.
  absl::StatusOr<const float*> Vector(const std::string& name, int64_t n) {
    absl::StatusOr<const SafetensorsTensor*> t = Get(name, {n});
    if (!t.ok()) return t.status();
    const std::byte* src = (*t)->data;
    if ((*t)->dtype == DType::kF32 && reinterpret_cast<uintptr_t>(src) % alignof(float) == 0) {
      return reinterpret_cast<const float*>(src);
    }
    float* dst = reinterpret_cast<float*>(model_->Allocate(static_cast<size_t>(n) * sizeof(float)));
    for (int64_t i = 0; i < n; ++i) {
      if ((*t)->dtype == DType::kF32) {
        std::memcpy(&dst[i], src + 4 * i, 4);
      } else {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = (*t)->dtype == DType::kF16 ? Fp16ToF32(h) : Bf16ToF32(h);
      }
    }
    return dst;
  }

 private:
  const SafetensorsCheckpoint& ckpt_;
  Model* model_;
  std::string dir_;
};

#define KVB_ASSIGN(lhs, expr)                         \
  do {                                                \
    auto _kvb_value = (expr);                         \
    if (!_kvb_value.ok()) return _kvb_value.status(); \
    lhs = *std::move(_kvb_value);                     \
  } while (0)

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
    KVB_ASSIGN(w.token_embedding, load.Matrix(name, c.vocab_size, c.dim));
    w.classifier = w.token_embedding;
  } else {
    KVB_ASSIGN(w.token_embedding, load.Matrix(kEmbed, c.vocab_size, c.dim));
    KVB_ASSIGN(w.classifier, load.Matrix(kHead, c.vocab_size, c.dim));
  }

  w.layers.assign(c.n_layers, LayerWeights{});
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    LayerWeights& l = w.layers[i];
    KVB_ASSIGN(l.attn_norm, load.Vector(p + "input_layernorm.weight", c.dim));
    KVB_ASSIGN(l.wq, load.RopeMatrix(p + "self_attn.q_proj.weight", c.n_heads, c.head_dim, c.dim));
    KVB_ASSIGN(l.wk,
               load.RopeMatrix(p + "self_attn.k_proj.weight", c.n_kv_heads, c.head_dim, c.dim));
    KVB_ASSIGN(l.wv, load.Matrix(p + "self_attn.v_proj.weight", c.kv_dim(), c.dim));
    KVB_ASSIGN(l.wo, load.Matrix(p + "self_attn.o_proj.weight", c.dim, c.q_dim()));
    KVB_ASSIGN(l.ffn_norm, load.Vector(p + "post_attention_layernorm.weight", c.dim));
    KVB_ASSIGN(l.w_gate, load.Matrix(p + "mlp.gate_proj.weight", c.hidden_dim, c.dim));
    KVB_ASSIGN(l.w_up, load.Matrix(p + "mlp.up_proj.weight", c.hidden_dim, c.dim));
    KVB_ASSIGN(l.w_down, load.Matrix(p + "mlp.down_proj.weight", c.dim, c.hidden_dim));
  }
  KVB_ASSIGN(w.final_norm, load.Vector("model.norm.weight", c.dim));
  return absl::OkStatus();
}

#undef KVB_ASSIGN

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
  absl::StatusOr<YAML::Node> root = ParseJsonFile(config_path);
  if (!root.ok()) return root.status();
  if (!root->IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(config_path, ": not a JSON object"));
  }
  auto model = std::make_unique<Model>();
  bool tied = false;
  try {
    // yaml-cpp keeps both copies of a repeated key and reads the first; Python reads the last.
    std::set<std::string> keys;
    for (auto it = root->begin(); it != root->end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
      if (!keys.insert(key).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(config_path, ": key \"", key, "\" appears twice"));
      }
    }
    const ConfigReader reader(*root, config_path);
    absl::StatusOr<ModelConfig> config = ParseConfig(reader);
    if (!config.ok()) return config.status();
    model->config = *config;
    absl::StatusOr<bool> tie = reader.Bool("tie_word_embeddings", false);  // LlamaConfig default
    if (!tie.ok()) return tie.status();
    tied = *tie;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(config_path, ": malformed: ", e.what()));
  }

  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt = SafetensorsCheckpoint::OpenDir(dir);
  if (!ckpt.ok()) return ckpt.status();
  if (absl::Status s = LoadWeights(**ckpt, dir, tied, model.get()); !s.ok()) return s;
  for (const SafetensorsTensor& t : (*ckpt)->tensors()) {
    model->tensors.push_back(TensorInfo{t.name, std::string(DTypeName(t.dtype)), t.shape, t.bytes});
  }
  model->mappings = (*ckpt)->TakeMappings();

  const std::string tokenizer_path = (std::filesystem::path(dir) / "tokenizer.json").string();
  if (!std::filesystem::exists(tokenizer_path)) {
    return absl::NotFoundError(
        absl::StrCat("Hugging Face model folder ", dir, " has no tokenizer.json"));
  }
  absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> tokenizer =
      HfBpeTokenizer::FromFile(tokenizer_path);
  if (!tokenizer.ok()) return tokenizer.status();
  if ((*tokenizer)->vocab_size() > model->config.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(tokenizer_path, ": ", (*tokenizer)->vocab_size(),
                                                   " tokens, but the model's vocab_size is ",
                                                   model->config.vocab_size));
  }
  model->tokenizer = *std::move(tokenizer);
  model->format = "huggingface";
  model->path = dir;
  return model;
}

}  // namespace kvbench
