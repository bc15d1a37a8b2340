// The keep rules of the presses added from kvpress (random, keydiff, observed_attention,
// expected_attention), on hand-made keys, values, queries and attention: the CachePolicy hooks are
// called directly on a tiny cache shape, as PolicyCache calls them, and the test checks which
// entries stay. The registry-walking conformance suite covers their invariants; the kvpress oracle
// (kvpress_oracle_test.cc) covers their agreement with kvpress on real models.
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/rope.h"
#include "policies/expected_attention.h"
#include "policies/keydiff.h"
#include "policies/lagkv.h"
#include "policies/policy_cache.h"
#include "policies/random.h"
#include "policies/registry.h"

namespace kvbench {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

CacheShape Shape(int heads, int kv_heads, int head_dim, int context = 64) {
  return CacheShape{.n_layers = 1,
                    .n_heads = heads,
                    .n_kv_heads = kv_heads,
                    .head_dim = head_dim,
                    .rope_dims = head_dim,
                    .rope_theta = 10000.0f,
                    .context_tokens = context};
}

std::unique_ptr<CachePolicy> Make(const std::string& name, const ParamMap& given,
                                  const CacheShape& s) {
  const PolicyInfo* info = FindPolicy(name).value();
  auto params = Params::Parse(name, info->params, given);
  EXPECT_TRUE(params.ok()) << params.status();
  auto policy = info->make(*params, s);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

std::vector<int32_t> Iota(int n, int from = 0) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), from);
  return v;
}

// The plan for (layer 0, head), applied as PolicyCache applies it; all entries when it keeps all.
std::vector<int> Keep(CachePolicy& p, int head, const std::vector<int32_t>& positions) {
  std::vector<int> keep;
  if (!p.SelectKeep(0, head, positions, &keep)) {
    keep.resize(positions.size());
    std::iota(keep.begin(), keep.end(), 0);
    return keep;
  }
  p.OnKeep(0, head, keep);
  return keep;
}

TEST(RandomPolicyTest, SameSeedSamePositionsOtherSeedOthers) {
  const CacheShape s = Shape(1, 1, 2, 64);
  const std::vector<float> keys(64 * 2, 1.0f);
  auto kept = [&](const std::string& seed) {
    auto p = Make("random", {{"budget", "16"}, {"seed", seed}}, s);
    p->BeginStep(0, 64);
    p->OnAppend(0, 0, keys.data(), 64, 2);
    return Keep(*p, 0, Iota(64));
  };
  EXPECT_EQ(kept("7"), kept("7"));
  EXPECT_NE(kept("7"), kept("8"));
  EXPECT_EQ(kept("7").size(), 16u);
}

TEST(RandomPolicyTest, BlockAndTokenByTokenKeepTheSame) {
  // Draws depend on (seed, layer, head, position) only, so evicting after every token keeps the
  // same top draws as cutting a 48-token block once.
  const CacheShape s = Shape(1, 1, 2, 48);
  const std::vector<float> keys(48 * 2, 1.0f);
  auto block = Make("random", {{"budget", "12"}, {"seed", "3"}}, s);
  block->BeginStep(0, 48);
  block->OnAppend(0, 0, keys.data(), 48, 2);
  std::vector<int32_t> at_once;
  for (int i : Keep(*block, 0, Iota(48))) at_once.push_back(i);

  auto steps = Make("random", {{"budget", "12"}, {"seed", "3"}}, s);
  std::vector<int32_t> cached;
  for (int t = 0; t < 48; ++t) {
    steps->BeginStep(t, 1);
    steps->OnAppend(0, 0, keys.data(), 1, 2);
    cached.push_back(t);
    std::vector<int32_t> next;
    for (int i : Keep(*steps, 0, cached)) next.push_back(cached[i]);
    cached = next;
  }
  EXPECT_EQ(cached, at_once);
}

TEST(RandomPolicyTest, DrawsAreUniformEnough) {
  // Not a quality claim: a broken hash (all draws equal, or all from one half) fails this.
  double sum = 0.0;
  int low = 0;
  for (int p = 0; p < 4000; ++p) {
    const float u = RandomPolicy::Draw(0, 0, 0, p);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
    low += u < 0.5f;
  }
  EXPECT_NEAR(sum / 4000, 0.5, 0.02);
  EXPECT_NEAR(low, 2000, 120);
}

TEST(KeyDiffPolicyTest, KeepsTheOutlierKey) {
  // Seven keys near +x (of different lengths: the rule reads directions only), one along +y.
  const CacheShape s = Shape(1, 1, 2, 8);
  const std::vector<float> keys = {1, 0.1f, 5, 0, 2, -0.1f, 0.5f, 0.05f,  //
                                   0, 3,    1, 0, 3, 0.2f,  1,    -0.2f};
  auto p = Make("keydiff", {{"budget", "1"}}, s);
  p->OnStoredKeys(0, 0, keys.data(), 8);
  EXPECT_THAT(Keep(*p, 0, Iota(8)), ElementsAre(4));
  // What stays is one score per kept entry (4 bytes), not a copy of the keys.
  EXPECT_EQ(p->metadata_bytes(0), sizeof(float));
}

TEST(KeyDiffPolicyTest, ScoreIsMinusCosineToTheMeanUnitKey) {
  // Unit keys (1, 0), (0, 1), (0.6, 0.8): anchor (1.6, 1.8) / 3.
  const std::vector<float> unit = {1, 0, 0, 1, 0.6f, 0.8f};
  std::vector<float> scores;
  KeyDiffPolicy::Scores(unit.data(), 3, 2, &scores);
  const double ax = 1.6 / 3, ay = 1.8 / 3, an = std::hypot(ax, ay);
  ASSERT_EQ(scores.size(), 3u);
  EXPECT_NEAR(scores[0], -ax / an, 1e-6);
  EXPECT_NEAR(scores[1], -ay / an, 1e-6);
  EXPECT_NEAR(scores[2], -(0.6 * ax + 0.8 * ay) / an, 1e-6);
}

TEST(KeyDiffPolicyTest, DecodeStepsEvictTowardsTheNewAnchor) {
  // Budget 2 over +x, +x, then +y: +y is the outlier and stays; one +x goes (the older wins the
  // tie). Each plan scores the keys the store holds then (OnStoredKeys).
  const CacheShape s = Shape(1, 1, 2, 8);
  auto p = Make("keydiff", {{"budget", "2"}}, s);
  const std::vector<float> xx = {1, 0, 1, 0}, xxy = {1, 0, 1, 0, 0, 1}, xyz = {1, 0, 0, 1, 0, -1};
  p->OnStoredKeys(0, 0, xx.data(), 2);
  EXPECT_THAT(Keep(*p, 0, {0, 1}), ElementsAre(0, 1));
  p->OnStoredKeys(0, 0, xxy.data(), 3);
  EXPECT_THAT(Keep(*p, 0, {0, 1, 2}), ElementsAre(0, 2));
  // Now +x, +y, -y: the anchor is (1, 0) / 3, so -cos(+x) = -1 loses and both y keys stay.
  p->OnStoredKeys(0, 0, xyz.data(), 3);
  EXPECT_THAT(Keep(*p, 0, {0, 2, 3}), ElementsAre(1, 2));
}

// Through PolicyCache: keydiff ranks the K store's rows, keeps no copy of them, and its memory is
// the payload plus one float per kept entry (before issue 16: head_dim floats, 1.5x an f32 K+V
// payload).
TEST(KeyDiffPolicyTest, PlansFromTheStoredKeysAndHoldsOneFloatPerEntry) {
  const CacheShape s = Shape(2, 2, 2, 16);
  CacheSpec spec;
  spec.policy = "keydiff";
  spec.policy_params = {{"budget", "3"}};
  auto cache = MakeCache(spec, s);
  ASSERT_TRUE(cache.ok()) << cache.status();
  PolicyCache& c = **cache;
  // Two KV heads, 6 tokens of head_dim 2: head 0's keys near +x but for one along +y, head 1's
  // the other way round.
  const float k[] = {1, 0.1f,  0, 1,    2, 0,    0, 2, 0, 3, 3, 0,
                     1, -0.1f, 0, 0.5f, 3, 0.2f, 0, 1, 1, 0, 0, 1};
  std::vector<float> v(24, 0.5f);
  c.BeginStep(0, 6);
  c.Append(0, k, v.data());
  c.EndStep();
  // Head 0 keeps its +y key (2) and the two +x keys farthest from the anchor; head 1 its +x key and
  // the two oldest of its equal +y keys.
  EXPECT_THAT(c.positions(0, 0), ElementsAre(1, 2, 3));
  EXPECT_THAT(c.positions(0, 1), ElementsAre(0, 1, 2));
  EXPECT_EQ(c.memory(0).logical - c.memory(0).payload - c.memory(0).index, 2 * 3 * sizeof(float));
}

TEST(ObservedAttentionPolicyTest, AveragesOverTheQueriesThatSawEachEntry) {
  // Three prompt queries (one head): entry 0 gets 1, 0.5, 0.3 (mean 0.6 over 3 queries), entry 1
  // gets 0.5, 0.2 (mean 0.35 over 2), entry 2 gets 0.5 (over 1). Budget 2 keeps 0 and 2; h2o's
  // sums (1.8, 0.7, 0.5) keep 0 and 1.
  const CacheShape s = Shape(1, 1, 2, 8);
  const std::vector<float> probs = {1, 0, 0, 0.5f, 0.5f, 0, 0.3f, 0.2f, 0.5f};
  const std::vector<float> keys(3 * 2, 0.0f);
  for (const std::string& name : {"observed_attention", "h2o"}) {
    ParamMap params = {{"budget", "2"}};
    if (name == "h2o") params["heavy_ratio"] = "1";
    auto p = Make(name, params, s);
    p->BeginStep(0, 3);
    p->OnAppend(0, 0, keys.data(), 3, 2);
    p->OnAttention(0, 0, 0, probs.data(), 3, 3, 3);
    EXPECT_THAT(Keep(*p, 0, Iota(3)), name == "h2o" ? ElementsAre(0, 1) : ElementsAre(0, 2))
        << name;
  }
}

TEST(ObservedAttentionPolicyTest, GroupMeanThenDecodeStepsAddToTheAverage) {
  // Two query heads share the KV head: their probabilities are averaged. Then one decode query.
  const CacheShape s = Shape(2, 1, 2, 8);
  auto p = Make("observed_attention", {{"budget", "2"}}, s);
  const std::vector<float> keys(3 * 2, 0.0f);
  p->BeginStep(0, 2);
  p->OnAppend(0, 0, keys.data(), 2, 2);
  // Token 0: both heads on entry 0. Token 1: head 0 (0.2, 0.8), head 1 (0.6, 0.4).
  const std::vector<float> prefill = {1, 0, 1, 0, 0.2f, 0.8f, 0.6f, 0.4f};
  p->OnAttention(0, 0, 0, prefill.data(), 4, 2, 2);
  EXPECT_THAT(Keep(*p, 0, Iota(2)), ElementsAre(0, 1));  // within budget
  // Means so far: entry 0 (1 + 0.4) / 2 = 0.7, entry 1 0.6 / 1. Token 2 gives (0.1, 0.1, 0.8) in
  // both heads: entry 0 1.5 / 3 = 0.5, entry 1 0.7 / 2 = 0.35, entry 2 0.8 / 1.
  p->BeginStep(2, 1);
  p->OnAppend(0, 0, keys.data(), 1, 2);
  const std::vector<float> decode = {0.1f, 0.1f, 0.8f, 0.1f, 0.1f, 0.8f};
  p->OnAttention(0, 0, 2, decode.data(), 2, 3, 3);
  EXPECT_THAT(Keep(*p, 0, Iota(3)), ElementsAre(0, 2));
}

// Feeds a prompt of n tokens to an expected_attention policy on a one-layer shape: keys and
// values (n, kv_dim), pre-RoPE queries (n, n_heads * head_dim), rotated to their positions here as
// the decoder does.
void FeedPrompt(CachePolicy& p, const CacheShape& s, int n, const std::vector<float>& keys,
                const std::vector<float>& values, std::vector<float> queries) {
  const std::vector<double> freqs = RopeFrequencies(s.rope_dims, s.rope_theta, {});
  std::vector<float> cos(s.rope_dims / 2), sin(s.rope_dims / 2);
  const int q_dim = s.n_heads * s.head_dim;
  for (int t = 0; t < n; ++t) {
    RopeCosSin(t, freqs, cos.data(), sin.data());
    ApplyRope(&queries[static_cast<size_t>(t) * q_dim], s.n_heads, s.head_dim, s.rope_dims,
              cos.data(), sin.data());
  }
  p.BeginStep(0, n);
  for (int h = 0; h < s.n_kv_heads; ++h) {
    p.OnAppend(0, h, keys.data() + h * s.head_dim, n, s.kv_dim());
    if (p.wants_queries()) p.OnValues(0, h, values.data() + h * s.head_dim, n, s.kv_dim());
  }
  ASSERT_TRUE(p.wants_queries());
  p.OnQueries(0, queries.data(), n, q_dim);
}

TEST(ExpectedAttentionPolicyTest, OneFutureQueryIsItsAttention) {
  // Every query is the same pre-RoPE vector q, so mu = q and Sigma = 0; with n_future = 1 the
  // expected attention is exactly the attention q pays at position n (RoPE applied there) to the
  // keys after the sinks. This checks the rotation back, the mean rotation and the pair layout.
  const CacheShape s = Shape(1, 1, 4, 16);
  const int n = 12;
  std::vector<float> keys(n * 4), values(n * 4, 1.0f), queries;
  for (int i = 0; i < n * 4; ++i) keys[i] = std::sin(0.7f * i) * 2.0f;
  const std::vector<float> q = {0.9f, -1.3f, 0.4f, 2.0f};
  for (int t = 0; t < n; ++t) queries.insert(queries.end(), q.begin(), q.end());
  auto p = Make("expected_attention",
                {{"budget", "6"}, {"n_future", "1"}, {"n_sink", "2"}, {"use_vnorm", "false"}}, s);
  FeedPrompt(*p, s, n, keys, values, queries);
  const auto* ea = dynamic_cast<const ExpectedAttentionPolicy*>(p.get());
  ASSERT_NE(ea, nullptr);
  const std::vector<float> got = ea->PromptScores(0, 0);

  std::vector<float> qn = q, cos(2), sin(2);
  RopeCosSin(n, RopeFrequencies(4, 10000.0f, {}), cos.data(), sin.data());
  ApplyRope(qn.data(), 1, 4, 4, cos.data(), sin.data());
  std::vector<double> a(n - 2);
  double total = 0.0;
  for (int j = 2; j < n; ++j) {
    double dot = 0.0;
    for (int d = 0; d < 4; ++d) dot += qn[d] * keys[j * 4 + d];
    total += a[j - 2] = std::exp(dot / 2.0);
  }
  ASSERT_EQ(got.size(), a.size());
  for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(got[j], a[j] / total, 1e-5) << j;

  // The plan: both sinks, then the 4 best of the rest, in order.
  std::vector<int> order(n - 2);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int x, int y) { return a[x] > a[y]; });
  std::vector<int> expected = {0, 1};
  std::vector<int> best(order.begin(), order.begin() + 4);
  std::sort(best.begin(), best.end());
  for (int j : best) expected.push_back(j + 2);
  EXPECT_EQ(Keep(*p, 0, Iota(n)), expected);
}

TEST(ExpectedAttentionPolicyTest, CovarianceTermIsTheGaussianVariance) {
  // Queries +-v around a zero mean (pre-RoPE; Sigma = v v^T) and n_future = 1: the expected
  // logit of key k is (R v . k)^2 / (2 d), R the rotation to position n.
  const CacheShape s = Shape(1, 1, 2, 16);
  const int n = 10;
  std::vector<float> keys(n * 2), values(n * 2, 1.0f), queries;
  for (int i = 0; i < n * 2; ++i) keys[i] = std::cos(1.3f * i) * 3.0f;
  const std::vector<float> v = {0.8f, -0.5f};
  for (int t = 0; t < n; ++t) {
    // The first n_sink = 2 queries are left out: 8 counted, four each way.
    const float sign = t % 2 == 0 ? 1.0f : -1.0f;
    queries.push_back(sign * v[0]);
    queries.push_back(sign * v[1]);
  }
  auto p = Make("expected_attention",
                {{"budget", "5"}, {"n_future", "1"}, {"n_sink", "2"}, {"use_vnorm", "false"}}, s);
  FeedPrompt(*p, s, n, keys, values, queries);
  const std::vector<float> got =
      dynamic_cast<const ExpectedAttentionPolicy*>(p.get())->PromptScores(0, 0);
  std::vector<float> rv = v, cos(1), sin(1);
  RopeCosSin(n, RopeFrequencies(2, 10000.0f, {}), cos.data(), sin.data());
  ApplyRope(rv.data(), 1, 2, 2, cos.data(), sin.data());
  std::vector<double> a;
  double total = 0.0;
  for (int j = 2; j < n; ++j) {
    const double dot = rv[0] * keys[j * 2] + rv[1] * keys[j * 2 + 1];
    a.push_back(std::exp(dot * dot / 4.0));
    total += a.back();
  }
  ASSERT_EQ(got.size(), a.size());
  for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(got[j], a[j] / total, 1e-5) << j;
}

TEST(ExpectedAttentionPolicyTest, ValueNormScalesAndSinksStay) {
  // Equal keys: equal expected attention, so the value norms decide; a zero value is evicted
  // first. The sinks stay however small their values.
  const CacheShape s = Shape(1, 1, 2, 16);
  const int n = 8;
  std::vector<float> keys(n * 2, 1.0f), values(n * 2, 0.0f), queries(n * 2, 0.5f);
  for (int j = 0; j < n; ++j) values[j * 2] = j == 5 ? 0.0f : 1.0f + j;
  auto p = Make("expected_attention", {{"budget", "6"}, {"n_sink", "1"}}, s);
  FeedPrompt(*p, s, n, keys, values, queries);
  // Scored 1..7 with norms 2, 3, 4, 5, 0, 7, 8: the 5 best drop entry 5 and entry 1 (norm 2).
  EXPECT_THAT(Keep(*p, 0, Iota(n)), ElementsAre(0, 2, 3, 4, 6, 7));
  p->EndStep();
  EXPECT_EQ(p->metadata_bytes(0), 0u);  // the prompt's keys and statistics are released
  p->BeginStep(n, 1);                   // one-shot: decode steps keep everything
  EXPECT_FALSE(p->wants_queries());
  EXPECT_THAT(Keep(*p, 0, Iota(7)), ElementsAre(0, 1, 2, 3, 4, 5, 6));
}

TEST(ExpectedAttentionPolicyTest, ParametersAreChecked) {
  const PolicyInfo* info = FindPolicy("expected_attention").value();
  const CacheShape s = Shape(1, 1, 2, 64);
  auto make = [&](const ParamMap& given) {
    return info->make(Params::Parse("p", info->params, given).value(), s).status();
  };
  EXPECT_THAT(make({{"budget", "4"}}).message(), HasSubstr("n_sink"));  // budget holds the sinks
  EXPECT_THAT(make({{"budget", "8"}, {"n_future", "0"}}).message(), HasSubstr("n_future"));
  EXPECT_TRUE(make({{"budget", "8"}}).ok());
}

}  // namespace
}  // namespace kvbench

namespace kvbench {
namespace {

TEST(LagKvPolicyTest, RanksWithinAPartitionAgainstTheNext) {
  // No sinks, lag 4, 9 tokens: partition 0 (tokens 0-3) is scored against partition 1 (4-7),
  // which with the remainder (8) is the tail, scored 1. Values equal keys: the farther a row's
  // channels spread in the next partition's range, the higher its rank.
  const int n = 9;
  std::vector<float> keys = {0.5f, 0.5f, 0, 2, 0.2f, 0.6f, 0, 10,  // partition 0
                             0,    0,    1, 1, 0,    1,    1, 0,  0, 0};
  const std::vector<float> s = LagKvPolicy::Scores(keys.data(), keys.data(), n, 2, 0, 4);
  EXPECT_THAT(s, ElementsAre(0.0f, 0.5f, 0.25f, 0.75f, 1, 1, 1, 1, 1));
}

TEST(LagKvPolicyTest, ShortPromptKeepsSinksAndTheNewest) {
  const CacheShape s = Shape(1, 1, 2, 64);
  auto p = Make("lagkv", {{"budget", "6"}, {"n_sink", "2"}, {"lag", "8"}}, s);
  std::vector<float> rows(12 * 2);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = std::sin(0.3f * i);
  p->BeginStep(0, 12);
  p->OnAppend(0, 0, rows.data(), 12, 2);
  ASSERT_TRUE(p->wants_queries());
  p->OnValues(0, 0, rows.data(), 12, 2);
  EXPECT_THAT(Keep(*p, 0, Iota(12)), ElementsAre(0, 1, 8, 9, 10, 11));  // 12 < 2 + 2 * 8
}

}  // namespace
}  // namespace kvbench

namespace kvbench {
namespace {

// chunkkv (kvpress ChunkKVPress over SnapKVPress) on hand-made window attention: 30 prompt
// tokens, chunks of 5 (6 chunks), window 4, kernel 1 (no pooling), budget 10: floor(6 * 10 / 30)
// = 2 chunks. Head 0's window looks at positions 7 and 8 (0.5 each), head 1's at 12 (1.0) and 13
// (0.2). Summed over heads: chunk [5, 10) scores 1.0 / 5, chunk [10, 15) 1.2 / 5, and the last
// chunk [25, 30) (the window, each token scoring 2 heads x the layer's max 1.0) 8 / 5. Both heads
// keep [10, 15) and [25, 30): head 0 loses its own hits, which snapkv keeps.
TEST(ChunkKvPolicyTest, KeepsTheLayersTopChunksInEveryHead) {
  const CacheShape s = Shape(2, 2, 2, 64);
  const int n = 30, w = 4;
  auto window_attention = [&](CachePolicy& p) {
    p.BeginStep(0, n);
    std::vector<float> probs(static_cast<size_t>(w) * n, 0.0f);
    for (int q = 0; q < w; ++q) probs[q * n + 7] = probs[q * n + 8] = 0.5f;
    p.OnAttention(0, 0, n - w, probs.data(), w, n, n);
    std::fill(probs.begin(), probs.end(), 0.0f);
    for (int q = 0; q < w; ++q) {
      probs[q * n + 12] = 1.0f;
      probs[q * n + 13] = 0.2f;
    }
    p.OnAttention(0, 1, n - w, probs.data(), w, n, n);
  };
  const ParamMap params = {{"budget", "10"}, {"window", "4"}, {"kernel", "1"}, {"chunk", "5"}};
  auto chunkkv = Make("chunkkv", params, s);
  window_attention(*chunkkv);
  const std::vector<int> expected = {10, 11, 12, 13, 14, 25, 26, 27, 28, 29};
  EXPECT_EQ(Keep(*chunkkv, 0, Iota(n)), expected);
  EXPECT_EQ(Keep(*chunkkv, 1, Iota(n)), expected);
  chunkkv->EndStep();
  EXPECT_EQ(chunkkv->max_entries(0), 10);

  auto snapkv = Make("snapkv", {{"budget", "10"}, {"window", "4"}, {"kernel", "1"}}, s);
  window_attention(*snapkv);
  EXPECT_THAT(Keep(*snapkv, 0, Iota(n)), Contains(7));

  // Fewer prompt tokens than a chunk: no complete chunk, snapkv's own selection (kvpress delegates
  // to the scorer press).
  auto short_chunkkv =
      Make("chunkkv", {{"budget", "10"}, {"window", "4"}, {"kernel", "1"}, {"chunk", "64"}}, s);
  window_attention(*short_chunkkv);
  auto short_snapkv = Make("snapkv", {{"budget", "10"}, {"window", "4"}, {"kernel", "1"}}, s);
  window_attention(*short_snapkv);
  for (int h : {0, 1}) EXPECT_EQ(Keep(*short_chunkkv, h, Iota(n)), Keep(*short_snapkv, h, Iota(n)));

  const PolicyInfo* info = FindPolicy("chunkkv").value();
  auto bad = info->make(
      *Params::Parse("chunkkv", info->params, {{"budget", "10"}, {"window", "4"}, {"chunk", "0"}}),
      s);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("'chunk' = 0"));
}

}  // namespace
}  // namespace kvbench
