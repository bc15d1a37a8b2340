#include "model/synthetic.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "model/half.h"

namespace kvbench {
namespace {

// Quantizes one row of f32 values to `dtype` bytes (Q8_0 as llama.cpp's reference: d = amax/127).
void EncodeRow(DType dtype, const float* x, int64_t n, std::byte* out) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out, x, 4 * n);
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = F32ToFp16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = F32ToBf16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case DType::kQ8_0:
      for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
        const float* xb = x + b * kQ8_0BlockSize;
        float amax = 0.0f;
        for (int j = 0; j < kQ8_0BlockSize; ++j) amax = std::max(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        std::byte* block = out + b * kQ8_0BlockBytes;
        const uint16_t dh = F32ToFp16(d);
        std::memcpy(block, &dh, 2);
        for (int j = 0; j < kQ8_0BlockSize; ++j) {
          const int8_t q = static_cast<int8_t>(std::lround(xb[j] * id));
          std::memcpy(block + 2 + j, &q, 1);
        }
      }
      return;
  }
}

class Builder {
 public:
  Builder(Model& model, DType dtype, uint64_t seed) : model_(model), dtype_(dtype), rng_(seed) {}

  WeightMatrix Matrix(const std::string& name, int64_t rows, int64_t cols) {
    WeightMatrix m{.dtype = dtype_, .rows = rows, .cols = cols, .data = nullptr};
    std::byte* data = model_.Allocate(m.bytes());
    std::normal_distribution<float> dist(0.0f, 1.0f / std::sqrt(static_cast<float>(cols)));
    std::vector<float> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (float& x : row) x = dist(rng_);
      EncodeRow(dtype_, row.data(), cols, data + m.row_bytes() * r);
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
  std::mt19937_64 rng_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> MakeSyntheticModel(const ModelConfig& config, DType dtype,
                                                          uint64_t seed) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  if (dtype == DType::kQ8_0 && (config.dim % 32 != 0 || config.hidden_dim % 32 != 0 ||
                                config.q_dim() % 32 != 0)) {
    return absl::InvalidArgumentError("Q8_0 weights need dim, hidden_dim and q_dim multiples of 32");
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
