// The architectures beside Llama, each the one decoder with the switches of ModelConfig, against
// Hugging Face transformers 5.17 (tests/data/hf_oracle, made by make_oracle.py there: one tiny
// seeded random model per family as save_pretrained wrote it, and the logits the model computes
// after from_pretrained):
//   qwen2    q/k/v biases
//   qwen3    per-head RMSNorm of q and k
//   mistral  a sliding window of 16 keys on every layer (the sequence is 48 tokens)
//   gemma3   GELU-tanh, (1 + w) norms, sandwich norms, sqrt(dim) embedding scale, q/k norms,
//            query_pre_attn_scalar 32 (head_dim 16), a sliding layer (window 16, RoPE base 1e4)
//            and a full layer (RoPE base 1e6, linear factor 4)
// For each: logits within 2e-3 of transformers, cached decoding equals recomputation, sessions fed
// in one batched step equal each fed alone, and the config keys transformers writes are each
// implemented or refused by name.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "formats/gguf.h"
#include "formats/half.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/decoder.h"
#include "model/gguf_export.h"
#include "model/hf_config.h"
#include "model/loader.h"
#include "model/ops.h"
#include "model/session.h"
#include "policies/full.h"
#include "policies/none.h"
#include "policies/registry.h"
#include "tests/npy_reader.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

const std::string kOracle = std::string(KVBENCH_TESTDATA_DIR) + "/hf_oracle";
const std::vector<std::string> kFamilies = {"qwen2", "qwen3", "mistral", "gemma3"};

Json Load(const std::string& path) {
  absl::StatusOr<Json> j = ParseJsonFile(path);
  EXPECT_TRUE(j.ok()) << j.status();
  return j.ok() ? *j : Json::object();
}

std::unique_ptr<Model> LoadFamily(const std::string& family) {
  absl::StatusOr<std::unique_ptr<Model>> m = LoadHuggingFaceModel(kOracle + "/" + family);
  EXPECT_TRUE(m.ok()) << family << ": " << m.status();
  return m.ok() ? *std::move(m) : nullptr;
}

std::vector<int> Tokens(const std::string& family) {
  std::vector<int> tokens;
  for (const Json& t : Load(kOracle + "/" + family + "/tokens.json"))
    tokens.push_back(t.get<int>());
  return tokens;
}

// All positions' logits of one prefill through the full f32 cache.
std::vector<float> Prefill(const Model& m, const std::vector<int>& tokens) {
  Decoder decoder(m);
  auto session = NewF32Session<FullPolicy>(m);
  std::vector<float> logits(tokens.size() * m.config.vocab_size);
  Feed(decoder, *session, tokens, /*all_logits=*/true, logits.data());
  return logits;
}

// Over the first got.size() values (a prefix of the oracle's rows).
double MaxDiff(const std::vector<float>& got, const std::vector<float>& want) {
  EXPECT_LE(got.size(), want.size());
  double d = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i)
    d = std::max(d, std::fabs(static_cast<double>(got[i]) - want[i]));
  return d;
}

std::vector<float> OracleLogits(const std::string& family, int n_tokens, int vocab) {
  const Npy npy = ReadNpyF32(kOracle + "/" + family + "/logits.npy");
  EXPECT_EQ(npy.shape, (std::vector<int64_t>{n_tokens, vocab})) << family;
  return std::vector<float>(npy.values.begin(), npy.values.end());
}

TEST(HfArchTest, EachFamilyLoadsWithItsSwitches) {
  const std::unique_ptr<Model> qwen2 = LoadFamily("qwen2");
  ASSERT_NE(qwen2, nullptr);
  EXPECT_EQ(qwen2->config.architecture, "qwen2");
  EXPECT_TRUE(qwen2->config.attention_bias);
  EXPECT_NE(qwen2->weights.layers[0].bq, nullptr);
  EXPECT_EQ(qwen2->weights.layers[0].bo, nullptr);  // Qwen2 has no o_proj bias
  EXPECT_EQ(qwen2->config.sliding_window, 0);
  EXPECT_EQ(qwen2->config.rope_theta, 1e6f);

  const std::unique_ptr<Model> qwen3 = LoadFamily("qwen3");
  ASSERT_NE(qwen3, nullptr);
  EXPECT_TRUE(qwen3->config.qk_norm);
  EXPECT_FALSE(qwen3->config.attention_bias);

  const std::unique_ptr<Model> mistral = LoadFamily("mistral");
  ASSERT_NE(mistral, nullptr);
  EXPECT_EQ(mistral->config.sliding_window, 16);
  EXPECT_EQ(mistral->config.n_sliding_layers(), 2);
  EXPECT_EQ(mistral->config.context_length, 256);  // the window caps nothing

  const std::unique_ptr<Model> gemma = LoadFamily("gemma3");
  ASSERT_NE(gemma, nullptr);
  const ModelConfig& g = gemma->config;
  EXPECT_EQ(g.activation, ModelConfig::Activation::kGeluTanh);
  EXPECT_TRUE(g.qk_norm && g.sandwich_norms);
  EXPECT_EQ(g.embedding_scale, 8.0f);
  EXPECT_FLOAT_EQ(g.query_scale, std::sqrt(16.0f / 32.0f));
  EXPECT_EQ(g.sliding_layers, (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(g.rope_theta, 1e6f);
  EXPECT_EQ(g.rope_type, "linear");
  EXPECT_EQ(g.rope_freq_factors, std::vector<float>(8, 4.0f));
  EXPECT_EQ(g.sliding_rope_theta, 1e4f);
  EXPECT_TRUE(g.sliding_rope_freq_factors.empty());
}

TEST(HfArchTest, LogitsMatchTransformers) {
  SetNumThreads(1);
  for (const std::string& family : kFamilies) {
    const std::unique_ptr<Model> m = LoadFamily(family);
    ASSERT_NE(m, nullptr);
    const std::vector<int> tokens = Tokens(family);
    ASSERT_EQ(tokens.size(), 48u);
    const std::vector<float> want = OracleLogits(family, 48, m->config.vocab_size);
    const double diff = MaxDiff(Prefill(*m, tokens), want);
    std::printf("%s oracle: max |diff| %.3g over 48 x %d logits\n", family.c_str(), diff,
                m->config.vocab_size);
    EXPECT_LT(diff, 2e-3) << family;
  }
}

// The oracle tells the switches apart: without the sliding window (or with Gemma-3's second RoPE
// or query scale, Qwen2's biases, Qwen3's q/k norms dropped) the logits leave the 2e-3 band by
// far (for the window, only past it).
TEST(HfArchTest, TheOracleSeesEachSwitch) {
  SetNumThreads(1);
  for (const std::string& family : {std::string("mistral"), std::string("gemma3")}) {
    std::unique_ptr<Model> m = LoadFamily(family);
    ASSERT_NE(m, nullptr);
    const std::vector<int> tokens = Tokens(family);
    const int vocab = m->config.vocab_size, window = m->config.sliding_window;
    const std::vector<float> want = OracleLogits(family, 48, vocab);
    m->config.sliding_window = 1 << 20;  // the sliding layers (and their RoPE) stay
    const std::vector<float> got = Prefill(*m, tokens);
    const std::vector<float> first(got.begin(), got.begin() + window * vocab);
    EXPECT_LT(MaxDiff(first, want), 2e-3) << family << ": within the window nothing changes";
    EXPECT_GT(MaxDiff(got, want), 0.1) << family << " without its sliding window";
  }
  std::unique_ptr<Model> m = LoadFamily("gemma3");
  ASSERT_NE(m, nullptr);
  const std::vector<float> want = OracleLogits("gemma3", 48, m->config.vocab_size);
  m->config.query_scale = 1.0f;
  EXPECT_GT(MaxDiff(Prefill(*m, Tokens("gemma3")), want), 0.1) << "query_pre_attn_scalar";
  m = LoadFamily("gemma3");
  m->config.sliding_rope_theta = 0.0f;
  EXPECT_GT(MaxDiff(Prefill(*m, Tokens("gemma3")), want), 0.1) << "one RoPE for both layers";
  // Qwen2 without its biases, Qwen3 without its q/k norms.
  m = LoadFamily("qwen2");
  ASSERT_NE(m, nullptr);
  for (LayerWeights& l : m->weights.layers) l.bq = l.bk = l.bv = nullptr;
  EXPECT_GT(MaxDiff(Prefill(*m, Tokens("qwen2")), OracleLogits("qwen2", 48, 256)), 0.1) << "bias";
  m = LoadFamily("qwen3");
  ASSERT_NE(m, nullptr);
  m->config.qk_norm = false;
  EXPECT_GT(MaxDiff(Prefill(*m, Tokens("qwen3")), OracleLogits("qwen3", 48, 256)), 0.1) << "norm";
}

// One token a step through the full cache against recomputing the whole prefix every step (the
// `none` policy), as tests/decoder_test.cc does for Llama.
TEST(HfArchTest, CachedDecodingEqualsRecomputation) {
  SetNumThreads(2);
  for (const std::string& family : kFamilies) {
    const std::unique_ptr<Model> m = LoadFamily(family);
    ASSERT_NE(m, nullptr);
    const int vocab = m->config.vocab_size;
    const std::vector<int> tokens = Tokens(family);
    Decoder decoder(*m);
    auto full = NewF32Session<FullPolicy>(*m);
    auto none = NewF32Session<NonePolicy>(*m);
    std::vector<float> a(vocab), b(vocab);
    const std::vector<float> prefill = Prefill(*m, tokens);
    for (size_t t = 0; t < tokens.size(); ++t) {
      Feed(decoder, *full, absl::MakeConstSpan(&tokens[t], 1), false, a.data());
      Feed(decoder, *none, absl::MakeConstSpan(&tokens[t], 1), false, b.data());
      float diff = 0, to_prefill = 0, scale = 0;
      for (int i = 0; i < vocab; ++i) {
        diff = std::max(diff, std::fabs(a[i] - b[i]));
        to_prefill = std::max(to_prefill, std::fabs(a[i] - prefill[t * vocab + i]));
        scale = std::max(scale, std::fabs(a[i]));
      }
      ASSERT_LT(diff / scale, 1e-5f) << family << " position " << t;
      ASSERT_LT(to_prefill / scale, 1e-5f) << family << " position " << t << " vs the prefill";
    }
  }
}

// Several caches fed in one decoder step (the harness's lockstep) get exactly what each gets fed
// alone, bit for bit, with policies that evict past the sliding window and before it.
TEST(HfArchTest, LockstepEqualsOneAtATime) {
  SetNumThreads(2);
  const std::vector<CacheSpec> specs = {
      PolicySpec("full"), PolicySpec("window", {{"budget", "24"}}),
      PolicySpec("sinks", {{"budget", "12"}}), PolicySpec("h2o", {{"budget", "20"}})};
  for (const std::string& family : kFamilies) {
    const std::unique_ptr<Model> m = LoadFamily(family);
    ASSERT_NE(m, nullptr);
    const int vocab = m->config.vocab_size;
    const std::vector<int> tokens = Tokens(family);
    const CacheShape shape = CacheShape::ForModel(m->config, m->config.context_length);
    Decoder decoder(*m);
    auto sessions_for = [&] {
      std::vector<std::unique_ptr<Session>> s;
      for (const CacheSpec& spec : specs) {
        absl::StatusOr<std::unique_ptr<PolicyCache>> cache = MakeCache(spec, shape);
        EXPECT_TRUE(cache.ok()) << cache.status();
        s.push_back(std::make_unique<Session>(*std::move(cache)));
      }
      return s;
    };
    std::vector<std::unique_ptr<Session>> together = sessions_for(), alone = sessions_for();
    std::vector<std::vector<float>> a(specs.size(), std::vector<float>(vocab)),
        b(specs.size(), std::vector<float>(vocab));
    // A prompt of 20 tokens, then one token a step.
    for (size_t t = 0; t < tokens.size();) {
      const size_t n = t == 0 ? 20 : 1;
      const absl::Span<const int> block(&tokens[t], n);
      std::vector<Session*> ptrs;
      std::vector<absl::Span<const int>> blocks;
      std::vector<float*> outs;
      for (size_t i = 0; i < specs.size(); ++i) {
        ptrs.push_back(together[i].get());
        blocks.push_back(block);
        outs.push_back(a[i].data());
        Feed(decoder, *alone[i], block, false, b[i].data());
      }
      Feed(decoder, ptrs, blocks, false, outs);
      for (size_t i = 0; i < specs.size(); ++i) {
        ASSERT_EQ(a[i], b[i]) << family << " " << specs[i].Label() << " position " << t;
      }
      t += n;
    }
    // The evicting caches really changed the logits (the equality is not that of one cache).
    EXPECT_GT(MaxDiff(a[3], a[0]), 1e-3) << family;
  }
}

// With the model's own window, a window policy of that budget evicts only keys the mask hides:
// on Mistral (every layer slides over 16 keys) it reproduces transformers' logits.
TEST(HfArchTest, WindowPolicyOfTheModelsWindowChangesNothing) {
  SetNumThreads(1);
  const std::unique_ptr<Model> m = LoadFamily("mistral");
  ASSERT_NE(m, nullptr);
  const int vocab = m->config.vocab_size;
  const std::vector<int> tokens = Tokens("mistral");
  const std::vector<float> want = OracleLogits("mistral", 48, vocab);
  const CacheShape shape = CacheShape::ForModel(m->config, m->config.context_length);
  for (const char* budget : {"15", "16"}) {
    absl::StatusOr<std::unique_ptr<PolicyCache>> cache =
        MakeCache(PolicySpec("window", {{"budget", budget}}), shape);
    ASSERT_TRUE(cache.ok()) << cache.status();
    Session session(*std::move(cache));
    Decoder decoder(*m);
    std::vector<float> got(tokens.size() * vocab);
    for (size_t t = 0; t < tokens.size(); ++t)
      Feed(decoder, session, absl::MakeConstSpan(&tokens[t], 1), false, &got[t * vocab]);
    std::printf("mistral, window(budget=%s) one token a step: max |diff| %.3g\n", budget,
                MaxDiff(got, want));
    EXPECT_LT(MaxDiff(got, want), 2e-3) << budget;
  }
}

// The logits of the last token after feeding `tokens` one at a time through `spec`'s cache.
std::vector<float> LastLogits(const Model& m, const CacheSpec& spec,
                              const std::vector<int>& tokens) {
  absl::StatusOr<std::unique_ptr<PolicyCache>> cache =
      MakeCache(spec, CacheShape::ForModel(m.config, m.config.context_length));
  EXPECT_TRUE(cache.ok()) << cache.status();
  Session session(*std::move(cache));
  Decoder decoder(m);
  std::vector<float> logits(m.config.vocab_size);
  for (const int& t : tokens)
    Feed(decoder, session, absl::MakeConstSpan(&t, 1), false, logits.data());
  return logits;
}

// Gemma-3's first layer alone: sliding (window 16) with its own RoPE (base 1e4). StreamingLLM
// with positions=cache re-rotates kept keys with that RoPE and masks by the positions it rotates
// to, so the last step equals a fresh run over the kept tokens at contiguous positions (a key in a
// one-layer model depends only on its token and position). With original positions the window
// hides the sinks instead: the first four tokens lie 44 positions back.
TEST(HfArchTest, CachePositionsUseTheSlidingLayersRope) {
  SetNumThreads(1);
  std::unique_ptr<Model> m = LoadFamily("gemma3");
  ASSERT_NE(m, nullptr);
  m->config.n_layers = 1;
  m->config.sliding_layers.resize(1);
  m->weights.layers.resize(1);
  ASSERT_TRUE(m->config.is_sliding(0));
  const std::vector<int> tokens = Tokens("gemma3");
  constexpr int kBudget = 12, kSinks = 4;
  auto sinks = [&](const char* positions) {
    return PolicySpec("sinks", {{"budget", std::to_string(kBudget)},
                                {"n_sink", std::to_string(kSinks)},
                                {"positions", positions}});
  };
  std::vector<int> kept(tokens.begin(), tokens.begin() + kSinks);
  kept.insert(kept.end(), tokens.end() - (kBudget - kSinks + 1), tokens.end());
  const std::vector<float> fresh = LastLogits(*m, PolicySpec("full"), kept);
  const std::vector<float> cache_positions = LastLogits(*m, sinks("cache"), tokens);
  EXPECT_LT(MaxDiff(cache_positions, fresh), 1e-4);
  // Original positions: the sinks are outside the window, so only the newest 9 tokens count, as
  // in a fresh run over those 9 alone (attention sees relative positions only).
  const std::vector<int> newest(tokens.end() - (kBudget - kSinks + 1), tokens.end());
  const std::vector<float> original = LastLogits(*m, sinks("original"), tokens);
  EXPECT_LT(MaxDiff(original, LastLogits(*m, PolicySpec("full"), newest)), 1e-4);
  EXPECT_GT(MaxDiff(original, fresh), 1e-2);
}

// A llama GGUF cannot hold the other families' switches: writing one is refused, not lossy.
TEST(HfArchTest, ExportToLlamaGgufRefusesOtherFamilies) {
  for (const std::string& family : kFamilies) {
    const std::unique_ptr<Model> m = LoadFamily(family);
    ASSERT_NE(m, nullptr);
    const std::string path = FreshTestDir("hf_arch_export_") + "/" + family + ".gguf";
    const absl::Status s = WriteModelAsGguf(*m, family, path);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented) << family << ": " << s;
    EXPECT_FALSE(std::filesystem::exists(path)) << family;
  }
}

// ---------------------------------------------------------------------------------------------
// GGUF qwen2 / qwen3

// The llama.cpp name of a Hugging Face tensor (gguf-py's tensor_mapping for qwen2 / qwen3).
std::string GgufName(const std::string& hf) {
  static const std::vector<std::pair<std::string, std::string>> kParts = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.", "attn_q."},
      {"self_attn.k_proj.", "attn_k."},
      {"self_attn.v_proj.", "attn_v."},
      {"self_attn.o_proj.", "attn_output."},
      {"self_attn.q_norm.", "attn_q_norm."},
      {"self_attn.k_norm.", "attn_k_norm."},
      {"mlp.gate_proj.", "ffn_gate."},
      {"mlp.up_proj.", "ffn_up."},
      {"mlp.down_proj.", "ffn_down."}};
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  std::string name = hf;
  name.replace(0, std::string("model.layers.").size(), "blk.");
  for (const auto& [from, to] : kParts) {
    const size_t at = name.find(from);
    if (at != std::string::npos) return name.replace(at, from.size(), to);
  }
  ADD_FAILURE() << "no GGUF name for " << hf;
  return hf;
}

// A GGUF of the oracle folder `family`, as llama.cpp's convert_hf_to_gguf.py writes qwen2 / qwen3:
// <arch>.* hyper-parameters, q/k rows in Hugging Face's (NEOX) order, matrices in their BF16,
// 1-D tensors (norms, biases) in F32, a gpt2 vocabulary of the 256 byte tokens. `skip`: a tensor
// left out.
void WriteQwenGguf(const std::string& family, const std::string& path,
                   const std::string& skip = "") {
  const std::string dir = kOracle + "/" + family;
  const Json config = Load(dir + "/config.json");
  GgufWriter w;
  const std::string k = family + ".";
  w.SetString("general.architecture", family);
  w.SetUint32(k + "context_length", config["max_position_embeddings"].get<uint32_t>());
  w.SetUint32(k + "embedding_length", config["hidden_size"].get<uint32_t>());
  w.SetUint32(k + "block_count", config["num_hidden_layers"].get<uint32_t>());
  w.SetUint32(k + "feed_forward_length", config["intermediate_size"].get<uint32_t>());
  w.SetUint32(k + "attention.head_count", config["num_attention_heads"].get<uint32_t>());
  w.SetUint32(k + "attention.head_count_kv", config["num_key_value_heads"].get<uint32_t>());
  w.SetUint32(k + "attention.key_length", config["head_dim"].get<uint32_t>());
  w.SetUint32(k + "attention.value_length", config["head_dim"].get<uint32_t>());
  w.SetFloat32(k + "rope.freq_base", config["rope_parameters"]["rope_theta"].get<float>());
  w.SetFloat32(k + "attention.layer_norm_rms_epsilon", config["rms_norm_eps"].get<float>());
  // The byte-level vocabulary of the folder's tokenizer.json, in id order.
  const Json tokenizer = Load(dir + "/tokenizer.json");
  std::vector<std::string> tokens(256);
  for (const auto& [piece, id] : tokenizer["model"]["vocab"].items()) tokens[id.get<int>()] = piece;
  w.SetString("tokenizer.ggml.model", "gpt2");
  w.SetString("tokenizer.ggml.pre", "qwen2");
  w.SetArray("tokenizer.ggml.tokens", GgufArray::Strings(tokens));
  w.SetArray("tokenizer.ggml.merges", GgufArray::Strings(std::vector<std::string>{}));
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt = SafetensorsCheckpoint::OpenDir(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  for (const SafetensorsTensor& t : (*ckpt)->tensors()) {
    if (t.name == skip) continue;
    ASSERT_EQ(t.dtype, DType::kBF16) << t.name;
    const std::vector<uint64_t> ne(t.shape.rbegin(), t.shape.rend());
    if (t.shape.size() == 2) {
      ASSERT_TRUE(
          w.AddTensor(GgufName(t.name), GgmlType::kBF16, ne, absl::MakeConstSpan(t.data, t.bytes))
              .ok());
    } else {
      std::vector<float> values(t.num_elements());
      for (size_t i = 0; i < values.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        values[i] = Bf16ToF32(h);
      }
      ASSERT_TRUE(w.AddTensorFromF32(GgufName(t.name), GgmlType::kF32, ne, values).ok());
    }
  }
  ASSERT_TRUE(w.WriteFile(path).ok());
}

// The same weights as GGUF: the same logits as the Hugging Face folder, bit for bit (the same
// bf16 matrices, the same f32 norms and biases, the same reordering), hence transformers' too.
TEST(HfArchTest, QwenGgufFilesMatchTheirFolders) {
  SetNumThreads(1);
  for (const std::string& family : {std::string("qwen2"), std::string("qwen3")}) {
    const std::string path = FreshTestDir("hf_arch_gguf_") + "/" + family + ".gguf";
    WriteQwenGguf(family, path);
    absl::StatusOr<std::unique_ptr<Model>> gguf = LoadGgufModel(path);
    ASSERT_TRUE(gguf.ok()) << gguf.status();
    const ModelConfig& c = (*gguf)->config;
    EXPECT_EQ(c.architecture, family);
    EXPECT_EQ(c.attention_bias, family == "qwen2");
    EXPECT_EQ(c.qk_norm, family == "qwen3");
    const std::unique_ptr<Model> hf = LoadFamily(family);
    ASSERT_NE(hf, nullptr);
    const std::vector<int> tokens = Tokens(family);
    const std::vector<float> got = Prefill(**gguf, tokens);
    EXPECT_EQ(got, Prefill(*hf, tokens)) << family;
    const double diff = MaxDiff(got, OracleLogits(family, 48, c.vocab_size));
    std::printf("%s GGUF vs transformers: max |diff| %.3g\n", family.c_str(), diff);
    EXPECT_LT(diff, 2e-3);
    EXPECT_EQ((*gguf)->tokenizer->Encode("kv", false), (std::vector<int>{'k', 'v'}));
  }
}

TEST(HfArchTest, QwenGgufErrorsNameTheTensor) {
  const std::string dir = FreshTestDir("hf_arch_gguf_");
  WriteQwenGguf("qwen2", dir + "/no_bias.gguf", "model.layers.1.self_attn.k_proj.bias");
  absl::StatusOr<std::unique_ptr<Model>> m = LoadGgufModel(dir + "/no_bias.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("'blk.1.attn_k.bias' is missing"));
  WriteQwenGguf("qwen3", dir + "/no_norm.gguf", "model.layers.0.self_attn.q_norm.weight");
  m = LoadGgufModel(dir + "/no_norm.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()),
              HasSubstr("'blk.0.attn_q_norm.weight' is missing"));
  // gemma3 GGUF files lack what the logits depend on: refused by name.
  GgufWriter gemma;
  gemma.SetString("general.architecture", "gemma3");
  ASSERT_TRUE(gemma.WriteFile(dir + "/gemma3.gguf").ok());
  m = LoadGgufModel(dir + "/gemma3.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("\"gemma3\" is not supported"));
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("query_pre_attn_scalar"));
}

// What `kvbench inspect` says about the switches.
TEST(HfArchTest, InspectNamesTheSwitches) {
  const std::unique_ptr<Model> gemma = LoadFamily("gemma3");
  const std::unique_ptr<Model> qwen2 = LoadFamily("qwen2");
  ASSERT_NE(gemma, nullptr);
  ASSERT_NE(qwen2, nullptr);
  const std::string g = absl::StrJoin(ArchitectureFeatures(gemma->config), "\n");
  for (const char* part : {"GeGLU", "q/k norm     RMSNorm over each head",
                           "before and after attention and FFN", "embedding x 8", "q.k / sqrt(32)",
                           "window 16 on 1 of 2 layers (0); their RoPE default, "
                           "theta 10000"}) {
    EXPECT_THAT(g, HasSubstr(part));
  }
  const std::string q = absl::StrJoin(ArchitectureFeatures(qwen2->config), "\n");
  EXPECT_THAT(q, HasSubstr("bias         q, k, v projections"));
  EXPECT_THAT(q, HasSubstr("sliding      none"));
  std::printf("gemma3:\n%s\n", g.c_str());
}

// ---------------------------------------------------------------------------------------------
// Config keys

const HfConfigKey* Find(const std::string& name) {
  for (const HfConfigKey& k : HfConfigKeys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

bool ReadFor(const HfConfigKey& k, const std::string& family) {
  if (k.families.empty()) return true;
  for (absl::string_view f : absl::StrSplit(k.families, ' ')) {
    if (f == family) return true;
  }
  return false;
}

// Every key transformers 5.17 writes for a family (<Family>Config().to_dict() and the saved
// config.json) is in the table: read for that family, ignored for a reason, or refused unless it
// holds its harmless value.
TEST(HfArchTest, EveryKeyTransformersWritesIsKnown) {
  for (const std::string& family : kFamilies) {
    std::set<std::string> keys;
    const Json written = Load(kOracle + "/" + family + "/transformers_keys.json");
    EXPECT_EQ(*JsonMember(written, "transformers"), "5.17.0");
    for (const Json& key : *JsonMember(written, "keys")) keys.insert(key.get<std::string>());
    const Json config = Load(kOracle + "/" + family + "/config.json");
    for (const auto& [key, value] : config.items()) keys.insert(key);
    EXPECT_GE(keys.size(), 30u) << family;
    const std::string arch = family;  // the families' names are ModelConfig::architecture's
    for (const std::string& key : keys) {
      const HfConfigKey* k = Find(key);
      ASSERT_NE(k, nullptr) << family << ": config key \"" << key << "\" is in no list";
      EXPECT_FALSE(k->why.empty()) << key;
      if (k->use == HfKeyUse::kRead) EXPECT_TRUE(ReadFor(*k, arch)) << family << ": " << key;
    }
  }
}

absl::StatusOr<HfConfig> ParseWith(const std::string& family, const std::string& key,
                                   const Json& value) {
  Json j = Load(kOracle + "/" + family + "/config.json");
  if (value.is_discarded()) {
    j.erase(key);
  } else {
    j[key] = value;
  }
  return ParseHfConfig(j, family + "/config.json");
}

void ExpectRefused(const absl::StatusOr<HfConfig>& c, const std::string& needle) {
  ASSERT_FALSE(c.ok()) << needle;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(needle));
}

// What changes the computation and is not implemented is an error naming it.
TEST(HfArchTest, UnimplementedValuesAreRefusedByName) {
  ExpectRefused(ParseWith("gemma3", "attn_logit_softcapping", 50.0), "attn_logit_softcapping");
  ExpectRefused(ParseWith("gemma3", "use_bidirectional_attention", true),
                "use_bidirectional_attention");
  ExpectRefused(ParseWith("gemma3", "hidden_activation", "gelu"), "hidden_activation \"gelu\"");
  ExpectRefused(ParseWith("gemma3", "layer_types", Json::array({"sliding_attention", "chunked"})),
                "layer_types[1] = chunked is not implemented");
  ExpectRefused(ParseWith("gemma3", "layer_types", Json::array({"full_attention"})),
                "is not a list of 2 layer types");
  ExpectRefused(ParseWith("gemma3", "rope_parameters",
                          {{"full_attention", {{"rope_type", "yarn"}, {"factor", 2.0}}}}),
                "rope_type \"yarn\" is not implemented");
  ExpectRefused(ParseWith("gemma3", "rope_parameters", {{"global", {{"rope_theta", 1.0}}}}),
                "per-layer-type RoPE parameters are read only for Gemma-3");
  ExpectRefused(
      ParseWith("qwen2", "layer_types", Json::array({"full_attention", "sliding_attention"})),
      "no sliding_window");
  ExpectRefused(ParseWith("mistral", "sliding_window", -4), "sliding_window = -4");
  // A key of another family: Gemma's query scale in a Qwen3 config, Qwen's switch in Mistral's.
  ExpectRefused(ParseWith("qwen3", "query_pre_attn_scalar", 64), "not a key of qwen3 configs");
  ExpectRefused(ParseWith("mistral", "use_sliding_window", true), "not a key of mistral configs");
  ExpectRefused(ParseWith("qwen2", "architectures", Json::array({"Phi3ForCausalLM"})),
                "unsupported architecture");
  Json multimodal = Load(kOracle + "/gemma3/config.json");
  multimodal["architectures"] = Json::array({"Gemma3ForConditionalGeneration"});
  multimodal["model_type"] = "gemma3";
  ExpectRefused(ParseHfConfig(multimodal, "config.json"), "multimodal Gemma-3");
}

// transformers' defaults for keys a config leaves out, and the older spellings.
TEST(HfArchTest, DefaultsAndOlderSpellingsFollowTransformers) {
  // Mistral without the key slides over 4096 (MistralConfig's default); null turns it off.
  absl::StatusOr<HfConfig> c =
      ParseWith("mistral", "sliding_window", Json(Json::value_t::discarded));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model.sliding_window, 4096);
  c = ParseWith("mistral", "sliding_window", nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model.sliding_window, 0);
  EXPECT_TRUE(c->model.sliding_layers.empty());
  // Qwen without layer_types: the layers from max_window_layers on slide when use_sliding_window.
  Json qwen = Load(kOracle + "/qwen2/config.json");
  qwen.erase("layer_types");
  qwen["use_sliding_window"] = true;
  qwen["sliding_window"] = 8;
  qwen["max_window_layers"] = 1;
  c = ParseHfConfig(qwen, "qwen2");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model.sliding_layers, (std::vector<uint8_t>{0, 1}));
  EXPECT_EQ(c->model.sliding_window, 8);
  // Gemma-3 as transformers 4 wrote it: rope_theta + rope_scaling for the full layers,
  // rope_local_base_freq for the sliding ones, sliding_window_pattern instead of layer_types.
  Json gemma = Load(kOracle + "/gemma3/config.json");
  gemma.erase("rope_parameters");
  gemma.erase("layer_types");
  gemma.erase("_sliding_window_pattern");
  gemma["rope_theta"] = 1e6;
  gemma["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
  gemma["rope_local_base_freq"] = 1e4;
  gemma["sliding_window_pattern"] = 2;
  c = ParseHfConfig(gemma, "gemma3 v4");
  ASSERT_TRUE(c.ok()) << c.status();
  const absl::StatusOr<HfConfig> v5 = ParseHfConfig(Load(kOracle + "/gemma3/config.json"), "v5");
  ASSERT_TRUE(v5.ok()) << v5.status();
  EXPECT_EQ(c->model.sliding_layers, v5->model.sliding_layers);
  EXPECT_EQ(c->model.rope_theta, v5->model.rope_theta);
  EXPECT_EQ(c->model.rope_freq_factors, v5->model.rope_freq_factors);
  EXPECT_EQ(c->model.sliding_rope_theta, v5->model.sliding_rope_theta);
  EXPECT_EQ(c->model.query_scale, v5->model.query_scale);
}

// Configs in the transformers 4 spelling of released models (Gemma-3 1B, Qwen3 0.6B, Qwen2.5
// 0.5B, Mistral 7B v0.1: sizes and keys as their config.json files have them) parse to the layers
// transformers builds from them.
TEST(HfArchTest, ReleasedConfigsParse) {
  const Json gemma = Json::parse(R"({"architectures": ["Gemma3ForCausalLM"],
      "attention_bias": false, "attention_dropout": 0.0, "attn_logit_softcapping": null,
      "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": [1, 106],
      "final_logit_softcapping": null, "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh",
      "hidden_size": 1152, "initializer_range": 0.02, "intermediate_size": 6912,
      "max_position_embeddings": 32768, "model_type": "gemma3_text", "num_attention_heads": 4,
      "num_hidden_layers": 26, "num_key_value_heads": 1, "pad_token_id": 0,
      "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06, "rope_local_base_freq": 10000,
      "rope_scaling": null, "rope_theta": 1000000, "sliding_window": 512,
      "sliding_window_pattern": 6, "torch_dtype": "bfloat16",
      "transformers_version": "4.50.0.dev0", "use_cache": true, "vocab_size": 262144})");
  absl::StatusOr<HfConfig> c = ParseHfConfig(gemma, "gemma-3-1b");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model.n_sliding_layers(), 22);  // every sixth layer (5, 11, 17, 23) is full
  EXPECT_FALSE(c->model.is_sliding(5));
  EXPECT_TRUE(c->model.is_sliding(24));
  EXPECT_EQ(c->model.sliding_window, 512);
  EXPECT_EQ(c->model.rope_theta, 1e6f);
  EXPECT_EQ(c->model.sliding_rope_theta, 1e4f);
  EXPECT_EQ(c->model.query_scale, 1.0f);  // query_pre_attn_scalar == head_dim
  EXPECT_TRUE(c->tie_word_embeddings);

  const Json qwen3 = Json::parse(R"({"architectures": ["Qwen3ForCausalLM"],
      "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 151643,
      "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024,
      "initializer_range": 0.02, "intermediate_size": 3072, "max_position_embeddings": 40960,
      "max_window_layers": 28, "model_type": "qwen3", "num_attention_heads": 16,
      "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
      "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null,
      "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
      "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
  c = ParseHfConfig(qwen3, "qwen3-0.6b");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model.head_dim, 128);
  EXPECT_EQ(c->model.q_dim(), 2048);  // wider than hidden_size
  EXPECT_TRUE(c->model.qk_norm);
  EXPECT_EQ(c->model.sliding_window, 0);

  const Json qwen25 = Json::parse(R"({"architectures": ["Qwen2ForCausalLM"],
      "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151643,
      "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
      "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 24,
      "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24,
      "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
      "sliding_window": 32768, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
      "transformers_version": "4.40.1", "use_cache": true, "use_sliding_window": false,
      "vocab_size": 151936})");
  c = ParseHfConfig(qwen25, "qwen2.5-0.5b");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model.head_dim, 64);
  EXPECT_TRUE(c->model.attention_bias);
  EXPECT_EQ(c->model.sliding_window, 0);  // use_sliding_window is false

  const Json mistral = Json::parse(R"({"architectures": ["MistralForCausalLM"],
      "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 4096,
      "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 32768,
      "model_type": "mistral", "num_attention_heads": 32, "num_hidden_layers": 32,
      "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
      "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
      "transformers_version": "4.34.0.dev0", "use_cache": true, "vocab_size": 32000})");
  c = ParseHfConfig(mistral, "mistral-7b-v0.1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model.sliding_window, 4096);
  EXPECT_EQ(c->model.n_sliding_layers(), 32);
  EXPECT_EQ(c->model.context_length, 32768);
}

// A tensor the config does not explain is an error, not silently dropped: Qwen2's biases under a
// Llama config (attention_bias absent, so false).
TEST(HfArchTest, TensorsTheConfigDoesNotExplainAreRefused) {
  const std::string dir = FreshTestDir("hf_arch_test_");
  Json config = Load(kOracle + "/qwen2/config.json");
  for (const char* key : {"layer_types", "max_window_layers", "use_sliding_window"})
    config.erase(key);
  config["architectures"] = Json::array({"LlamaForCausalLM"});
  config["model_type"] = "llama";
  WriteBytes(dir + "/config.json", config.dump());
  for (const char* file : {"model.safetensors", "tokenizer.json"}) {
    std::filesystem::create_symlink(kOracle + "/qwen2/" + file, dir + "/" + file);
  }
  absl::StatusOr<std::unique_ptr<Model>> m = LoadHuggingFaceModel(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()),
              HasSubstr("_proj.bias' is not part of the llama decoder"));
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("attention_bias = false"));
}

// Gemma-3's sliding layers have their own RoPE; the one policy that rotates its statistics by a
// single table refuses such a model by name.
TEST(HfArchTest, ExpectedAttentionRefusesPerLayerRope) {
  const std::unique_ptr<Model> m = LoadFamily("gemma3");
  ASSERT_NE(m, nullptr);
  CacheShape shape = CacheShape::ForModel(m->config, m->config.context_length);
  shape.prompt_tokens = 32;
  absl::StatusOr<std::unique_ptr<PolicyCache>> cache =
      MakeCache(PolicySpec("expected_attention", {{"budget", "16"}}), shape);
  ASSERT_FALSE(cache.ok());
  EXPECT_THAT(std::string(cache.status().message()), HasSubstr("own RoPE"));
}

}  // namespace
}  // namespace kvbench
