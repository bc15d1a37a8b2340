// Loads a Hugging Face checkpoint folder (Llama, Mistral, Qwen2, Qwen3, Gemma-3 text): config.json
// + model.safetensors (or a sharded model.safetensors.index.json) + tokenizer.json.
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
// config.json is read by model/hf_config.h (every key implemented or refused by name). The other
// families are the same tensors plus their switches: Qwen2's q/k/v biases (Qwen3 / Llama with
// attention_bias: also o_proj), Qwen3 / Gemma-3 per-head q_norm / k_norm (a head_dim vector,
// reordered like the rows it scales), Gemma-3's four norms a layer (post_attention_layernorm is the
// attention output's norm there, pre_feedforward_layernorm the FFN's input norm) stored as w and
// applied as (1 + w). Every tensor of the checkpoint must be read: one the config does not
// explain is an error.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
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
                                               const std::vector<int64_t>& shape) {
    const SafetensorsTensor* t = ckpt_.Find(name);
    used_.insert(name);
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

  // A norm weight or bias as f32: the mapping itself when it is aligned F32, otherwise an owned
  // copy. `offset` is added to every value (Gemma's norms multiply by 1 + w).
  absl::StatusOr<const float*> Vector(const std::string& name, int64_t n, float offset = 0.0f) {
    ASSIGN_OR_RETURN(const SafetensorsTensor* t, Get(name, {n}));
    const std::byte* src = t->data;
    if (offset == 0.0f && t->dtype == DType::kF32 &&
        reinterpret_cast<uintptr_t>(src) % alignof(float) == 0) {
      return reinterpret_cast<const float*>(src);
    }
    ASSIGN_OR_RETURN(float* dst, OwnedVector(t, n));
    for (int64_t i = 0; i < n; ++i) dst[i] += offset;
    return dst;
  }

  // A vector that follows the rows of q_proj / k_proj (a bias, or a per-head norm with
  // n_heads = 1), reordered per head from rotate-half to interleaved pairs as RopeMatrix does.
  absl::StatusOr<const float*> RopeVector(const std::string& name, int n_heads, int head_dim,
                                          float offset = 0.0f) {
    const int64_t n = static_cast<int64_t>(n_heads) * head_dim;
    ASSIGN_OR_RETURN(const SafetensorsTensor* t, Get(name, {n}));
    ASSIGN_OR_RETURN(float* hf, OwnedVector(t, n));
    float* dst = reinterpret_cast<float*>(model_->Allocate(static_cast<size_t>(n) * sizeof(float)));
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; ++h) {
      const int64_t base = static_cast<int64_t>(h) * head_dim;
      for (int j = 0; j < half; ++j) {
        dst[base + 2 * j] = hf[base + j] + offset;
        dst[base + 2 * j + 1] = hf[base + j + half] + offset;
      }
    }
    return dst;
  }

  // Names of the tensors read so far.
  const std::set<std::string>& used() const { return used_; }

 private:
  // The n values of t widened to f32, in a buffer the model owns.
  absl::StatusOr<float*> OwnedVector(const SafetensorsTensor* t, int64_t n) {
    const std::byte* src = t->data;
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

  const SafetensorsCheckpoint& ckpt_;
  Model* model_;
  std::string dir_;
  std::set<std::string> used_;
};

// Every tensor of the checkpoint must be one the config's architecture reads: a bias the config
// does not announce, or a norm of another family, would otherwise be silently dropped.
absl::Status CheckAllTensorsUsed(const SafetensorsCheckpoint& ckpt, const TensorLoader& load,
                                 bool tied, const ModelConfig& c) {
  for (const SafetensorsTensor& t : ckpt.tensors()) {
    if (load.used().contains(t.name)) continue;
    if (absl::EndsWith(t.name, "rotary_emb.inv_freq")) continue;  // a cached RoPE table
    if (tied && (t.name == "lm_head.weight" || t.name == "model.embed_tokens.weight")) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        t.file, ": tensor '", t.name, "' is not part of the ", c.architecture,
        " decoder config.json describes (attention_bias = ", c.attention_bias ? "true" : "false",
        ", q/k norm = ", c.qk_norm ? "yes" : "no", "): kvbench would ignore it"));
  }
  return absl::OkStatus();
}

absl::Status LoadWeights(const SafetensorsCheckpoint& ckpt, const std::string& dir, bool tied,
                         Model* model) {
  const ModelConfig& c = model->config;
  // Gemma's RMSNorm multiplies by (1 + w) in f32: folded into the weights here, once.
  const bool gemma = c.architecture == "gemma3";
  const float norm_offset = gemma ? 1.0f : 0.0f;
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
    ASSIGN_OR_RETURN(l.attn_norm, load.Vector(p + "input_layernorm.weight", c.dim, norm_offset));
    ASSIGN_OR_RETURN(l.wq,
                     load.RopeMatrix(p + "self_attn.q_proj.weight", c.n_heads, c.head_dim, c.dim));
    ASSIGN_OR_RETURN(
        l.wk, load.RopeMatrix(p + "self_attn.k_proj.weight", c.n_kv_heads, c.head_dim, c.dim));
    ASSIGN_OR_RETURN(l.wv, load.Matrix(p + "self_attn.v_proj.weight", c.kv_dim(), c.dim));
    ASSIGN_OR_RETURN(l.wo, load.Matrix(p + "self_attn.o_proj.weight", c.dim, c.q_dim()));
    if (c.attention_bias) {
      ASSIGN_OR_RETURN(l.bq, load.RopeVector(p + "self_attn.q_proj.bias", c.n_heads, c.head_dim));
      ASSIGN_OR_RETURN(l.bk,
                       load.RopeVector(p + "self_attn.k_proj.bias", c.n_kv_heads, c.head_dim));
      ASSIGN_OR_RETURN(l.bv, load.Vector(p + "self_attn.v_proj.bias", c.kv_dim()));
      // Qwen2 has no o_proj bias; Llama, Qwen3 and Gemma-3 with attention_bias do.
      if (c.architecture != "qwen2") {
        ASSIGN_OR_RETURN(l.bo, load.Vector(p + "self_attn.o_proj.bias", c.dim));
      }
    }
    if (c.qk_norm) {
      ASSIGN_OR_RETURN(l.q_norm,
                       load.RopeVector(p + "self_attn.q_norm.weight", 1, c.head_dim, norm_offset));
      ASSIGN_OR_RETURN(l.k_norm,
                       load.RopeVector(p + "self_attn.k_norm.weight", 1, c.head_dim, norm_offset));
    }
    if (c.sandwich_norms) {  // Gemma-3's four norms a layer
      ASSIGN_OR_RETURN(l.attn_post_norm,
                       load.Vector(p + "post_attention_layernorm.weight", c.dim, norm_offset));
      ASSIGN_OR_RETURN(l.ffn_norm,
                       load.Vector(p + "pre_feedforward_layernorm.weight", c.dim, norm_offset));
      ASSIGN_OR_RETURN(l.ffn_post_norm,
                       load.Vector(p + "post_feedforward_layernorm.weight", c.dim, norm_offset));
    } else {
      ASSIGN_OR_RETURN(l.ffn_norm, load.Vector(p + "post_attention_layernorm.weight", c.dim));
    }
    ASSIGN_OR_RETURN(l.w_gate, load.Matrix(p + "mlp.gate_proj.weight", c.hidden_dim, c.dim));
    ASSIGN_OR_RETURN(l.w_up, load.Matrix(p + "mlp.up_proj.weight", c.hidden_dim, c.dim));
    ASSIGN_OR_RETURN(l.w_down, load.Matrix(p + "mlp.down_proj.weight", c.dim, c.hidden_dim));
  }
  ASSIGN_OR_RETURN(w.final_norm, load.Vector("model.norm.weight", c.dim, norm_offset));
  return CheckAllTensorsUsed(ckpt, load, tied, c);
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
