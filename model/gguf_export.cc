#include "model/gguf_export.h"

#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "formats/gguf.h"
#include "text/sp_tokenizer.h"

namespace kvbench {
namespace {

absl::Status AddMatrix(GgufWriter& w, const std::string& name, const WeightMatrix& m) {
  return w.AddTensor(name, ToGgmlType(m.dtype),
                     {static_cast<uint64_t>(m.cols), static_cast<uint64_t>(m.rows)},
                     absl::MakeConstSpan(m.data, m.bytes()));
}

absl::Status AddNorm(GgufWriter& w, const std::string& name, const float* data, int n) {
  return w.AddTensor(
      name, GgmlType::kF32, {static_cast<uint64_t>(n)},
      absl::MakeConstSpan(reinterpret_cast<const std::byte*>(data), 4 * static_cast<size_t>(n)));
}

// A SentencePiece-style vocabulary of the right size: <unk>, <s>, </s>, the 256 byte tokens, then
// placeholder pieces. Enough for tokenizers to load; the text it produces means nothing.
void AddPlaceholderTokenizer(GgufWriter& w, int vocab) {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;
  auto add = [&](std::string piece, float score, int32_t type) {
    pieces.push_back(std::move(piece));
    scores.push_back(score);
    types.push_back(type);
  };
  add("<unk>", 0, SentencePieceTokenizer::kUnknown);
  add("<s>", 0, SentencePieceTokenizer::kControl);
  add("</s>", 0, SentencePieceTokenizer::kControl);
  for (int b = 0; b < 256 && static_cast<int>(pieces.size()) < vocab; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf, 0, SentencePieceTokenizer::kByte);
  }
  while (static_cast<int>(pieces.size()) < vocab) {
    add(absl::StrCat("\xe2\x96\x81tok", pieces.size()), -static_cast<float>(pieces.size()),
        SentencePieceTokenizer::kNormal);
  }
  pieces.resize(vocab);
  scores.resize(vocab);
  types.resize(vocab);
  w.SetString("tokenizer.ggml.model", "llama");
  w.SetArray("tokenizer.ggml.tokens", GgufArray::Strings(pieces));
  w.SetArray("tokenizer.ggml.scores", GgufArray::Of<float>(scores));
  w.SetArray("tokenizer.ggml.token_type", GgufArray::Of<int32_t>(types));
  w.SetUint32("tokenizer.ggml.bos_token_id", 1);
  w.SetUint32("tokenizer.ggml.eos_token_id", 2);
  w.SetUint32("tokenizer.ggml.unknown_token_id", 0);
}

void AddTokenizer(GgufWriter& w, const Model& model) {
  const int vocab = model.config.vocab_size;
  if (model.tokenizer == nullptr || model.tokenizer->vocab_size() != vocab) {
    AddPlaceholderTokenizer(w, vocab);
    return;
  }
  // A real SentencePiece vocabulary is written as it is; others get the placeholder.
  const auto* sp = dynamic_cast<const SentencePieceTokenizer*>(model.tokenizer.get());
  if (sp == nullptr) {
    AddPlaceholderTokenizer(w, vocab);
    return;
  }
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (int i = 0; i < vocab; ++i) {
    pieces.emplace_back(sp->Piece(i));
    scores.push_back(sp->score(i));
    types.push_back(sp->type(i));
  }
  w.SetString("tokenizer.ggml.model", "llama");
  w.SetArray("tokenizer.ggml.tokens", GgufArray::Strings(pieces));
  w.SetArray("tokenizer.ggml.scores", GgufArray::Of<float>(scores));
  w.SetArray("tokenizer.ggml.token_type", GgufArray::Of<int32_t>(types));
  w.SetUint32("tokenizer.ggml.bos_token_id", sp->bos_id());
  w.SetUint32("tokenizer.ggml.eos_token_id", sp->eos_id());
  w.SetUint32("tokenizer.ggml.unknown_token_id", sp->unk_id());
}

}  // namespace

absl::Status WriteModelAsGguf(const Model& model, const std::string& name,
                              const std::string& path) {
  const ModelConfig& c = model.config;
  const ModelWeights& wt = model.weights;
  if (!c.rope_freq_factors.empty()) {
    // The file would need rope_freqs.weight, which the GGUF loader does not read yet: refuse
    // rather than write a model whose positions rotate differently (plain RoPE).
    return absl::UnimplementedError(absl::StrCat(
        path, ": RoPE scaling '", c.rope_type, "' cannot be written to GGUF (rope_freqs.weight)"));
  }
  if (c.architecture != "llama" && c.architecture != "mistral") {
    // Their switches (biases, q/k norms, sandwich norms, GELU, scales) have no place in a llama
    // file: refuse rather than write a different network.
    return absl::UnimplementedError(
        absl::StrCat(path, ": a ", c.architecture, " model cannot be written as a llama GGUF"));
  }
  if (c.sliding_window > 0) {
    return absl::UnimplementedError(absl::StrCat(
        path, ": a sliding window of ", c.sliding_window,
        " cannot be written to a llama GGUF (llama.cpp's llama architecture has none)"));
  }
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetString("general.name", name);
  w.SetUint32("llama.context_length", c.context_length);
  w.SetUint32("llama.embedding_length", c.dim);
  w.SetUint32("llama.block_count", c.n_layers);
  w.SetUint32("llama.feed_forward_length", c.hidden_dim);
  w.SetUint32("llama.attention.head_count", c.n_heads);
  w.SetUint32("llama.attention.head_count_kv", c.n_kv_heads);
  w.SetUint32("llama.rope.dimension_count", c.rope_dims);
  w.SetFloat32("llama.rope.freq_base", c.rope_theta);
  w.SetFloat32("llama.attention.layer_norm_rms_epsilon", c.rms_eps);
  if (c.head_dim * c.n_heads != c.dim) {
    w.SetUint32("llama.attention.key_length", c.head_dim);
    w.SetUint32("llama.attention.value_length", c.head_dim);
  }
  AddTokenizer(w, model);

  RETURN_IF_ERROR(AddMatrix(w, "token_embd.weight", wt.token_embedding));
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = wt.layers[l];
    const std::string p = absl::StrCat("blk.", l, ".");
    RETURN_IF_ERROR(AddNorm(w, p + "attn_norm.weight", lw.attn_norm, c.dim));
    RETURN_IF_ERROR(AddMatrix(w, p + "attn_q.weight", lw.wq));
    RETURN_IF_ERROR(AddMatrix(w, p + "attn_k.weight", lw.wk));
    RETURN_IF_ERROR(AddMatrix(w, p + "attn_v.weight", lw.wv));
    RETURN_IF_ERROR(AddMatrix(w, p + "attn_output.weight", lw.wo));
    RETURN_IF_ERROR(AddNorm(w, p + "ffn_norm.weight", lw.ffn_norm, c.dim));
    RETURN_IF_ERROR(AddMatrix(w, p + "ffn_gate.weight", lw.w_gate));
    RETURN_IF_ERROR(AddMatrix(w, p + "ffn_up.weight", lw.w_up));
    RETURN_IF_ERROR(AddMatrix(w, p + "ffn_down.weight", lw.w_down));
  }
  RETURN_IF_ERROR(AddNorm(w, "output_norm.weight", wt.final_norm, c.dim));
  if (wt.classifier.data != wt.token_embedding.data) {
    RETURN_IF_ERROR(AddMatrix(w, "output.weight", wt.classifier));
  }
  return w.WriteFile(path);
}

}  // namespace kvbench
