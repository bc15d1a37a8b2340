// kvb-docs-12M, the evaluation model (../shared/models/kvb-docs-12M, README
// there): its Hugging Face directory (transformers 5.17 config.json with
// rope_parameters, BF16 model.safetensors) against the oracles beside it:
// reference logits within 2e-3, greedy continuation exactly; and the decoder's
// identities on a real GQA model with head_dim 64: cached decoding ==
// recomputation, lockstep == one policy at a time.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/check.h"
#include "formats/json.h"
#include "gtest/gtest.h"
#include "harness/divergence.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "model/ops.h"
#include "model/session.h"
#include "policies/full.h"
#include "policies/none.h"
#include "tests/npy_reader.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

const std::string kDir = std::string(KVBENCH_SHARED_DIR) + "/models/kvb-docs-12M";
const std::string kOracle = std::string(KVBENCH_SHARED_DIR) + "/models/kvb-docs-12M/oracle";

const Model& KvbDocs() {
  static const Model* model = [] {
    auto m = LoadHuggingFaceModel(kDir);
    KVBENCH_CHECK(m.ok(), "%s", std::string(m.status().message()).c_str());
    return m->release();
  }();
  return *model;
}

std::vector<int> IntList(const Json& list) {
  std::vector<int> out;
  for (const Json& v : list) out.push_back(JsonInteger<int>(v).value());
  return out;
}

std::vector<int> Val0Tokens() {
  const Json j = ParseJsonFile(kOracle + "/logits_val0_tokens.json").value();
  return IntList(*JsonMember(j, "tokens"));
}

std::vector<int> GreedyIds() {
  const Json j = ParseJsonFile(kOracle + "/greedy_code.json").value();
  return IntList(*JsonMember(j, "ids"));
}

int Argmax(const float* logits, int n) {
  return static_cast<int>(std::max_element(logits, logits + n) - logits);
}

TEST(KvbDocsTest, HuggingFaceDirectoryLoads) {
  const Model& m = KvbDocs();
  const ModelConfig& c = m.config;
  EXPECT_EQ(m.format, "huggingface");
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.dim, 384);
  EXPECT_EQ(c.n_layers, 6);
  EXPECT_EQ(c.n_heads, 6);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rope_dims, 64);
  EXPECT_EQ(c.hidden_dim, 1024);
  EXPECT_EQ(c.vocab_size, 8192);
  EXPECT_EQ(c.context_length, 4096);
  EXPECT_EQ(c.rope_theta, 10000.0f);  // from rope_parameters
  EXPECT_EQ(c.rope_type, "default");
  EXPECT_TRUE(c.rope_freq_factors.empty());
  EXPECT_FLOAT_EQ(c.rms_eps, 1e-5f);
  // BF16 matrices are used as stored (q/k in owned, row-permuted BF16 copies).
  const ModelWeights& w = m.weights;
  EXPECT_EQ(w.classifier.data, w.token_embedding.data);  // tied
  for (const LayerWeights& l : w.layers) {
    for (const WeightMatrix* x : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      EXPECT_EQ(x->dtype, DType::kBF16);
    }
  }
  EXPECT_EQ(w.token_embedding.dtype, DType::kBF16);
}

TEST(KvbDocsTest, LogitsMatchTheReference) {
  SetNumThreads(2);
  const Model& m = KvbDocs();
  const int vocab = m.config.vocab_size;
  const std::vector<int> tokens = Val0Tokens();
  const Npy want = ReadNpyF32(kOracle + "/logits_val0.npy");
  ASSERT_EQ(want.shape, (std::vector<int64_t>{static_cast<int64_t>(tokens.size()), vocab}));
  Decoder decoder(m);
  auto session = NewF32Session<FullPolicy>(m);
  std::vector<float> got(tokens.size() * vocab);
  Feed(decoder, *session, tokens, /*all_logits=*/true, got.data());
  double max_diff = 0;
  size_t worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - want.values[i]);
    if (d > max_diff) max_diff = d, worst = i;
  }
  std::printf(
      "kvb-docs-12M logits_val0: max |diff| %.3g (position %zu, token "
      "%zu), 64 x 8192\n",
      max_diff, worst / vocab, worst % vocab);
  RecordProperty("max_abs_diff", std::to_string(max_diff));
  EXPECT_LT(max_diff, 2e-3);
}

TEST(KvbDocsTest, GreedyCodeContinuationIsReproduced) {
  SetNumThreads(2);
  const Model& m = KvbDocs();
  const int vocab = m.config.vocab_size;
  const std::vector<int> want = GreedyIds();
  constexpr int kGenerated = 64;
  ASSERT_GT(want.size(), static_cast<size_t>(kGenerated));
  const std::vector<int> prompt(want.begin(), want.end() - kGenerated);
  Decoder decoder(m);
  auto session = NewF32Session<FullPolicy>(m);
  std::vector<float> logits(vocab);
  Feed(decoder, *session, prompt, /*all_logits=*/false, logits.data());
  std::vector<int> got = prompt;
  for (int i = 0; i < kGenerated; ++i) {
    got.push_back(Argmax(logits.data(), vocab));
    Feed(decoder, *session, absl::MakeConstSpan(&got.back(), 1), false, logits.data());
  }
  EXPECT_EQ(got, want);
}

// As tests/decoder_test.cc: cached one-token steps against recomputing the
// whole prefix (32 tokens: recomputation is quadratic).
TEST(KvbDocsTest, CachedDecodingEqualsRecomputation) {
  SetNumThreads(2);
  const Model& m = KvbDocs();
  const int vocab = m.config.vocab_size;
  std::vector<int> tokens = Val0Tokens();
  tokens.resize(32);
  Decoder decoder(m);
  auto full = NewF32Session<FullPolicy>(m);
  auto none = NewF32Session<NonePolicy>(m);
  std::vector<float> a(vocab), b(vocab);
  for (size_t t = 0; t < tokens.size(); ++t) {
    Feed(decoder, *full, absl::MakeConstSpan(&tokens[t], 1), false, a.data());
    Feed(decoder, *none, absl::MakeConstSpan(&tokens[t], 1), false, b.data());
    float diff = 0, scale = 0;
    for (int i = 0; i < vocab; ++i) {
      diff = std::max(diff, std::fabs(a[i] - b[i]));
      scale = std::max(scale, std::fabs(a[i]));
    }
    ASSERT_LT(diff / scale, 1e-5f) << "position " << t;
  }
}

// As tests/runner_test.cc: evaluating policies in lockstep gives each exactly
// what it gives alone.
TEST(KvbDocsTest, LockstepEqualsOneAtATime) {
  SetNumThreads(2);
  Decoder decoder(KvbDocs());
  const std::vector<int> greedy = GreedyIds();  // one vector: both iterators must point into it
  ASSERT_GE(greedy.size(), 64u);
  const std::vector<std::vector<int>> seqs = {
      Val0Tokens(), std::vector<int>(greedy.begin(), greedy.begin() + 64)};
  auto spec = [](std::string policy, ParamMap params, std::string store = "f32") {
    CacheSpec s = PolicySpec(policy, std::move(params));
    s.k_store = s.v_store = std::move(store);
    return s;
  };
  const std::vector<CacheSpec> specs = {spec("window", {{"budget", "16"}}),
                                        spec("sinks", {{"budget", "24"}}),
                                        spec("h2o", {{"budget", "32"}}), spec("full", {}, "q8_0")};
  const DivergenceOptions options{.prompt_tokens = 32, .score_tokens = 32};
  auto lockstep = EvaluateDivergence(decoder, CacheSpec{}, specs, seqs, 64, options);
  ASSERT_TRUE(lockstep.ok()) << lockstep.status();
  for (size_t i = 0; i < specs.size(); ++i) {
    auto alone = EvaluateDivergence(decoder, CacheSpec{}, {specs[i]}, seqs, 64, options);
    ASSERT_TRUE(alone.ok()) << alone.status();
    ASSERT_TRUE(alone->policies[0].ok()) << alone->policies[0].status();
    ASSERT_TRUE(lockstep->policies[i].ok()) << lockstep->policies[i].status();
    const PolicyDivergence &a = *alone->policies[0], &l = *lockstep->policies[i];
    ASSERT_EQ(a.positions.size(), l.positions.size());
    for (size_t p = 0; p < a.positions.size(); ++p) {
      ASSERT_EQ(a.positions[p].kld, l.positions[p].kld) << specs[i].Label() << " position " << p;
      ASSERT_EQ(a.positions[p].logp_pol, l.positions[p].logp_pol) << specs[i].Label();
    }
    EXPECT_EQ(a.greedy_match_len, l.greedy_match_len) << specs[i].Label();
    // The evicting policies really diverge here, so equality is not the trivial
    // 0 == 0.
    if (specs[i].policy != "full") EXPECT_GT(l.summary.kld_mean, 0.0) << specs[i].Label();
  }
}

}  // namespace
}  // namespace kvbench
