// LoadGgufModel: a GGUF file of architecture llama, qwen2 (q/k/v biases) or qwen3 (q/k norms)
// -> Model. The qwen files hold q/k rows in NEOX (rotate-half) order, reordered at load; gemma3
// files are refused by name (they lack values that change the logits).
//
// Hyper-parameters come from the `<architecture>.*` metadata, the vocabulary size from token_embd;
// every tensor's shape is checked against the config before a view is made. Matrices stay in their
// file dtype inside the mapping. Norm vectors are read by the decoder as f32, so F16/BF16 norms are
// widened into Model-owned buffers. GGUF-llama stores q/k rows in interleaved-pair RoPE order (the
// converter permutes Hugging Face weights), which is what the decoder expects; qwen2 / qwen3 files
// keep Hugging Face's order (llama.cpp rotates them NEOX-style), so their q/k rows, q/k biases and
// q/k norms are reordered once here.
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "formats/gguf.h"
#include "formats/half.h"
#include "model/loader.h"
#include "model/model.h"
#include "text/gguf_bpe.h"
#include "text/sp_tokenizer.h"

namespace kvbench {
namespace {

class GgufModelLoader {
 public:
  GgufModelLoader(GgufFile* file, Model* model) : file_(*file), model_(*model) {}

  absl::Status Load() {
    RETURN_IF_ERROR(ReadConfig());
    RETURN_IF_ERROR(ReadWeights());
    RETURN_IF_ERROR(RejectUnusedTensors());
    return ReadTokenizer();
  }

 private:
  // An integer key into `*out`, which must be in [1, 2^31). Absent keys keep `*out` when
  // `required` is false.
  absl::Status ReadInt(std::string_view key, bool required, int* out) {
    if (!file_.Has(key)) {
      if (!required) return absl::OkStatus();
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: required metadata '%s' is missing", file_.path(), key));
    }
    ASSIGN_OR_RETURN(const int64_t v, file_.GetInt(key));
    if (v <= 0 || v > std::numeric_limits<int32_t>::max()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: metadata '%s' = %d is out of range", file_.path(), key, v));
    }
    *out = static_cast<int>(v);
    return absl::OkStatus();
  }

  absl::Status ReadFloat(std::string_view key, float* out) {
    if (!file_.Has(key)) return absl::OkStatus();
    ASSIGN_OR_RETURN(const double v, file_.GetFloat(key));
    *out = static_cast<float>(v);
    return absl::OkStatus();
  }

  absl::Status ReadConfig() {
    ASSIGN_OR_RETURN(std::string arch, file_.GetString("general.architecture"));
    if (arch == "gemma3") {
      // llama.cpp's gemma3 files carry neither query_pre_attn_scalar (llama.cpp infers the
      // attention scale from the model size) nor the layer pattern and the sliding layers' RoPE
      // base (hard-coded there): reading one would guess the very values that change the logits.
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: general.architecture \"gemma3\" is not supported: the file does not say "
          "query_pre_attn_scalar, which layers slide or their RoPE base (load the Hugging Face "
          "folder instead)",
          file_.path()));
    }
    if (arch != "llama" && arch != "qwen2" && arch != "qwen3") {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: general.architecture is \"%s\"; kvbench reads \"llama\", \"qwen2\" and \"qwen3\" "
          "GGUF files (Mistral and Gemma-3 load from their Hugging Face folders)",
          file_.path(), arch));
    }
    ModelConfig& c = model_.config;
    c.architecture = std::move(arch);
    // llama.cpp rotates qwen2 / qwen3 heads in NEOX order ("rotate half", as Hugging Face does):
    // their q/k rows are reordered to interleaved pairs at load (ReadWeights).
    neox_ = c.architecture != "llama";
    // Qwen2 always has q/k/v biases; Qwen3 has them with attention_bias (then o too). A llama file
    // with biases stays refused (RejectUnusedTensors names them).
    c.attention_bias =
        c.architecture == "qwen2" ||
        (c.architecture == "qwen3" && file_.FindTensor("blk.0.attn_q.bias") != nullptr);
    c.qk_norm = c.architecture == "qwen3";
    const std::string k = c.architecture + ".";
    RETURN_IF_ERROR(ReadInt(k + "embedding_length", true, &c.dim));
    RETURN_IF_ERROR(ReadInt(k + "block_count", true, &c.n_layers));
    RETURN_IF_ERROR(ReadInt(k + "attention.head_count", true, &c.n_heads));
    c.n_kv_heads = c.n_heads;
    RETURN_IF_ERROR(ReadInt(k + "attention.head_count_kv", false, &c.n_kv_heads));
    RETURN_IF_ERROR(ReadInt(k + "feed_forward_length", true, &c.hidden_dim));
    RETURN_IF_ERROR(ReadInt(k + "context_length", true, &c.context_length));
    if (c.dim % c.n_heads != 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: embedding_length %d is not a multiple of head_count %d",
                          file_.path(), c.dim, c.n_heads));
    }
    c.head_dim = c.dim / c.n_heads;
    // key_length overrides dim / n_heads (models whose q width differs from dim).
    RETURN_IF_ERROR(ReadInt(k + "attention.key_length", false, &c.head_dim));
    int value_length = c.head_dim;
    RETURN_IF_ERROR(ReadInt(k + "attention.value_length", false, &value_length));
    if (value_length != c.head_dim) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: attention.value_length %d differs from key_length %d (not supported)", file_.path(),
          value_length, c.head_dim));
    }
    c.rope_dims = c.head_dim;
    RETURN_IF_ERROR(ReadInt(k + "rope.dimension_count", false, &c.rope_dims));
    if (neox_ && c.rope_dims != c.head_dim) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: %srope.dimension_count %d != head_dim %d (partial NEOX RoPE is not supported)",
          file_.path(), k, c.rope_dims, c.head_dim));
    }
    c.rope_theta = 10000.0f;
    RETURN_IF_ERROR(ReadFloat(k + "rope.freq_base", &c.rope_theta));
    c.rms_eps = 1e-5f;
    RETURN_IF_ERROR(ReadFloat(k + "attention.layer_norm_rms_epsilon", &c.rms_eps));
    if (file_.Has(k + "rope.scaling.type")) {
      ASSIGN_OR_RETURN(const std::string scaling, file_.GetString(k + "rope.scaling.type"));
      if (scaling != "none") {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: %srope.scaling.type \"%s\" is not supported", file_.path(), k, scaling));
      }
    }
    const GgufTensor* embd = file_.FindTensor("token_embd.weight");
    if (embd == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: tensor 'token_embd.weight' is missing", file_.path()));
    }
    if (embd->ne.size() != 2 || embd->ne[1] > static_cast<uint64_t>(1 << 30)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: token_embd.weight has shape ne = [%s], expected [dim, vocab]",
                          file_.path(), absl::StrJoin(embd->ne, ", ")));
    }
    c.vocab_size = static_cast<int>(embd->ne[1]);
    return Annotate(c.Validate(), file_.path());  // Validate's errors are InvalidArgument
  }

  // The tensor `name`, checked to have ne == `ne`.
  absl::StatusOr<const GgufTensor*> Get(const std::string& name, std::vector<uint64_t> ne) {
    const GgufTensor* t = file_.FindTensor(name);
    if (t == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: tensor '%s' is missing", file_.path(), name));
    }
    if (t->ne != ne) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: tensor '%s' has ne = [%s], expected [%s] for this config",
                          file_.path(), name, absl::StrJoin(t->ne, ", "), absl::StrJoin(ne, ", ")));
    }
    used_.insert(name);
    return t;
  }

  absl::Status Matrix(const std::string& name, int64_t rows, int64_t cols, WeightMatrix* out) {
    ASSIGN_OR_RETURN(const GgufTensor* t,
                     Get(name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}));
    if (cols % BlockValues(t->dtype) != 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: %s tensor '%s' has %d columns, not a multiple of its block of %d",
                          file_.path(), DTypeName(t->dtype), name, cols, BlockValues(t->dtype)));
    }
    *out = WeightMatrix{.dtype = t->dtype, .rows = rows, .cols = cols, .data = t->data};
    return absl::OkStatus();
  }

  // A q/k projection: rows as the file has them, or, for NEOX files, reordered per head from
  // rotate-half pairs (row j and j + head_dim / 2) to interleaved ones (rows 2j, 2j + 1), as
  // model/hf_model.cc does for Hugging Face rows. Whole rows move, so any block type works.
  absl::Status RopeMatrix(const std::string& name, int n_heads, int64_t cols, WeightMatrix* out) {
    const int hd = model_.config.head_dim;
    RETURN_IF_ERROR(Matrix(name, static_cast<int64_t>(n_heads) * hd, cols, out));
    if (!neox_) return absl::OkStatus();
    std::byte* dst = model_.Allocate(out->bytes());
    const size_t row_bytes = out->row_bytes();
    for (int h = 0; h < n_heads; ++h) {
      const int64_t base = static_cast<int64_t>(h) * hd;
      for (int j = 0; j < hd / 2; ++j) {
        std::memcpy(dst + (base + 2 * j) * row_bytes, out->row(base + j), row_bytes);
        std::memcpy(dst + (base + 2 * j + 1) * row_bytes, out->row(base + j + hd / 2), row_bytes);
      }
    }
    out->data = dst;
    return absl::OkStatus();
  }

  // A vector that follows the rows of a q/k projection (a bias over n_heads heads, or a q/k norm
  // with n_heads = 1), reordered like them.
  absl::Status RopeVector(const std::string& name, int n_heads, const float** out) {
    const int hd = model_.config.head_dim;
    const float* v = nullptr;
    RETURN_IF_ERROR(Vector(name, n_heads * hd, &v));
    if (!neox_) {
      *out = v;
      return absl::OkStatus();
    }
    float* dst = reinterpret_cast<float*>(model_.Allocate(sizeof(float) * n_heads * hd));
    for (int h = 0; h < n_heads; ++h) {
      for (int j = 0; j < hd / 2; ++j) {
        dst[h * hd + 2 * j] = v[h * hd + j];
        dst[h * hd + 2 * j + 1] = v[h * hd + j + hd / 2];
      }
    }
    *out = dst;
    return absl::OkStatus();
  }

  absl::Status Norm(const std::string& name, const float** out) {
    return Vector(name, model_.config.dim, out);
  }

  // A 1-D tensor of n values (a norm or a bias) as f32.
  absl::Status Vector(const std::string& name, int n, const float** out) {
    ASSIGN_OR_RETURN(const GgufTensor* t, Get(name, {static_cast<uint64_t>(n)}));
    const GgufTensor& g = *t;
    switch (g.dtype) {
      case DType::kF32:
        // The data section and every offset are 32-byte aligned in a page-aligned mapping.
        *out = reinterpret_cast<const float*>(g.data);
        return absl::OkStatus();
      case DType::kF16:
      case DType::kBF16: {
        float* dst = reinterpret_cast<float*>(model_.Allocate(sizeof(float) * n));
        for (int k = 0; k < n; ++k) {
          uint16_t h;
          std::memcpy(&h, g.data + 2 * k, 2);
          dst[k] = g.dtype == DType::kF16 ? Fp16ToF32(h) : Bf16ToF32(h);
        }
        *out = dst;
        return absl::OkStatus();
      }
      case DType::kQ8_0:
      case DType::kQ4_0:
      case DType::kQ4_1:
      case DType::kQ5_0:
      case DType::kQ5_1:
      case DType::kQ4_K:
      case DType::kQ5_K:
      case DType::kQ6_K:
        break;
    }
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: tensor '%s' is %s; norms and biases must be F32, F16 or BF16",
                        file_.path(), name, DTypeName(g.dtype)));
  }

  absl::Status ReadWeights() {
    const ModelConfig& c = model_.config;
    ModelWeights& w = model_.weights;
    RETURN_IF_ERROR(Matrix("token_embd.weight", c.vocab_size, c.dim, &w.token_embedding));
    RETURN_IF_ERROR(Norm("output_norm.weight", &w.final_norm));
    if (file_.FindTensor("output.weight") != nullptr) {
      RETURN_IF_ERROR(Matrix("output.weight", c.vocab_size, c.dim, &w.classifier));
    } else {
      w.classifier = w.token_embedding;  // tied
    }
    w.layers.resize(c.n_layers);
    for (int l = 0; l < c.n_layers; ++l) {
      LayerWeights& lw = w.layers[l];
      const std::string p = absl::StrCat("blk.", l, ".");
      RETURN_IF_ERROR(Norm(p + "attn_norm.weight", &lw.attn_norm));
      RETURN_IF_ERROR(RopeMatrix(p + "attn_q.weight", c.n_heads, c.dim, &lw.wq));
      RETURN_IF_ERROR(RopeMatrix(p + "attn_k.weight", c.n_kv_heads, c.dim, &lw.wk));
      RETURN_IF_ERROR(Matrix(p + "attn_v.weight", c.kv_dim(), c.dim, &lw.wv));
      RETURN_IF_ERROR(Matrix(p + "attn_output.weight", c.dim, c.q_dim(), &lw.wo));
      if (c.attention_bias) {  // Qwen2: q/k/v; with an attn_output.bias when the file has one
        RETURN_IF_ERROR(RopeVector(p + "attn_q.bias", c.n_heads, &lw.bq));
        RETURN_IF_ERROR(RopeVector(p + "attn_k.bias", c.n_kv_heads, &lw.bk));
        RETURN_IF_ERROR(Vector(p + "attn_v.bias", c.kv_dim(), &lw.bv));
        if (file_.FindTensor(p + "attn_output.bias") != nullptr) {
          RETURN_IF_ERROR(Vector(p + "attn_output.bias", c.dim, &lw.bo));
        }
      }
      if (c.qk_norm) {  // Qwen3
        RETURN_IF_ERROR(RopeVector(p + "attn_q_norm.weight", 1, &lw.q_norm));
        RETURN_IF_ERROR(RopeVector(p + "attn_k_norm.weight", 1, &lw.k_norm));
      }
      RETURN_IF_ERROR(Norm(p + "ffn_norm.weight", &lw.ffn_norm));
      RETURN_IF_ERROR(Matrix(p + "ffn_gate.weight", c.hidden_dim, c.dim, &lw.w_gate));
      RETURN_IF_ERROR(Matrix(p + "ffn_up.weight", c.hidden_dim, c.dim, &lw.w_up));
      RETURN_IF_ERROR(Matrix(p + "ffn_down.weight", c.dim, c.hidden_dim, &lw.w_down));
    }
    for (const GgufTensor& t : file_.tensors()) {
      model_.tensors.push_back(TensorInfo{.name = t.name,
                                          .type = std::string(DTypeName(t.dtype)),
                                          .shape = std::vector<int64_t>(t.ne.rbegin(), t.ne.rend()),
                                          .bytes = t.bytes});
    }
    return absl::OkStatus();
  }

  // A tensor the decoder does not read (biases, rope_freqs, extra layers) would silently change the
  // model's meaning; refuse rather than run a different network.
  absl::Status RejectUnusedTensors() {
    for (const GgufTensor& t : file_.tensors()) {
      if (!used_.contains(t.name)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: tensor '%s' is not part of a %d-layer %s decoder (the decoder would ignore it)",
            file_.path(), t.name, model_.config.n_layers, model_.config.architecture));
      }
    }
    return absl::OkStatus();
  }

  absl::Status ReadTokenizer() {
    ASSIGN_OR_RETURN(const std::string kind, file_.GetString("tokenizer.ggml.model"));
    if (kind == "gpt2") return ReadByteLevelTokenizer();
    if (kind != "llama") {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: tokenizer.ggml.model is \"%s\"; supported: \"llama\" (SentencePiece BPE), \"gpt2\" "
          "(byte-level BPE)",
          file_.path(), kind));
    }
    SentencePieceTokenizer::Vocab vocab;
    ASSIGN_OR_RETURN(vocab.pieces, file_.GetStringArray("tokenizer.ggml.tokens"));
    const size_t n = vocab.pieces.size();
    if (n != static_cast<size_t>(model_.config.vocab_size)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: tokenizer.ggml.tokens has %d entries but token_embd.weight has %d rows",
          file_.path(), n, model_.config.vocab_size));
    }
    if (file_.Has("tokenizer.ggml.scores")) {
      ASSIGN_OR_RETURN(vocab.scores, file_.GetFloatArray("tokenizer.ggml.scores"));
    } else {
      vocab.scores.assign(n, 0.0f);  // as llama.cpp does when scores are absent
    }
    if (vocab.scores.size() != n) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: tokenizer.ggml.scores has %d entries, tokens has %d", file_.path(),
                          vocab.scores.size(), n));
    }
    if (file_.Has("tokenizer.ggml.token_type")) {
      ASSIGN_OR_RETURN(const std::vector<int64_t> types,
                       file_.GetIntArray("tokenizer.ggml.token_type"));
      if (types.size() != n) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: tokenizer.ggml.token_type has %d entries, tokens has %d",
                            file_.path(), types.size(), n));
      }
      for (int64_t t : types) {
        if (t < 0 || t > 6) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "%s: tokenizer.ggml.token_type holds %d (valid: 0..6)", file_.path(), t));
        }
        vocab.types.push_back(static_cast<int32_t>(t));
      }
    }
    struct Special {
      std::string_view key;
      int* id;
    };
    for (const Special& s : {Special{"tokenizer.ggml.bos_token_id", &vocab.bos_id},
                             Special{"tokenizer.ggml.eos_token_id", &vocab.eos_id},
                             Special{"tokenizer.ggml.unknown_token_id", &vocab.unk_id}}) {
      if (!file_.Has(s.key)) continue;
      ASSIGN_OR_RETURN(const int64_t id, file_.GetInt(s.key));
      if (id < 0 || id >= static_cast<int64_t>(n)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: %s = %d is outside the vocabulary of %d tokens", file_.path(), s.key, id, n));
      }
      *s.id = static_cast<int>(id);
    }
    absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> tok =
        SentencePieceTokenizer::Create(std::move(vocab));
    if (!tok.ok()) return Annotate(tok.status(), absl::StrCat(file_.path(), ": tokenizer"));
    model_.tokenizer = std::move(*tok);
    return absl::OkStatus();
  }

  // tokenizer.ggml.model = "gpt2": Llama-3, Qwen2, SmolLM, GPT-2 vocabularies (text/gguf_bpe.h).
  absl::Status ReadByteLevelTokenizer() {
    ASSIGN_OR_RETURN(const GgufBpeVocab vocab, ReadGgufBpeVocab(file_));
    if (vocab.tokens.size() != static_cast<size_t>(model_.config.vocab_size)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: tokenizer.ggml.tokens has %d entries but token_embd.weight has %d rows",
          file_.path(), vocab.tokens.size(), model_.config.vocab_size));
    }
    ASSIGN_OR_RETURN(model_.tokenizer, BuildGgufBpeTokenizer(vocab, file_.path()));
    return absl::OkStatus();
  }

  GgufFile& file_;
  Model& model_;
  bool neox_ = false;  // q/k rows in rotate-half order (qwen2, qwen3)
  absl::flat_hash_set<std::string> used_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> LoadGgufModel(const std::string& path) {
  ASSIGN_OR_RETURN(const std::unique_ptr<GgufFile> file, GgufFile::Open(path));
  auto model = std::make_unique<Model>();
  model->format = "gguf";
  model->path = path;
  RETURN_IF_ERROR(GgufModelLoader(file.get(), model.get()).Load());
  model->mappings.push_back(file->TakeMapping());
  return model;
}

}  // namespace kvbench
