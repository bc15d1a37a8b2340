// Oracles on the real trained models in ../shared/models: the published greedy output of
// stories260K, cached decoding == recomputation without a cache, block prefill == token-by-token,
// and the GGUF and llama2.c files of stories260K giving identical logits.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "formats/json.h"
#include "gtest/gtest.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "model/sampler.h"
#include "model/session.h"
#include "policies/full.h"
#include "policies/none.h"
#include "policies/policy_cache.h"
#include "stores/f32_store.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

const std::string kModels = std::string(KVBENCH_SHARED_DIR) + "/models/";

// The first `n` tokens (BOS first) of the TinyStories validation text.
std::vector<int> StoryTokens(const Model& m, int n) {
  std::ifstream in(std::string(KVBENCH_SHARED_DIR) + "/data/tinystories-valid-200.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<int> ids = m.tokenizer->Encode(ss.str().substr(0, 8 * n), /*add_bos=*/true);
  EXPECT_GE(static_cast<int>(ids.size()), n);
  ids.resize(std::min<size_t>(ids.size(), n));
  return ids;
}

float RelMaxDiff(const float* a, const float* b, size_t n) {
  float diff = 0.0f, scale = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(a[i]));
  }
  return diff / scale;
}

TEST(RealModelTest, Stories260KGreedyMatchesPublishedOutput) {
  auto model = LoadModel(kModels + "stories260K/stories260K.gguf");
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  auto golden = ParseJsonFile(std::string(KVBENCH_TESTDATA_DIR) + "/stories260K_greedy200.json");
  ASSERT_TRUE(golden.ok()) << golden.status();
  std::vector<int> want;
  for (const Json& id : *golden) want.push_back(id.get<int>());
  ASSERT_EQ(want.size(), 200u);

  Decoder decoder(m);
  auto session = NewF32Session<FullPolicy>(m);
  std::vector<float> logits(m.config.vocab_size);
  int token = m.tokenizer->bos_id();
  std::vector<int> got;
  for (int i = 0; i < 200; ++i) {
    Feed(decoder, *session, absl::MakeConstSpan(&token, 1), false, logits.data());
    token = ArgMax(logits);
    got.push_back(token);
  }
  EXPECT_EQ(got, want);
  const std::string text = m.tokenizer->Decode(got);
  EXPECT_EQ(
      text.rfind("Once upon a time, there was a little girl named Lily. She loved to play outside "
                 "in the park. One day, she saw a big, red ball.",
                 0),
      0u)
      << text;
}

TEST(RealModelTest, GgufAndLlama2cGiveIdenticalLogits) {
  auto gguf = LoadModel(kModels + "stories260K/stories260K.gguf");
  auto bin = LoadModel(kModels + "stories260K/stories260K.bin");
  ASSERT_TRUE(gguf.ok()) << gguf.status();
  ASSERT_TRUE(bin.ok()) << bin.status();
  const std::vector<int> tokens = StoryTokens(**gguf, 128);
  EXPECT_EQ(tokens, StoryTokens(**bin, 128)) << "the two tokenizers disagree";
  const int vocab = (*gguf)->config.vocab_size;
  std::vector<float> a(tokens.size() * vocab), b(tokens.size() * vocab);
  Decoder da(**gguf), db(**bin);
  Feed(da, *NewF32Session<FullPolicy>(**gguf), tokens, true, a.data());
  Feed(db, *NewF32Session<FullPolicy>(**bin), tokens, true, b.data());
  EXPECT_EQ(a, b);
}

class EveryRealModel : public testing::TestWithParam<std::string> {};

// Cached decoding equals recomputation from scratch without any cache at every position of a
// 256-token sequence (the `none` path re-runs the prefix as one block every step). Tolerance: the
// largest logit difference within 1e-5 of the largest logit (a block's causal attention and a
// single query's may round differently; no policy effect is that small).
TEST_P(EveryRealModel, CachedDecodingEqualsRecomputation) {
  auto model = LoadModel(GetParam());
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  const int n = std::min(256, m.config.context_length);
  const std::vector<int> tokens = StoryTokens(m, n);
  Decoder decoder(m);
  auto cached = NewF32Session<FullPolicy>(m);
  auto recomputed = NewF32Session<NonePolicy>(m);
  const int vocab = m.config.vocab_size;
  std::vector<float> a(vocab), b(vocab);
  for (int t = 0; t < static_cast<int>(tokens.size()); ++t) {
    Feed(decoder, *cached, absl::MakeConstSpan(&tokens[t], 1), false, a.data());
    Feed(decoder, *recomputed, absl::MakeConstSpan(&tokens[t], 1), false, b.data());
    ASSERT_LT(RelMaxDiff(a.data(), b.data(), vocab), 1e-5f) << "position " << t;
  }
}

TEST_P(EveryRealModel, BlockPrefillEqualsTokenByToken) {
  auto model = LoadModel(GetParam());
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  const int n = std::min(256, m.config.context_length);
  const std::vector<int> tokens = StoryTokens(m, n);
  const int vocab = m.config.vocab_size;
  Decoder decoder(m);
  std::vector<float> block(tokens.size() * vocab), one(vocab);
  Feed(decoder, *NewF32Session<FullPolicy>(m), tokens, true, block.data());
  auto step = NewF32Session<FullPolicy>(m);
  for (size_t t = 0; t < tokens.size(); ++t) {
    Feed(decoder, *step, absl::MakeConstSpan(&tokens[t], 1), false, one.data());
    ASSERT_LT(RelMaxDiff(one.data(), &block[t * vocab], vocab), 1e-5f) << "position " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, EveryRealModel,
                         testing::Values(kModels + "stories260K/stories260K.gguf",
                                         kModels + "tinystories656k",
                                         kModels + "aidreams260K/aidreams260K.bin"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           const std::string& p = info.param;
                           if (p.find("stories260K") != std::string::npos)
                             return std::string("stories260K");
                           if (p.find("656k") != std::string::npos)
                             return std::string("tinystories656k");
                           return std::string("aidreams260K");
                         });

}  // namespace
}  // namespace kvbench
