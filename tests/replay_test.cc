// Trace-driven replay (sim/replay.h) and its honesty check (sim/validate.h): decisions equal those
// of real PolicyCache runs where the attention is the same, recall against a hand-computed oracle,
// screening speed, and the rank correlation of simulated recall with measured KL on stories260K.
#include "sim/replay.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/experiment.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "model/session.h"
#include "sim/recorder.h"
#include "sim/validate.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;
using Kept =
    std::map<std::tuple<int, int, int, int>, std::vector<int32_t>>;  // (seq, step_end, layer, head)

class ReplayTest : public ::testing::Test {
 protected:
  static constexpr int kPrompt = 32, kScore = 24;
  static void SetUpTestSuite() {
    auto m = LoadModel("stories260K");
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = m->release();
    decoder_ = new Decoder(*model_);
    sequences_ = new std::vector<std::vector<int>>(
        PatternSequences(2, kPrompt + kScore, model_->config.vocab_size));
    auto t = RecordTrace(
        *decoder_, *sequences_,
        {.prompt_tokens = kPrompt, .score_tokens = kScore, .prob_format = ProbFormat::kF32});
    ASSERT_TRUE(t.ok()) << t.status();
    trace_ = new Trace(*std::move(t));
  }
  // Kept positions of a real run of `spec`, after every step.
  static Kept RealKept(const CacheSpec& spec) {
    Kept out;
    const ModelConfig& c = model_->config;
    for (size_t s = 0; s < sequences_->size(); ++s) {
      auto cache = MakeCache(spec, CacheShape::ForModel(c, kPrompt + kScore));
      EXPECT_TRUE(cache.ok()) << cache.status();
      PolicyCache* pc = cache->get();
      Session session(*std::move(cache));
      std::vector<float> logits(c.vocab_size);
      const std::vector<int>& tok = (*sequences_)[s];
      for (int pos = 0; pos < kPrompt + kScore - 1;) {
        const int n = pos == 0 ? kPrompt : 1;
        Feed(*decoder_, session, absl::MakeConstSpan(&tok[pos], n), false, logits.data());
        pos += n;
        for (int l = 0; l < c.n_layers; ++l) {
          for (int h = 0; h < c.n_kv_heads; ++h) {
            auto p = pc->positions(l, h);
            out[{static_cast<int>(s), pos, l, h}] = std::vector<int32_t>(p.begin(), p.end());
          }
        }
      }
    }
    return out;
  }
  static Kept ReplayKept(const CacheSpec& spec) {
    Kept out;
    ReplayOptions o;
    o.on_keep = [&](int s, int end, int l, int h, absl::Span<const int32_t> kept) {
      out[{s, end, l, h}] = std::vector<int32_t>(kept.begin(), kept.end());
    };
    auto r = ReplayPolicy(*trace_, spec, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return out;
  }
  static Model* model_;
  static Decoder* decoder_;
  static std::vector<std::vector<int>>* sequences_;
  static Trace* trace_;
};
Model* ReplayTest::model_ = nullptr;
Decoder* ReplayTest::decoder_ = nullptr;
std::vector<std::vector<int>>* ReplayTest::sequences_ = nullptr;
Trace* ReplayTest::trace_ = nullptr;

// Policies whose decisions do not depend on attention keep exactly what a real run keeps, at every
// step and layer (knorm: in layer 0, whose keys no eviction can change; everywhere after prefill).
TEST_F(ReplayTest, AttentionFreePoliciesKeepWhatRealRunsKeep) {
  for (const CacheSpec& spec :
       {PolicySpec("window", {{"budget", "12"}}), PolicySpec("sinks", {{"budget", "12"}}),
        // Evicting at every step (its default is kvpress's once) so that every step is compared.
        PolicySpec("knorm", {{"budget", "12"}, {"when", "every_step"}})}) {
    SCOPED_TRACE(spec.Label());
    const Kept real = RealKept(spec), sim = ReplayKept(spec);
    ASSERT_EQ(real.size(), sim.size());
    int compared = 0;
    for (const auto& [key, positions] : real) {
      const auto& [s, end, layer, head] = key;
      if (spec.policy == "knorm" && layer > 0 && end > kPrompt) continue;
      ASSERT_EQ(sim.at(key), positions) << "seq " << s << " step end " << end << " layer " << layer;
      ++compared;
    }
    EXPECT_GT(compared, 100);
  }
}

// After the prefill step every layer of a real run has attended with the full cache, so the
// score-based policies see the recorded attention exactly: same kept sets (h2o, tova and
// scissorhands bit for bit; snapkv and pyramidkv sum per query head in a real run, so up to ties).
TEST_F(ReplayTest, ScoreBasedPoliciesKeepWhatRealRunsKeepAfterPrefill) {
  for (const CacheSpec& spec : {PolicySpec("h2o", {{"budget", "12"}}),
                                PolicySpec("h2o", {{"budget", "12"}, {"aggregate", "max"}}),
                                PolicySpec("tova", {{"budget", "12"}}),
                                PolicySpec("tova", {{"budget", "12"}, {"scope", "head"}}),
                                PolicySpec("scissorhands", {{"budget", "12"}, {"history", "8"}}),
                                PolicySpec("snapkv", {{"budget", "16"}, {"window", "4"}}),
                                PolicySpec("pyramidkv", {{"budget", "16"}, {"window", "4"}}),
                                PolicySpec("adakv", {{"budget", "16"}, {"window", "4"}})}) {
    SCOPED_TRACE(spec.Label());
    const Kept real = RealKept(spec), sim = ReplayKept(spec);
    size_t same = 0, total = 0;
    for (const auto& [key, positions] : real) {
      if (std::get<1>(key) != kPrompt) continue;
      const std::vector<int32_t>& mine = sim.at(key);
      ASSERT_EQ(mine.size(), positions.size());
      std::set<int32_t> a(positions.begin(), positions.end());
      for (int32_t p : mine) same += a.count(p);
      total += positions.size();
      const bool exact =
          spec.policy == "h2o" || spec.policy == "tova" || spec.policy == "scissorhands";
      if (exact)
        ASSERT_EQ(mine, positions) << "layer " << std::get<2>(key) << " head " << std::get<3>(key);
    }
    EXPECT_GE(static_cast<double>(same), 0.98 * total);
  }
}

// Recall oracle: for a window of W, the kept entries at query q are positions q-W+1 .. q (the
// window is cut at every step end, and the new token joins before attention: W + 1 entries).
TEST_F(ReplayTest, WindowRecallMatchesHandComputation) {
  const int W = 10;
  auto r = ReplayPolicy(*trace_, PolicySpec("window", {{"budget", absl::StrCat(W)}}));
  ASSERT_TRUE(r.ok()) << r.status();
  const TraceHeader& h = trace_->header();
  std::vector<double> expected;
  for (int s = 0; s < h.n_sequences; ++s) {
    for (int q = kPrompt; q < h.query_positions(); ++q) {
      for (int l = 0; l < h.n_layers; ++l) {
        for (int hd = 0; hd < h.n_kv_heads; ++hd) {
          const float* m = trace_->Mean(s, q, l, hd);
          double kept = 0, all = 0;
          for (int j = 0; j <= q; ++j) {
            all += m[j];
            if (j >= q - W) kept += m[j];  // W survivors of the last step plus the new token q
          }
          expected.push_back(kept / all);
        }
      }
    }
  }
  double mean = 0;
  for (double e : expected) mean += e;
  mean /= expected.size();
  EXPECT_EQ(r->recall.n, static_cast<int64_t>(expected.size()));
  EXPECT_NEAR(r->recall.mean, mean, 1e-9);
  std::sort(expected.begin(), expected.end());
  EXPECT_NEAR(r->recall.min, expected.front(), 1e-9);
  EXPECT_LT(r->recall.mean, 1.0);
  EXPECT_DOUBLE_EQ(r->entries_mean, W);
  // f32 K and V: 2 * 4 bytes * head_dim 8 * W entries * 5 layers * 4 KV heads.
  EXPECT_DOUBLE_EQ(r->kv_bytes_mean, 2.0 * 4 * 8 * W * 5 * 4);

  auto full = ReplayPolicy(*trace_, PolicySpec("full", {}));
  ASSERT_TRUE(full.ok());
  EXPECT_NEAR(full->recall.min, 1.0, 1e-9);
  EXPECT_TRUE(full->approximation.empty());
}

TEST_F(ReplayTest, ErrorsNameTheProblem) {
  EXPECT_THAT(ReplayPolicy(*trace_, PolicySpec("none", {})).status().message(), HasSubstr("none"));
  // keydiff ranks key directions; a trace records norms only (it used to replay on 1-value keys).
  EXPECT_THAT(ReplayPolicy(*trace_, PolicySpec("keydiff", {{"budget", "12"}})).status().message(),
              HasSubstr("a trace records only their norms"));
  EXPECT_EQ(ReplayPolicy(*trace_, PolicySpec("lru", {})).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(ReplayPolicy(*trace_, PolicySpec("h2o", {{"budget", "12"}, {"heavy", "3"}}))
                  .status()
                  .message(),
              HasSubstr("heavy"));
  CacheSpec bad_store = PolicySpec("window", {{"budget", "8"}});
  bad_store.k_store = "q3";
  EXPECT_THAT(ReplayPolicy(*trace_, bad_store).status().message(), HasSubstr("k_store"));
  // A failed spec in a sweep is one failed result, the others run.
  auto all = ReplayAll(
      *trace_, {PolicySpec("window", {{"budget", "8"}}), PolicySpec("sinks", {{"budget", "0"}})},
      2);
  EXPECT_TRUE(all[0].ok());
  EXPECT_FALSE(all[1].ok());
}

TEST(PolicySweepTest, ExpandsListsRangesAndProducts) {
  auto s = ParsePolicySweep("window:budget=16,32;h2o:budget=8..32*2,heavy_ratio=0.25,0.5;full",
                            "q8_0", "kivi(bits=4)");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 2u + 3 * 2 + 1);
  EXPECT_EQ((*s)[0].policy_params.at("budget"), "16");
  EXPECT_EQ((*s)[2].policy, "h2o");
  EXPECT_EQ((*s)[2].policy_params.at("budget"), "8");
  EXPECT_EQ((*s)[2].policy_params.at("heavy_ratio"), "0.25");
  EXPECT_EQ((*s)[3].policy_params.at("heavy_ratio"), "0.5");
  EXPECT_EQ((*s)[7].policy_params.at("budget"), "32");
  EXPECT_EQ((*s)[8].policy, "full");
  EXPECT_EQ((*s)[8].k_store, "q8_0");
  EXPECT_EQ((*s)[8].v_params.at("bits"), "4");
  auto r = ParsePolicySweep("sinks:budget=4..40+4", "f32", "f32");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 10u);
  EXPECT_THAT(ParsePolicySweep("h2o:32", "f32", "f32").status().message(),
              HasSubstr("before any parameter"));
  EXPECT_THAT(ParsePolicySweep("h2o:budget=8..32", "f32", "f32").status().message(),
              HasSubstr("needs a step"));
  EXPECT_THAT(ParsePolicySweep("h2o:budget=32..8+1", "f32", "f32").status().message(),
              HasSubstr("empty"));
  EXPECT_THAT(ParsePolicySweep(" ; ", "f32", "f32").status().message(), HasSubstr("empty"));
  EXPECT_FALSE(ParsePolicySweep("h2o:budget=8", "kivi(bits=4", "f32").ok());
}

TEST(SpearmanTest, RanksWithTies) {
  EXPECT_DOUBLE_EQ(
      SpearmanRho(std::vector<double>{1, 2, 3, 4}, std::vector<double>{10, 20, 30, 400}), 1.0);
  EXPECT_DOUBLE_EQ(SpearmanRho(std::vector<double>{1, 2, 3, 4}, std::vector<double>{4, 3, 2, 1}),
                   -1.0);
  // Ties share the average rank: x ranks (1.5, 1.5, 3), y ranks (1, 2, 3): rho = 0.866.
  EXPECT_NEAR(SpearmanRho(std::vector<double>{5, 5, 7}, std::vector<double>{1, 2, 3}),
              std::sqrt(3.0) / 2, 1e-12);
  EXPECT_TRUE(std::isnan(SpearmanRho(std::vector<double>{1, 1}, std::vector<double>{1, 2})));
  EXPECT_TRUE(std::isnan(SpearmanRho(std::vector<double>{1}, std::vector<double>{1})));
}

// The honesty check: simulated recall must rank the sweep like the KL divergence measured by real
// runs (teacher forcing against full), i.e. a strongly negative Spearman correlation.
TEST(ReplayValidationTest, SimulatedRecallRanksLikeMeasuredKl) {
  const std::string yaml = R"(
name: replay_validation
model: stories260K
threads: 2
dataset:
  path: ../shared/data/tinystories-valid-200.txt
  separator: "<|endoftext|>"
context_tokens: 192
prompt_tokens: 96
max_sequences: 4
policies:
  - name: [window, sinks, h2o, tova, scissorhands, knorm]
    budget: [16, 32, 48, 64]
  - name: [snapkv, pyramidkv]
    budget: [40, 64]
)";
  auto e = ParseExperiment(yaml, "replay_validation.yaml", "replay_validation");
  ASSERT_TRUE(e.ok()) << e.status();
  auto m = LoadModel(e->model);
  ASSERT_TRUE(m.ok()) << m.status();
  auto seqs = ExperimentSequences(*e, **m);
  ASSERT_TRUE(seqs.ok()) << seqs.status();
  Decoder decoder(**m);
  auto report = ValidateReplay(decoder, *e, *seqs, stdout);
  ASSERT_TRUE(report.ok()) << report.status();
  std::fputs(ValidationTable(*report).c_str(), stdout);
  EXPECT_TRUE(report->failed.empty());
  EXPECT_EQ(report->points.size(), 28u);
  EXPECT_LT(report->rho_mean_recall_kld, -0.7);
}

}  // namespace
}  // namespace kvbench
