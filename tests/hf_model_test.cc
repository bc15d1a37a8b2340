// Tests of LoadHuggingFaceModel: the real TinyStories-656K folder, small synthetic folders written
// here (F16/BF16 storage, tying variants, config errors), and a decoder-free math oracle for the
// q/k row permutation that converts HF's rotate-half RoPE layout to interleaved pairs.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "formats/half.h"
#include "formats/safetensors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/loader.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const std::string kTinyDir = std::string(KVBENCH_SHARED_DIR) + "/models/tinystories656k";

// ---------------------------------------------------------------------------------------------
// The math oracle: both RoPE conventions written out, independent of the decoder.

// Hugging Face (transformers' apply_rotary_pos_emb): pair j of a head is (v[j], v[j + d/2]).
void RopeRotateHalf(double* head, int d, int pos, double theta) {
  for (int j = 0; j < d / 2; ++j) {
    const double angle = pos * std::pow(theta, -2.0 * j / d);
    const double a = head[j], b = head[j + d / 2];
    head[j] = a * std::cos(angle) - b * std::sin(angle);
    head[j + d / 2] = b * std::cos(angle) + a * std::sin(angle);
  }
}

// llama2.c / GGUF: pair j of a head is (v[2j], v[2j + 1]).
void RopeInterleaved(double* head, int d, int pos, double theta) {
  for (int j = 0; j < d / 2; ++j) {
    const double angle = pos * std::pow(theta, -2.0 * j / d);
    const double a = head[2 * j], b = head[2 * j + 1];
    head[2 * j] = a * std::cos(angle) - b * std::sin(angle);
    head[2 * j + 1] = a * std::sin(angle) + b * std::cos(angle);
  }
}

float F32At(const std::byte* p, int64_t i) {
  float v;
  std::memcpy(&v, p + 4 * i, 4);
  return v;
}

// y = W x for an F32 matrix.
std::vector<double> Apply(const std::byte* w, int64_t rows, int64_t cols,
                          const std::vector<double>& x) {
  std::vector<double> y(rows, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) y[r] += F32At(w, r * cols + c) * x[c];
  }
  return y;
}

double Dot(const double* a, const double* b, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

TEST(HfModelTest, LoadsTinyStories656k) {
  absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(kTinyDir);
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  EXPECT_EQ(m.format, "huggingface");
  EXPECT_EQ(m.path, kTinyDir);
  const ModelConfig& c = m.config;
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.dim, 128);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.rope_dims, 16);
  EXPECT_EQ(c.hidden_dim, 384);
  EXPECT_EQ(c.vocab_size, 2048);
  EXPECT_EQ(c.context_length, 512);
  EXPECT_FLOAT_EQ(c.rms_eps, 1e-6f);
  EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);

  // Tied: only lm_head.weight is stored, and it serves as the embedding too.
  const ModelWeights& w = m.weights;
  EXPECT_EQ(w.classifier.data, w.token_embedding.data);
  EXPECT_EQ(w.token_embedding.rows, 2048);
  EXPECT_EQ(w.token_embedding.cols, 128);
  ASSERT_EQ(w.layers.size(), 2u);
  for (const LayerWeights& l : w.layers) {
    EXPECT_EQ(l.wq.rows, 128);
    EXPECT_EQ(l.wk.rows, 64);
    EXPECT_EQ(l.wv.rows, 64);
    EXPECT_EQ(l.wo.cols, 128);
    EXPECT_EQ(l.w_gate.rows, 384);
    EXPECT_EQ(l.w_down.cols, 384);
    EXPECT_NE(l.attn_norm, nullptr);
    EXPECT_NE(l.ffn_norm, nullptr);
  }
  ASSERT_NE(w.final_norm, nullptr);

  // Unpermuted tensors point into the file; check a few values against a separate read.
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt =
      SafetensorsCheckpoint::OpenDir(kTinyDir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const SafetensorsTensor* head = (*ckpt)->Find("lm_head.weight");
  const SafetensorsTensor* norm = (*ckpt)->Find("model.norm.weight");
  const SafetensorsTensor* down = (*ckpt)->Find("model.layers.1.mlp.down_proj.weight");
  ASSERT_TRUE(head && norm && down);
  EXPECT_EQ(std::memcmp(w.classifier.data, head->data, head->bytes), 0);
  EXPECT_EQ(std::memcmp(w.layers[1].w_down.data, down->data, down->bytes), 0);
  EXPECT_EQ(std::memcmp(w.final_norm, norm->data, norm->bytes), 0);

  ASSERT_EQ(m.tensors.size(), 20u);
  EXPECT_EQ(m.tensors[0].name, "lm_head.weight");
  EXPECT_EQ(m.tensors[0].type, "F32");
  EXPECT_EQ(m.tensors[0].shape, (std::vector<int64_t>{2048, 128}));
  EXPECT_EQ(m.tensors[0].bytes, 2048u * 128 * 4);

  ASSERT_NE(m.tokenizer, nullptr);
  EXPECT_EQ(m.tokenizer->vocab_size(), 2048);
}

// For random inputs and positions, every attention score q.k computed the HF way (HF weights,
// rotate-half RoPE) equals the score computed the decoder's way (loaded weights, interleaved
// RoPE); and each rotated element lands where the permutation says.
TEST(HfModelTest, QkPermutationPreservesAttentionScores) {
  absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(kTinyDir);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt =
      SafetensorsCheckpoint::OpenDir(kTinyDir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const ModelConfig& c = (*model)->config;
  const int d = c.head_dim;

  std::mt19937 rng(42);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> position(0, c.context_length - 1);
  double max_unpermuted_error = 0;
  for (int layer = 0; layer < c.n_layers; ++layer) {
    const LayerWeights& lw = (*model)->weights.layers[layer];
    ASSERT_EQ(lw.wq.dtype, DType::kF32);
    const std::string p = absl::StrCat("model.layers.", layer, ".self_attn.");
    const SafetensorsTensor* hf_q = (*ckpt)->Find(p + "q_proj.weight");
    const SafetensorsTensor* hf_k = (*ckpt)->Find(p + "k_proj.weight");
    ASSERT_TRUE(hf_q && hf_k);
    EXPECT_NE(lw.wq.data, hf_q->data);  // an owned, reordered copy

    for (int trial = 0; trial < 8; ++trial) {
      std::vector<double> x(c.dim), y(c.dim);
      for (double& v : x) v = normal(rng);
      for (double& v : y) v = normal(rng);
      const int pq = position(rng), pk = position(rng);
      SCOPED_TRACE(absl::StrCat("layer ", layer, " trial ", trial, " positions ", pq, ", ", pk));

      std::vector<double> q_hf = Apply(hf_q->data, c.q_dim(), c.dim, x);
      std::vector<double> k_hf = Apply(hf_k->data, c.kv_dim(), c.dim, y);
      std::vector<double> q_il = Apply(lw.wq.data, c.q_dim(), c.dim, x);
      std::vector<double> k_il = Apply(lw.wk.data, c.kv_dim(), c.dim, y);
      // Negative control: HF weights under the interleaved convention, i.e. no permutation.
      std::vector<double> q_raw = q_hf, k_raw = k_hf;
      for (int h = 0; h < c.n_heads; ++h) {
        RopeRotateHalf(&q_hf[h * d], d, pq, c.rope_theta);
        RopeInterleaved(&q_il[h * d], d, pq, c.rope_theta);
        RopeInterleaved(&q_raw[h * d], d, pq, c.rope_theta);
      }
      for (int g = 0; g < c.n_kv_heads; ++g) {
        RopeRotateHalf(&k_hf[g * d], d, pk, c.rope_theta);
        RopeInterleaved(&k_il[g * d], d, pk, c.rope_theta);
        RopeInterleaved(&k_raw[g * d], d, pk, c.rope_theta);
      }

      for (int h = 0; h < c.n_heads; ++h) {
        for (int j = 0; j < d / 2; ++j) {
          ASSERT_NEAR(q_il[h * d + 2 * j], q_hf[h * d + j], 1e-9);
          ASSERT_NEAR(q_il[h * d + 2 * j + 1], q_hf[h * d + j + d / 2], 1e-9);
        }
        const int g = h / c.group_size();
        const double score_hf = Dot(&q_hf[h * d], &k_hf[g * d], d);
        const double score_il = Dot(&q_il[h * d], &k_il[g * d], d);
        const double score_raw = Dot(&q_raw[h * d], &k_raw[g * d], d);
        EXPECT_NEAR(score_il, score_hf, 1e-9 * (1 + std::abs(score_hf))) << "head " << h;
        max_unpermuted_error = std::max(max_unpermuted_error, std::abs(score_raw - score_hf));
      }
    }
  }
  // Without the permutation the scores are visibly wrong: the check above can fail.
  EXPECT_GT(max_unpermuted_error, 0.1);
}

// ---------------------------------------------------------------------------------------------
// Synthetic folders

std::string TestDir() { return FreshTestDir("hf_model_test_"); }

// A model small enough to write by hand: hidden 8, 1 layer, 2 heads of 4, 1 KV head, FFN 12.
// The vocabulary matches the TinyStories tokenizer.json, which is linked in.
constexpr int kDim = 8, kHeads = 2, kKvHeads = 1, kHeadDim = 4, kFfn = 12, kVocab = 2048;

// config.json for that model. `changes` maps keys to raw JSON values; an empty value drops the key.
std::string SmallConfig(const std::map<std::string, std::string>& changes = {}) {
  std::map<std::string, std::string> keys = {{"architectures", R"(["LlamaForCausalLM"])"},
                                             {"model_type", R"("llama")"},
                                             {"hidden_size", "8"},
                                             {"num_hidden_layers", "1"},
                                             {"num_attention_heads", "2"},
                                             {"num_key_value_heads", "1"},
                                             {"intermediate_size", "12"},
                                             {"vocab_size", "2048"},
                                             {"max_position_embeddings", "64"},
                                             {"rms_norm_eps", "1e-05"},
                                             {"rope_theta", "500000.0"},
                                             {"rope_scaling", "null"},
                                             {"hidden_act", R"("silu")"},
                                             {"tie_word_embeddings", "true"}};
  for (const auto& [key, value] : changes) {
    if (value.empty()) {
      keys.erase(key);
    } else {
      keys[key] = value;
    }
  }
  std::vector<std::string> entries;
  for (const auto& [key, value] : keys) entries.push_back(absl::StrCat("\"", key, "\": ", value));
  return absl::StrCat("{\n  ", absl::StrJoin(entries, ",\n  "), "\n}");
}

// Matrix values encode their position: element (r, c) = r * 16 + c, exact in BF16 and F16 for the
// small matrices, so where a row went can be read back from its values.
std::vector<float> Positional(int64_t rows, int64_t cols) {
  std::vector<float> v;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) v.push_back(static_cast<float>((r % 16) * 16 + c));
  }
  return v;
}

std::vector<FakeTensor> SmallTensors(const std::string& mat, const std::string& norm, bool embed,
                                     bool head) {
  std::vector<float> norm_values;
  for (int i = 0; i < kDim; ++i) norm_values.push_back(1.0f + i / 8.0f);
  std::vector<FakeTensor> t = {
      {"model.layers.0.input_layernorm.weight", norm, {kDim}, norm_values},
      {"model.layers.0.post_attention_layernorm.weight", norm, {kDim}, norm_values},
      {"model.norm.weight", norm, {kDim}, norm_values},
      {"model.layers.0.self_attn.q_proj.weight", mat, {kHeads * kHeadDim, kDim}, Positional(8, 8)},
      {"model.layers.0.self_attn.k_proj.weight",
       mat,
       {kKvHeads * kHeadDim, kDim},
       Positional(4, 8)},
      {"model.layers.0.self_attn.v_proj.weight",
       mat,
       {kKvHeads * kHeadDim, kDim},
       Positional(4, 8)},
      {"model.layers.0.self_attn.o_proj.weight", mat, {kDim, kHeads * kHeadDim}, Positional(8, 8)},
      {"model.layers.0.mlp.gate_proj.weight", mat, {kFfn, kDim}, Positional(kFfn, kDim)},
      {"model.layers.0.mlp.up_proj.weight", mat, {kFfn, kDim}, Positional(kFfn, kDim)},
      {"model.layers.0.mlp.down_proj.weight", mat, {kDim, kFfn}, Positional(kDim, kFfn)},
  };
  if (embed)
    t.push_back({"model.embed_tokens.weight", mat, {kVocab, kDim}, Positional(kVocab, kDim)});
  if (head) {
    std::vector<float> h = Positional(kVocab, kDim);
    for (float& v : h) v = -v;  // distinguishable from the embedding
    t.push_back({"lm_head.weight", mat, {kVocab, kDim}, h});
  }
  return t;
}

std::string SmallModelDir(const std::string& config, const std::vector<FakeTensor>& tensors) {
  const std::string dir = TestDir();
  WriteBytes(dir + "/config.json", config);
  WriteSafetensors(dir + "/model.safetensors", tensors);
  std::filesystem::create_symlink(kTinyDir + "/tokenizer.json", dir + "/tokenizer.json");
  return dir;
}

float ValueAt(const WeightMatrix& m, int64_t r, int64_t c) {
  const std::byte* p = m.row(r);
  if (m.dtype == DType::kF32) return F32At(p, c);
  uint16_t h;
  std::memcpy(&h, p + 2 * c, 2);
  return m.dtype == DType::kF16 ? Fp16ToF32(h) : Bf16ToF32(h);
}

bool InsideMappings(const Model& m, const void* p) {
  for (const auto& f : m.mappings) {
    const std::byte* b = static_cast<const std::byte*>(p);
    if (b >= f->data() && b < f->data() + f->size()) return true;
  }
  return false;
}

TEST(HfModelTest, Bf16MatricesStay16BitAndQkRowsArePermuted) {
  const std::string dir = SmallModelDir(SmallConfig({{"tie_word_embeddings", "false"}}),
                                        SmallTensors("BF16", "F16", true, true));
  absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  EXPECT_FLOAT_EQ(m.config.rope_theta, 500000.0f);
  EXPECT_FLOAT_EQ(m.config.rms_eps, 1e-5f);
  EXPECT_EQ(m.config.head_dim, kHeadDim);
  const LayerWeights& l = m.weights.layers[0];

  // q/k: new row h*d + 2j is HF row h*d + j, new row h*d + 2j + 1 is HF row h*d + j + d/2.
  for (const WeightMatrix* w : {&l.wq, &l.wk}) {
    EXPECT_EQ(w->dtype, DType::kBF16);
    EXPECT_FALSE(InsideMappings(m, w->data));
    const int heads = static_cast<int>(w->rows / kHeadDim);
    for (int h = 0; h < heads; ++h) {
      for (int j = 0; j < kHeadDim / 2; ++j) {
        for (int c = 0; c < kDim; ++c) {
          EXPECT_EQ(ValueAt(*w, h * kHeadDim + 2 * j, c), (h * kHeadDim + j) * 16 + c);
          EXPECT_EQ(ValueAt(*w, h * kHeadDim + 2 * j + 1, c),
                    (h * kHeadDim + j + kHeadDim / 2) * 16 + c);
        }
      }
    }
  }
  // Other matrices point into the file, unchanged.
  for (const WeightMatrix* w : {&l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
    EXPECT_EQ(w->dtype, DType::kBF16);
    EXPECT_TRUE(InsideMappings(m, w->data));
    EXPECT_EQ(ValueAt(*w, 3, 5), 3 * 16 + 5);
  }
  // Untied: two different matrices.
  EXPECT_NE(m.weights.classifier.data, m.weights.token_embedding.data);
  EXPECT_EQ(ValueAt(m.weights.token_embedding, 2, 1), 33.0f);
  EXPECT_EQ(ValueAt(m.weights.classifier, 2, 1), -33.0f);
  // F16 norms widened to f32 in owned memory.
  for (const float* norm : {l.attn_norm, l.ffn_norm, m.weights.final_norm}) {
    EXPECT_FALSE(InsideMappings(m, norm));
    for (int i = 0; i < kDim; ++i) EXPECT_EQ(norm[i], 1.0f + i / 8.0f);
  }
  EXPECT_EQ(m.tensors.size(), 12u);
}

TEST(HfModelTest, TiedEmbeddingStoredAsEmbedTokensOnly) {
  const std::string dir = SmallModelDir(SmallConfig(), SmallTensors("F16", "F32", true, false));
  absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->weights.classifier.data, (*model)->weights.token_embedding.data);
  EXPECT_EQ((*model)->weights.classifier.dtype, DType::kF16);
  EXPECT_EQ(ValueAt((*model)->weights.classifier, 2, 1), 33.0f);
  // Aligned F32 norms are used in place.
  EXPECT_TRUE(InsideMappings(**model, (*model)->weights.final_norm));
}

TEST(HfModelTest, UntiedWithoutLmHeadIsNotFound) {
  const std::string dir = SmallModelDir(SmallConfig({{"tie_word_embeddings", "false"}}),
                                        SmallTensors("F32", "F32", true, false));
  absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(dir);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("lm_head.weight"));
}

TEST(HfModelTest, MissingLayerTensorIsNotFoundNamingIt) {
  std::vector<FakeTensor> tensors = SmallTensors("F32", "F32", true, false);
  tensors.erase(tensors.begin() + 5);  // v_proj
  const std::string dir = SmallModelDir(SmallConfig(), tensors);
  absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(dir);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(model.status().message()),
              HasSubstr("model.layers.0.self_attn.v_proj.weight"));
}

TEST(HfModelTest, WrongShapeNamesTensorAndShapes) {
  std::vector<FakeTensor> tensors = SmallTensors("F32", "F32", true, false);
  tensors[6].shape = {4, 16};  // o_proj: same byte count as (8, 8), wrong shape
  const std::string dir = SmallModelDir(SmallConfig(), tensors);
  absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(dir);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(model.status().message()),
              AllOf(HasSubstr("o_proj"), HasSubstr("[4, 16]"), HasSubstr("[8, 8]")));
}

TEST(HfModelTest, BiasTensorIsRefused) {
  std::vector<FakeTensor> tensors = SmallTensors("F32", "F32", true, false);
  tensors.push_back({"model.layers.0.self_attn.q_proj.bias", "F32", {8}, std::vector<float>(8, 0)});
  const std::string dir = SmallModelDir(SmallConfig(), tensors);
  absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(dir);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("q_proj.bias"));
}

// The window is a property of every layer, applied by attention (tests/hf_arch_test.cc checks it
// against transformers); it does not cap the context.
TEST(HfModelTest, MistralSlidingWindowIsAModelProperty) {
  const std::string dir = SmallModelDir(SmallConfig({{"architectures", R"(["MistralForCausalLM"])"},
                                                     {"model_type", R"("mistral")"},
                                                     {"sliding_window", "16"}}),
                                        SmallTensors("F32", "F32", true, false));
  absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelConfig& c = (*model)->config;
  EXPECT_EQ(c.architecture, "mistral");
  EXPECT_GT(c.context_length, 16);
  EXPECT_EQ(c.sliding_window, 16);
  EXPECT_EQ(c.sliding_layers, std::vector<uint8_t>(c.n_layers, 1));
}

TEST(HfModelTest, MissingTokenizerIsNotFound) {
  const std::string dir = SmallModelDir(SmallConfig(), SmallTensors("F32", "F32", true, false));
  std::filesystem::remove(dir + "/tokenizer.json");
  absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(dir);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("tokenizer.json"));
}

// Config errors are reported before any tensor is read, so these folders hold config.json only.
struct ConfigCase {
  std::string label;
  std::string config;
  std::vector<std::string> parts;
};

TEST(HfModelTest, ConfigErrorsNameWhatTheyFound) {
  const std::vector<ConfigCase> cases = {
      {"unknown architecture",
       SmallConfig({{"architectures", R"(["GPT2LMHeadModel"])"}, {"model_type", R"("gpt2")"}}),
       {"unsupported architecture", "GPT2LMHeadModel", "gpt2"}},
      {"no architecture at all",
       SmallConfig({{"architectures", ""}, {"model_type", ""}}),
       {"unsupported architecture"}},
      {"llama3 rope scaling without its parameters",
       SmallConfig({{"rope_scaling", R"({"rope_type": "llama3", "factor": 8.0})"}}),
       {"rope_scaling", "low_freq_factor", "missing"}},
      {"rope scaling kvbench does not implement",
       SmallConfig({{"rope_scaling", R"({"type": "yarn", "factor": 2.0})"}}),
       {"rope_type \"yarn\" is not implemented", "default, linear, llama3"}},
      {"rope_parameters a string",
       SmallConfig({{"rope_parameters", R"("llama3")"}}),
       {"rope_parameters", "llama3", "is not an object"}},
      {"rope_parameters a list",
       SmallConfig({{"rope_parameters", R"([10000.0, "default"])"}}),
       {"rope_parameters", "a list", "is not an object"}},
      {"rope_parameters of an unknown type",
       SmallConfig({{"rope_parameters", R"({"rope_type": "llama4", "rope_theta": 10000.0})"}}),
       {"rope_parameters", "llama4", "not implemented"}},
      {"rope_type not a string",
       SmallConfig({{"rope_parameters", R"({"rope_type": 3})"}}),
       {"rope_parameters", "rope_type", "is not a string"}},
      {"rope_parameters per layer type (Gemma-3)",
       SmallConfig({{"rope_parameters",
                     R"({"full_attention": {"rope_type": "default", "rope_theta": 1e6},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}})"}}),
       {"rope_parameters", "full_attention", "per-layer-type"}},
      {"rope parameter of another type",
       SmallConfig({{"rope_parameters", R"({"rope_type": "linear", "factor": 2.0,
                                             "low_freq_factor": 1.0})"}}),
       {"low_freq_factor", "is not a parameter of rope_type \"linear\""}},
      {"llama3 factors in the wrong order",
       SmallConfig({{"rope_parameters",
                     R"({"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                         "low_freq_factor": 4.0, "high_freq_factor": 1.0,
                         "original_max_position_embeddings": 32})"}}),
       {"high_freq_factor", "low_freq_factor"}},
      {"llama3 factor not a number",
       SmallConfig({{"rope_parameters",
                     R"({"rope_type": "llama3", "factor": "8", "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 32})"}}),
       {"rope_parameters", "factor", "is not a number"}},
      {"negative linear factor",
       SmallConfig({{"rope_parameters", R"({"rope_type": "linear", "factor": -2.0})"}}),
       {"factor", "is not a positive number"}},
      {"two RoPE bases",
       SmallConfig({{"rope_parameters", R"({"rope_type": "default", "rope_theta": 10000.0})"}}),
       {"rope_theta = 10000", "500000"}},
      {"rope_parameters and rope_scaling disagree",
       SmallConfig({{"rope_parameters", R"({"rope_type": "default"})"},
                    {"rope_scaling", R"({"rope_type": "linear", "factor": 2.0})"}}),
       {"rope_parameters and rope_scaling", "differ"}},
      {"partial rotary",
       SmallConfig({{"partial_rotary_factor", "0.5"}}),
       {"partial_rotary_factor", "0.5"}},
      {"quantized weights",
       SmallConfig({{"quantization_config", R"({"quant_method": "gptq", "bits": 4})"}}),
       {"quantization_config", "not supported"}},
      {"unknown key",
       SmallConfig({{"logit_softcapping", "30.0"}}),
       {"\"logit_softcapping\" is unknown", "rope_parameters"}},
      {"fp8 dtype", SmallConfig({{"dtype", R"("float8_e4m3fn")"}}), {"dtype", "float8_e4m3fn"}},
      {"gelu", SmallConfig({{"hidden_act", R"("gelu")"}}), {"hidden_act", "gelu"}},
      {"mlp bias", SmallConfig({{"mlp_bias", "true"}}), {"mlp_bias"}},
      {"missing hidden_size", SmallConfig({{"hidden_size", ""}}), {"hidden_size", "missing"}},
      {"text where a number belongs",
       SmallConfig({{"intermediate_size", R"("big")"}}),
       {"intermediate_size", "big"}},
      {"fraction where an integer belongs",
       SmallConfig({{"vocab_size", "2048.5"}}),
       {"vocab_size", "2048.5"}},
      {"heads not dividing hidden",
       SmallConfig({{"num_attention_heads", "3"}}),
       {"num_attention_heads = 3"}},
      {"kv heads not dividing heads", SmallConfig({{"num_key_value_heads", "3"}}), {"n_kv_heads"}},
      {"zero layers", SmallConfig({{"num_hidden_layers", "0"}}), {"n_layers"}},
      {"mistral with bad window",
       SmallConfig(
           {{"model_type", R"("mistral")"}, {"architectures", ""}, {"sliding_window", "-1"}}),
       {"sliding_window"}},
      {"duplicate key",
       R"({"model_type": "llama", "hidden_size": 8, "hidden_size": 16})",
       {"hidden_size", "twice"}},
      {"not an object", "[1, 2]", {"config.json"}},
      {"malformed JSON", R"({"model_type": "llama",)", {"config.json"}},
  };
  for (const ConfigCase& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string dir = TestDir();
    WriteBytes(dir + "/config.json", c.config);
    absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(dir);
    ASSERT_FALSE(model.ok());
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << model.status();
    for (const std::string& part : c.parts) {
      EXPECT_THAT(std::string(model.status().message()), HasSubstr(part));
    }
  }
}

TEST(HfModelTest, FolderWithoutConfigIsNotFound) {
  absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(TestDir());
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("config.json"));
}

}  // namespace
}  // namespace kvbench
