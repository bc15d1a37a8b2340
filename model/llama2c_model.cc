// LoadLlama2cModel: a llama2.c legacy checkpoint (export.py --version 0, as run.c reads it).
//
// Layout: 7 x int32 header {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len},
// then f32 tensors, each layer-stacked, in this order:
//   token_embedding (vocab, dim) | rms_att (L, dim) | wq (L, n_heads*head_dim, dim)
//   wk (L, kv_dim, dim) | wv (L, kv_dim, dim) | wo (L, dim, n_heads*head_dim) | rms_ffn (L, dim)
//   w1 (L, hidden, dim) | w2 (L, dim, hidden) | w3 (L, hidden, dim) | rms_final (dim)
//   freq_cis_real (seq_len, head_dim/2) | freq_cis_imag (seq_len, head_dim/2)   -- unused
//   wcls (vocab, dim)                                   -- only when vocab_size < 0 (unshared)
// head_dim = dim / n_heads; RoPE pairs are interleaved (same as GGUF-llama). The file must be
// exactly as long as the header implies. Weights point into the mapping (no copies).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "formats/mapped_file.h"
#include "model/loader.h"
#include "model/model.h"
#include "text/sp_tokenizer.h"

namespace kvbench {
namespace {

constexpr size_t kHeaderBytes = 7 * sizeof(int32_t);

// The first of tokenizer.bin, tok<vocab>.bin, tok*.bin beside the checkpoint; for a symlinked
// checkpoint, then beside the file it points to.
absl::StatusOr<std::string> FindTokenizer(const std::string& checkpoint, int vocab_size) {
  namespace fs = std::filesystem;
  std::vector<fs::path> dirs = {fs::path(checkpoint).parent_path()};
  std::error_code ec;
  const fs::path target = fs::canonical(checkpoint, ec).parent_path();
  if (!ec && !fs::equivalent(target, dirs[0].empty() ? fs::path(".") : dirs[0], ec)) {
    dirs.push_back(target);
  }
  std::vector<std::string> tried;
  for (const fs::path& dir : dirs) {
    for (const std::string& name :
         {std::string("tokenizer.bin"), absl::StrCat("tok", vocab_size, ".bin")}) {
      const fs::path p = dir / name;
      tried.push_back(p.string());
      if (fs::is_regular_file(p, ec)) return p.string();
    }
    std::vector<std::string> others;
    for (fs::directory_iterator it(dir.empty() ? fs::path(".") : dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.size() > 7 && name.rfind("tok", 0) == 0 && name.ends_with(".bin") &&
          it->is_regular_file(ec)) {
        others.push_back(it->path().string());
      }
    }
    tried.push_back((dir / "tok*.bin").string());
    if (!others.empty()) {
      std::sort(others.begin(), others.end());  // deterministic when several match
      return others.front();
    }
  }
  return absl::NotFoundError(
      absl::StrFormat("%s: no llama2.c tokenizer found; tried %s (pass a tokenizer path)",
                      checkpoint, absl::StrJoin(tried, ", ")));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> LoadLlama2cModel(const std::string& path,
                                                        const std::string& tokenizer_path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapping, MappedFile::Open(path));
  const std::byte* base = mapping->data();
  const size_t size = mapping->size();
  if (size >= 4 && std::memcmp(base, "ak42", 4) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": llama2.c export version 1/2 (magic \"ak42\") is not supported; export with "
                     "--version 0 (legacy) or convert to GGUF"));
  }
  if (size < kHeaderBytes) {
    return absl::DataLossError(
        absl::StrFormat("%s: truncated llama2.c checkpoint: %d bytes, the header alone is %d", path,
                        size, kHeaderBytes));
  }
  int32_t h[7];
  std::memcpy(h, base, kHeaderBytes);
  const bool shared_classifier = h[5] > 0;
  auto model = std::make_unique<Model>();
  model->format = "llama2c";
  model->path = path;
  ModelConfig& c = model->config;
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  c.vocab_size = h[5] == std::numeric_limits<int32_t>::min() ? 0 : std::abs(h[5]);
  c.context_length = h[6];
  if (c.n_heads <= 0 || c.dim % c.n_heads != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: llama2.c header: dim %d is not a positive multiple of n_heads %d",
                        path, c.dim, c.n_heads));
  }
  c.head_dim = c.dim / c.n_heads;
  c.rope_dims = c.head_dim;
  c.rope_theta = 10000.0f;
  c.rms_eps = 1e-5f;
  RETURN_IF_ERROR(Annotate(c.Validate(), absl::StrCat(path, ": llama2.c header")));

  // Validate() bounds every dimension, so these int64 products cannot overflow.
  const int64_t dim = c.dim, hidden = c.hidden_dim, L = c.n_layers, vocab = c.vocab_size;
  const int64_t q_dim = c.q_dim(), kv_dim = c.kv_dim();
  struct Section {
    const char* name;
    int64_t floats;
  };
  const Section sections[] = {
      {"token_embedding", vocab * dim},
      {"rms_att", L * dim},
      {"wq", L * q_dim * dim},
      {"wk", L * kv_dim * dim},
      {"wv", L * kv_dim * dim},
      {"wo", L * dim * q_dim},
      {"rms_ffn", L * dim},
      {"w1", L * hidden * dim},
      {"w2", L * dim * hidden},
      {"w3", L * hidden * dim},
      {"rms_final", dim},
      {"freq_cis_real", int64_t{c.context_length} * c.head_dim / 2},
      {"freq_cis_imag", int64_t{c.context_length} * c.head_dim / 2},
      {"wcls", shared_classifier ? 0 : vocab * dim},
  };
  int64_t expected = kHeaderBytes;
  for (const Section& s : sections) expected += s.floats * 4;
  if (static_cast<uint64_t>(expected) != size) {
    return absl::DataLossError(absl::StrFormat(
        "%s: llama2.c checkpoint is %d bytes, but its header (dim %d, hidden %d, layers %d, heads "
        "%d, kv_heads %d, vocab %d%s, seq_len %d) implies %d bytes",
        path, size, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, h[5],
        shared_classifier ? " shared" : " unshared", c.context_length, expected));
  }

  // Walk the sections in file order; `at` is the float offset after the header (4-byte aligned).
  const float* at = reinterpret_cast<const float*>(base + kHeaderBytes);
  const float* ptr[std::size(sections)];
  for (size_t k = 0; k < std::size(sections); ++k) {
    ptr[k] = at;
    at += sections[k].floats;
  }
  auto matrix = [](const float* p, int64_t rows, int64_t cols) {
    return WeightMatrix{.dtype = DType::kF32,
                        .rows = rows,
                        .cols = cols,
                        .data = reinterpret_cast<const std::byte*>(p)};
  };
  ModelWeights& w = model->weights;
  w.token_embedding = matrix(ptr[0], vocab, dim);
  w.layers.resize(c.n_layers);
  for (int64_t l = 0; l < L; ++l) {
    LayerWeights& lw = w.layers[l];
    lw.attn_norm = ptr[1] + l * dim;
    lw.wq = matrix(ptr[2] + l * q_dim * dim, q_dim, dim);
    lw.wk = matrix(ptr[3] + l * kv_dim * dim, kv_dim, dim);
    lw.wv = matrix(ptr[4] + l * kv_dim * dim, kv_dim, dim);
    lw.wo = matrix(ptr[5] + l * dim * q_dim, dim, q_dim);
    lw.ffn_norm = ptr[6] + l * dim;
    lw.w_gate = matrix(ptr[7] + l * hidden * dim, hidden, dim);
    lw.w_down = matrix(ptr[8] + l * dim * hidden, dim, hidden);
    lw.w_up = matrix(ptr[9] + l * hidden * dim, hidden, dim);
  }
  w.final_norm = ptr[10];
  w.classifier = shared_classifier ? w.token_embedding : matrix(ptr[13], vocab, dim);

  auto add = [&](std::string name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    model->tensors.push_back(TensorInfo{.name = std::move(name),
                                        .type = "F32",
                                        .shape = std::move(shape),
                                        .bytes = uint64_t(n) * 4});
  };
  add("token_embedding", {vocab, dim});
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = absl::StrCat("layers.", l, ".");
    add(p + "rms_att", {dim});
    add(p + "wq", {q_dim, dim});
    add(p + "wk", {kv_dim, dim});
    add(p + "wv", {kv_dim, dim});
    add(p + "wo", {dim, q_dim});
    add(p + "rms_ffn", {dim});
    add(p + "w1", {hidden, dim});
    add(p + "w2", {dim, hidden});
    add(p + "w3", {hidden, dim});
  }
  add("rms_final", {dim});
  add("freq_cis_real", {c.context_length, c.head_dim / 2});
  add("freq_cis_imag", {c.context_length, c.head_dim / 2});
  if (!shared_classifier) add("wcls", {vocab, dim});

  std::string tok_path = tokenizer_path;
  if (tok_path.empty()) {
    ASSIGN_OR_RETURN(tok_path, FindTokenizer(path, c.vocab_size));
  }
  ASSIGN_OR_RETURN(model->tokenizer,
                   SentencePieceTokenizer::FromLlama2cFile(tok_path, c.vocab_size));
  model->mappings.push_back(std::move(mapping));
  return model;
}

}  // namespace kvbench
