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
// config.json is read by model/hf_config.h (every key implemented or refused by name). Mistral
// checkpoints have the same tensors and are accepted; a sliding window caps the context length
// instead of being implemented (within the window, sliding-window attention is full attention).
#include <cstdint>
#include <cstring>
#include <filesystem>
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
#include "model/hf_config.h"
#include "model/loader.h"
#include "model/model.h"
#include "text/hf_tokenizer.h"

namespace kvbench {
namespace {

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
  auto model = std::make_unique<Model>();
  ASSIGN_OR_RETURN(const HfConfig config, ParseHfConfig(root, config_path));
  model->config = config.model;
  const bool tied = config.tie_word_embeddings;

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
