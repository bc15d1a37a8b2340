#include "model/synthetic.h"

#include <cmath>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "model/ops.h"

namespace kvbench {
namespace {

// splitmix64: a fast seeded generator; billions of weights for the 1B-class shapes must be made
// in seconds, and their distribution only has to have the right scale.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  float Symmetric() { return static_cast<float>(static_cast<int64_t>(Next()) >> 40) * 0x1p-23f; }

 private:
  uint64_t state_;
};

class Builder {
 public:
  Builder(Model& model, DType dtype, uint64_t seed) : model_(model), dtype_(dtype), rng_(seed) {}

  WeightMatrix Matrix(const std::string& name, int64_t rows, int64_t cols) {
    WeightMatrix m{.dtype = dtype_, .rows = rows, .cols = cols, .data = nullptr};
    std::byte* data = model_.Allocate(m.bytes());
    // Uniform with variance 1 / cols (as N(0, 1/sqrt(cols)) initialisation): activations keep
    // their scale through the layers.
    const float amplitude = std::sqrt(3.0f / static_cast<float>(cols));
    std::vector<float> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (float& x : row) x = amplitude * rng_.Symmetric();
      QuantizeRow(dtype_, row.data(), cols, data + m.row_bytes() * r);
    }
    m.data = data;
    model_.tensors.push_back({name, std::string(DTypeName(dtype_)), {rows, cols}, m.bytes()});
    return m;
  }

  const float* Norm(const std::string& name, int n) {
    auto* data = reinterpret_cast<float*>(model_.Allocate(4 * n));
    for (int i = 0; i < n; ++i) data[i] = 1.0f;
    model_.tensors.push_back({name, "F32", {n}, static_cast<uint64_t>(4 * n)});
    return data;
  }

 private:
  Model& model_;
  DType dtype_;
  SplitMix64 rng_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> MakeSyntheticModel(const ModelConfig& config, DType dtype,
                                                          uint64_t seed) {
  RETURN_IF_ERROR(config.Validate());
  if (dtype == DType::kQ8_0 &&
      (config.dim % 32 != 0 || config.hidden_dim % 32 != 0 || config.q_dim() % 32 != 0)) {
    return absl::InvalidArgumentError(
        "Q8_0 weights need dim, hidden_dim and q_dim multiples of 32");
  }
  auto model = std::make_unique<Model>();
  model->config = config;
  model->format = "synthetic";
  model->path = absl::StrCat("synthetic:seed=", seed);
  Builder b(*model, dtype, seed);
  const ModelConfig& c = config;
  ModelWeights& w = model->weights;
  w.token_embedding = b.Matrix("token_embd.weight", c.vocab_size, c.dim);
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = absl::StrCat("blk.", l, ".");
    LayerWeights lw;
    lw.attn_norm = b.Norm(p + "attn_norm.weight", c.dim);
    lw.wq = b.Matrix(p + "attn_q.weight", c.q_dim(), c.dim);
    lw.wk = b.Matrix(p + "attn_k.weight", c.kv_dim(), c.dim);
    lw.wv = b.Matrix(p + "attn_v.weight", c.kv_dim(), c.dim);
    lw.wo = b.Matrix(p + "attn_output.weight", c.dim, c.q_dim());
    lw.ffn_norm = b.Norm(p + "ffn_norm.weight", c.dim);
    lw.w_gate = b.Matrix(p + "ffn_gate.weight", c.hidden_dim, c.dim);
    lw.w_up = b.Matrix(p + "ffn_up.weight", c.hidden_dim, c.dim);
    lw.w_down = b.Matrix(p + "ffn_down.weight", c.dim, c.hidden_dim);
    w.layers.push_back(lw);
  }
  w.final_norm = b.Norm("output_norm.weight", c.dim);
  w.classifier = b.Matrix("output.weight", c.vocab_size, c.dim);
  return model;
}

}  // namespace kvbench
