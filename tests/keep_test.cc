// KeepPositions (harness/keep.h), the library behind `kvbench keep`, on a synthetic model: the
// positions a window keeps are the newest, a one-shot policy keeps what it kept at the prompt's end
// plus every decoded token, feeding several caches together (mirrored prompt) keeps what each kept
// alone, scores follow the kept entries, and the JSON has the documented shape.
#include "harness/keep.h"

#include <memory>
#include <string>
#include <vector>

#include "formats/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/synthetic.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class KeepTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = MakeSyntheticModel(SmallSyntheticConfig(), DType::kF32, 11).value().release();
    tokens_ = new std::vector<int>(RandomTokens(40, SmallSyntheticConfig().vocab_size, 5));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete tokens_;
  }
  std::vector<KeptPositions> Keep(const std::vector<CacheSpec>& specs, KeepOptions options = {}) {
    auto kept = KeepPositions(*model_, *tokens_, specs, options);
    EXPECT_TRUE(kept.ok()) << kept.status();
    return kept.ok() ? *std::move(kept) : std::vector<KeptPositions>{};
  }
  static Model* model_;
  static std::vector<int>* tokens_;
};

Model* KeepTest::model_ = nullptr;
std::vector<int>* KeepTest::tokens_ = nullptr;

TEST_F(KeepTest, WindowKeepsTheNewestInEveryHead) {
  const std::vector<KeptPositions> k = Keep({PolicySpec("window", {{"budget", "8"}})});
  ASSERT_EQ(k.size(), 1u);
  EXPECT_EQ(k[0].n_tokens, 40);
  ASSERT_EQ(k[0].kept.size(), static_cast<size_t>(model_->config.n_layers));
  for (const auto& layer : k[0].kept) {
    ASSERT_EQ(layer.size(), static_cast<size_t>(model_->config.n_kv_heads));
    for (const auto& head : layer) EXPECT_THAT(head, ElementsAre(32, 33, 34, 35, 36, 37, 38, 39));
  }
}

TEST_F(KeepTest, OneShotPolicyKeepsTheDecodedTokens) {
  // snapkv compresses the 24-token prompt to 12 (a ratio of the prompt), then keeps the 16
  // decoded tokens.
  const std::vector<KeptPositions> k =
      Keep({PolicySpec("snapkv", {{"budget", "0.5"}, {"window", "4"}})}, {.context_end = 24});
  ASSERT_EQ(k.size(), 1u);
  for (const auto& layer : k[0].kept) {
    for (const auto& head : layer) {
      ASSERT_EQ(head.size(), 12u + 16u);
      for (int i = 0; i < 4 + 16; ++i) EXPECT_EQ(head[8 + i], 20 + i);  // window + decoded
    }
  }
}

TEST_F(KeepTest, TogetherEqualsAlone) {
  const std::vector<CacheSpec> specs = {PolicySpec("h2o", {{"budget", "10"}}),
                                        PolicySpec("tova", {{"budget", "10"}}),
                                        PolicySpec("keydiff", {{"budget", "10"}})};
  for (int context_end : {40, 30}) {
    const std::vector<KeptPositions> together = Keep(specs, {.context_end = context_end});
    ASSERT_EQ(together.size(), 3u);
    for (size_t i = 0; i < specs.size(); ++i) {
      const std::vector<KeptPositions> alone = Keep({specs[i]}, {.context_end = context_end});
      ASSERT_EQ(alone.size(), 1u);
      EXPECT_EQ(together[i].kept, alone[0].kept) << specs[i].Label();
      EXPECT_EQ(together[i].label, specs[i].Label());
    }
  }
  // Different stores cannot share the prompt's rows: fed side by side, the f32 cache still keeps
  // what it keeps alone.
  CacheSpec q8 = specs[0];
  q8.k_store = "q8_0";
  const std::vector<KeptPositions> mixed = Keep({specs[0], q8});
  ASSERT_EQ(mixed.size(), 2u);
  EXPECT_EQ(mixed[0].kept, Keep({specs[0]})[0].kept);
}

TEST_F(KeepTest, ScoresFollowTheKeptEntries) {
  const std::vector<KeptPositions> k =
      Keep({PolicySpec("h2o", {{"budget", "10"}, {"heavy_ratio", "1"}}),
            PolicySpec("window", {{"budget", "8"}})},
           {.scores = true});
  ASSERT_EQ(k.size(), 2u);
  ASSERT_EQ(k[0].scores.size(), k[0].kept.size());
  for (size_t l = 0; l < k[0].kept.size(); ++l) {
    for (size_t h = 0; h < k[0].kept[l].size(); ++h) {
      ASSERT_EQ(k[0].scores[l][h].size(), k[0].kept[l][h].size());
      for (float s : k[0].scores[l][h]) EXPECT_GT(s, 0.0f);  // attention received
    }
  }
  EXPECT_TRUE(k[1].scores.empty());  // a window ranks nothing
  EXPECT_THAT(KeptJson(k[1], true), HasSubstr("\"scores\":null"));
}

TEST_F(KeepTest, JsonHasTheDocumentedShape) {
  const std::vector<KeptPositions> k = Keep({PolicySpec("window", {{"budget", "2"}})});
  ASSERT_EQ(k.size(), 1u);
  const Json j = ParseJson(KeptJson(k[0], false)).value();
  EXPECT_EQ(JsonInteger<int>(*JsonMember(j, "n_tokens")).value(), 40);
  const Json& kept = *JsonMember(j, "kept");
  ASSERT_EQ(kept.size(), static_cast<size_t>(model_->config.n_layers));
  EXPECT_EQ(kept[0].size(), static_cast<size_t>(model_->config.n_kv_heads));
  EXPECT_EQ(kept[0][0].dump(), "[38,39]");
  EXPECT_THAT(JsonMember(j, "policy")->get<std::string>(), HasSubstr("window(budget=2"));
}

TEST_F(KeepTest, BadInputsAreNamed) {
  auto bad_end = KeepPositions(*model_, *tokens_, {PolicySpec("full")}, {.context_end = 41});
  EXPECT_EQ(bad_end.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_end.status().message(), HasSubstr("context end 41"));
  auto none = KeepPositions(*model_, {}, {PolicySpec("full")});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  // One token (BOS alone, what an empty text gives): nothing to keep or evict, for any policy.
  const std::vector<int> bos_only = {1};
  for (const char* policy : {"full", "window", "snapkv"}) {
    auto one = KeepPositions(*model_, bos_only, {PolicySpec(policy)});
    EXPECT_EQ(one.status().code(), absl::StatusCode::kInvalidArgument) << policy;
    EXPECT_THAT(one.status().message(), HasSubstr("a context of 1 token holds nothing")) << policy;
  }
  auto bad_spec = KeepPositions(*model_, *tokens_, {PolicySpec("snapkv", {{"budget", "1.0"}})});
  EXPECT_EQ(bad_spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_spec.status().message(), HasSubstr("snapkv"));
  std::vector<int> long_tokens(model_->config.context_length + 1, 1);
  EXPECT_EQ(KeepPositions(*model_, long_tokens, {PolicySpec("full")}).status().code(),
            absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace kvbench
