// Hugging Face config.json reading (model/hf_config.h): every key transformers writes for
// LlamaForCausalLM is understood, ignored for a stated reason, or refused by name; RoPE scaling
// in both spellings (transformers 5 rope_parameters, older rope_theta + rope_scaling); and a tiny
// seeded Llama with Llama-3.1 RoPE scaling whose logits transformers 5.17 computed
// (tests/data/hf_llama3_rope, made by make_oracle.py there).
#include "model/hf_config.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "formats/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "model/ops.h"
#include "model/rope.h"
#include "model/session.h"
#include "policies/full.h"
#include "policies/registry.h"
#include "tests/npy_reader.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

const std::string kModels = std::string(KVBENCH_SHARED_DIR) + "/models";
const std::string kLlama3Dir = std::string(KVBENCH_TESTDATA_DIR) + "/hf_llama3_rope";

Json Load(const std::string& path) {
  absl::StatusOr<Json> j = ParseJsonFile(path);
  EXPECT_TRUE(j.ok()) << j.status();
  return j.ok() ? *j : Json::object();
}

const HfConfigKey* Find(const std::string& name) {
  for (const HfConfigKey& k : HfConfigKeys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

// The keys of real config.json files (transformers 4.41 and 5.17) and every key of
// LlamaConfig().to_dict() in transformers 5.17 (written by make_oracle.py).
std::set<std::string> KeysTransformersWrites() {
  std::set<std::string> keys;
  for (const std::string& path :
       {kModels + "/kvb-docs-12M/config.json", kModels + "/tinystories656k/config.json",
        kLlama3Dir + "/config.json"}) {
    const Json config = Load(path);
    for (const auto& [key, value] : config.items()) keys.insert(key);
  }
  const Json written = Load(kLlama3Dir + "/transformers_keys.json");
  for (const Json& key : *JsonMember(written, "keys")) keys.insert(key.get<std::string>());
  return keys;
}

TEST(HfConfigTest, EveryKeyTransformersWritesIsKnown) {
  const std::set<std::string> keys = KeysTransformersWrites();
  EXPECT_GE(keys.size(), 35u);
  for (const std::string& key : keys) {
    const HfConfigKey* k = Find(key);
    ASSERT_NE(k, nullptr) << "config key \"" << key << "\" is in no list of model/hf_config.cc";
    EXPECT_FALSE(k->why.empty()) << key;
  }
}

// A parsed config with `key` set to the JSON `value`.
absl::StatusOr<HfConfig> ParseWith(const std::string& key, const Json& value) {
  Json j = Load(kModels + "/kvb-docs-12M/config.json");
  j[key] = value;
  return ParseHfConfig(j, "config.json");
}

TEST(HfConfigTest, IgnoredKeysCannotChangeTheConfig) {
  const absl::StatusOr<HfConfig> base = ParseWith("transformers_version", "5.17.0");
  ASSERT_TRUE(base.ok()) << base.status();
  for (const HfConfigKey& k : HfConfigKeys()) {
    if (k.use != HfKeyUse::kIgnored) continue;
    for (const Json& value : {Json(7), Json("text"), Json::object({{"a", 1}})}) {
      absl::StatusOr<HfConfig> c = ParseWith(std::string(k.name), value);
      ASSERT_TRUE(c.ok()) << k.name << ": " << c.status();
      EXPECT_EQ(c->model.dim, base->model.dim);
    }
  }
}

TEST(HfConfigTest, RefusedKeysAreRefusedByNameUnlessHarmless) {
  int refused = 0;
  for (const HfConfigKey& k : HfConfigKeys()) {
    if (k.use != HfKeyUse::kRefused) continue;
    ++refused;
    absl::StatusOr<HfConfig> c = ParseWith(std::string(k.name), Json::object({{"x", 1}}));
    ASSERT_FALSE(c.ok()) << k.name;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(std::string(k.name)));
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(std::string(k.why)));
    if (!k.harmless.empty()) {
      EXPECT_TRUE(ParseWith(std::string(k.name), Json::parse(k.harmless)).ok()) << k.name;
    }
    EXPECT_TRUE(ParseWith(std::string(k.name), nullptr).ok()) << k.name << " = null";
  }
  EXPECT_GE(refused, 5);
}

TEST(HfConfigTest, UnknownKeyIsRefusedByName) {
  absl::StatusOr<HfConfig> c = ParseWith("attention_temperature", 2);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("\"attention_temperature\" is unknown to kvbench"));
  // A key another family reads (Gemma-3's query scale) is refused in a Llama config.
  c = ParseWith("query_pre_attn_scalar", 256);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("\"query_pre_attn_scalar\" is not a key of llama configs"));
}

TEST(HfConfigTest, TheTwoRopeSpellingsAgree) {
  const Json rope5 = Load(kLlama3Dir + "/config.json");
  absl::StatusOr<HfConfig> v5 = ParseHfConfig(rope5, "v5");
  ASSERT_TRUE(v5.ok()) << v5.status();
  EXPECT_EQ(v5->model.rope_type, "llama3");
  EXPECT_EQ(v5->model.rope_theta, 10000.0f);
  ASSERT_EQ(v5->model.rope_freq_factors.size(), 8u);

  // transformers 4: rope_theta at the top, the scaling in rope_scaling with "rope_type" or "type".
  for (const char* type_key : {"rope_type", "type"}) {
    Json old = rope5;
    Json scaling = *JsonMember(old, "rope_parameters");
    old.erase("rope_parameters");
    old["rope_theta"] = scaling["rope_theta"];
    scaling.erase("rope_theta");
    scaling.erase("rope_type");
    scaling[type_key] = "llama3";
    old["rope_scaling"] = scaling;
    absl::StatusOr<HfConfig> v4 = ParseHfConfig(old, "v4");
    ASSERT_TRUE(v4.ok()) << v4.status();
    EXPECT_EQ(v4->model.rope_theta, v5->model.rope_theta);
    EXPECT_EQ(v4->model.rope_freq_factors, v5->model.rope_freq_factors) << type_key;
  }
}

TEST(HfConfigTest, LinearScalingDividesEveryFrequency) {
  absl::StatusOr<HfConfig> c =
      ParseWith("rope_parameters", {{"rope_type", "linear"}, {"rope_theta", 1e4}, {"factor", 4}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model.rope_type, "linear");
  EXPECT_EQ(c->model.rope_freq_factors, std::vector<float>(32, 4.0f));
}

TEST(HfConfigTest, DefaultRopeHasNoFactors) {
  absl::StatusOr<HfConfig> c = ParseWith("rope_parameters", {{"rope_theta", 5e5}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model.rope_type, "default");
  EXPECT_EQ(c->model.rope_theta, 500000.0f);
  EXPECT_TRUE(c->model.rope_freq_factors.empty());
}

// The weights of the tiny llama3 model: make_oracle.py's formula_value, element for element (a
// bf16 number from a 32-bit hash of the tensor name's FNV-1a and the index; integers only, so the
// two sides agree exactly). The weights are written here instead of being stored in the tree.
float FormulaValue(uint32_t salt, uint64_t i, bool norm) {
  uint32_t h = (salt ^ static_cast<uint32_t>(i * 0x9E3779B1u)) * 0x85EBCA6Bu;
  h ^= h >> 13;
  const uint32_t m = h & 127;
  if (norm) return 1.0f + static_cast<float>(m & 7) / 8.0f;
  const int e = static_cast<int>((h >> 7) % 4);
  const float sign = (h >> 9) & 1 ? -1.0f : 1.0f;
  return sign * (1.0f + static_cast<float>(m) / 128.0f) * std::ldexp(1.0f, -(e + 3));
}

FakeTensor FormulaTensor(const std::string& name, std::vector<int64_t> shape) {
  uint32_t salt = 0x811C9DC5u;
  for (unsigned char c : name) salt = (salt ^ c) * 0x01000193u;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  FakeTensor t{.name = name, .dtype = "BF16", .shape = std::move(shape), .values = {}};
  const bool norm = name.find("norm") != std::string::npos;
  for (int64_t i = 0; i < n; ++i) t.values.push_back(FormulaValue(salt, i, norm));
  return t;
}

// model.safetensors of the tiny llama3 model (hidden 32, FFN 64, 2 layers, 4 heads / 2 KV heads of
// 16, vocabulary 2048, tied embeddings), as transformers saved it on the oracle's side.
void WriteLlama3Weights(const std::string& path) {
  std::vector<FakeTensor> tensors = {FormulaTensor("model.embed_tokens.weight", {2048, 32}),
                                     FormulaTensor("model.norm.weight", {32})};
  for (int l = 0; l < 2; ++l) {
    const std::string p = absl::StrCat("model.layers.", l, ".");
    for (const auto& [name, shape] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
             {"input_layernorm.weight", {32}},
             {"post_attention_layernorm.weight", {32}},
             {"self_attn.q_proj.weight", {64, 32}},
             {"self_attn.k_proj.weight", {32, 32}},
             {"self_attn.v_proj.weight", {32, 32}},
             {"self_attn.o_proj.weight", {32, 64}},
             {"mlp.gate_proj.weight", {64, 32}},
             {"mlp.up_proj.weight", {64, 32}},
             {"mlp.down_proj.weight", {32, 64}}}) {
      tensors.push_back(FormulaTensor(p + name, shape));
    }
  }
  WriteSafetensors(path, tensors);
}

// The tiny llama3 model of tests/data/hf_llama3_rope, tokenizer linked in; `n_layers` first layers.
std::unique_ptr<Model> Llama3Model(int n_layers = 2) {
  const std::string dir = FreshTestDir("hf_config_test_");
  std::filesystem::create_symlink(kLlama3Dir + "/config.json", dir + "/config.json");
  WriteLlama3Weights(dir + "/model.safetensors");
  std::filesystem::create_symlink(kModels + "/tinystories656k/tokenizer.json",
                                  dir + "/tokenizer.json");
  absl::StatusOr<std::unique_ptr<Model>> model = LoadHuggingFaceModel(dir);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return nullptr;
  (*model)->config.n_layers = n_layers;
  (*model)->weights.layers.resize(n_layers);
  return *std::move(model);
}

std::vector<int> OracleTokens() {
  std::vector<int> tokens;
  const Json token_list = Load(kLlama3Dir + "/tokens.json");
  for (const Json& t : token_list) tokens.push_back(t.get<int>());
  return tokens;
}

// The oracle: transformers 5.17's logits for the last rows of 200 tokens (positions up to 199 turn
// the scaled pairs far from where plain RoPE would: the two differ by up to 3.2 there).
TEST(HfConfigTest, Llama3RopeLogitsMatchTransformers) {
  const std::unique_ptr<Model> model = Llama3Model();
  ASSERT_NE(model, nullptr);
  const Model& m = *model;
  EXPECT_EQ(m.config.rope_type, "llama3");
  const std::vector<int> tokens = OracleTokens();
  const Npy want = ReadNpyF32(kLlama3Dir + "/logits.npy");
  const int vocab = m.config.vocab_size, rows = 4;
  ASSERT_EQ(tokens.size(), 200u);
  ASSERT_EQ(want.shape, (std::vector<int64_t>{rows, vocab}));

  SetNumThreads(1);
  Decoder decoder(m);
  auto session = NewF32Session<FullPolicy>(m);
  std::vector<float> got(tokens.size() * vocab);
  Feed(decoder, *session, tokens, /*all_logits=*/true, got.data());
  double max_diff = 0;
  const size_t first = (tokens.size() - rows) * vocab;
  for (size_t i = 0; i < want.values.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(got[first + i]) - want.values[i]));
  }
  std::printf("llama3 RoPE oracle: max |diff| %.3g over %d x %d logits\n", max_diff, rows, vocab);
  EXPECT_LT(max_diff, 2e-3);
}

// The last token's logits after feeding `tokens` one at a time through a cache built by `spec`
// for `shape`.
std::vector<float> LastLogits(const Model& m, const CacheSpec& spec, const CacheShape& shape,
                              const std::vector<int>& tokens) {
  absl::StatusOr<std::unique_ptr<PolicyCache>> cache = MakeCache(spec, shape);
  EXPECT_TRUE(cache.ok()) << cache.status();
  Session session(*std::move(cache));
  Decoder decoder(m);
  std::vector<float> logits(m.config.vocab_size);
  for (const int& t : tokens)
    Feed(decoder, session, absl::MakeConstSpan(&t, 1), false, logits.data());
  return logits;
}

float MaxDiff(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

// positions=cache re-rotates kept keys with the model's scaled frequencies. In a one-layer model a
// key depends only on its token and position, so StreamingLLM with cache positions must equal a
// fresh run over the tokens it keeps, placed at contiguous positions: attention sees only
// relative positions. Re-rotating with plain RoPE frequencies instead is far off.
TEST(HfConfigTest, CachePositionsRotateWithTheScaledFrequencies) {
  SetNumThreads(1);
  const std::unique_ptr<Model> model = Llama3Model(/*n_layers=*/1);
  ASSERT_NE(model, nullptr);
  const Model& m = *model;
  const std::vector<int> tokens = OracleTokens();
  constexpr int kBudget = 32, kSinks = 4;
  const CacheSpec sinks = PolicySpec("sinks", {{"budget", std::to_string(kBudget)},
                                               {"n_sink", std::to_string(kSinks)},
                                               {"positions", "cache"}});
  const CacheShape shape = CacheShape::ForModel(m.config, m.config.context_length);
  const std::vector<float> got = LastLogits(m, sinks, shape, tokens);

  // The last step attends over the sinks and the newest budget - n_sink + 1 tokens.
  std::vector<int> kept(tokens.begin(), tokens.begin() + kSinks);
  kept.insert(kept.end(), tokens.end() - (kBudget - kSinks + 1), tokens.end());
  const std::vector<float> want = LastLogits(m, CacheSpec{}, shape, kept);
  EXPECT_LT(MaxDiff(got, want), 1e-4f);

  CacheShape plain = shape;
  plain.rope_freq_factors.clear();
  EXPECT_GT(MaxDiff(LastLogits(m, sinks, plain, tokens), want), 1e-2f);
}

}  // namespace
}  // namespace kvbench
