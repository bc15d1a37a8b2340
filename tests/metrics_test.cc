// Divergence math on distributions small enough to compute by hand.
#include "harness/metrics.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace kvbench {
namespace {

TEST(LogSoftmaxTest, MatchesClosedForm) {
  std::vector<double> out;
  LogSoftmax(std::vector<float>{0.0f, std::log(3.0f)}, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NEAR(out[0], std::log(0.25), 1e-7);
  EXPECT_NEAR(out[1], std::log(0.75), 1e-7);
}

TEST(LogSoftmaxTest, StableForLargeLogits) {
  std::vector<double> out;
  LogSoftmax(std::vector<float>{1000.0f, 1000.0f}, &out);
  EXPECT_NEAR(out[0], std::log(0.5), 1e-12);
  EXPECT_NEAR(out[1], std::log(0.5), 1e-12);
}

TEST(ComparePositionTest, HandComputedTwoTokenCase) {
  // P_ref = (1/2, 1/2), P_pol = (3/4, 1/4).
  // KL = 1/2 ln(1/2 / 3/4) + 1/2 ln(1/2 / 1/4) = 1/2 ln(4/3).
  const std::vector<float> ref = {0.0f, 0.0f};
  const std::vector<float> pol = {std::log(3.0f), 0.0f};
  const PositionDivergence d = ComparePosition(ref, pol, /*next_token=*/1);
  EXPECT_NEAR(d.kld, 0.5 * std::log(4.0 / 3.0), 1e-7);
  EXPECT_TRUE(d.top1_agree);  // ref ties resolve to token 0, pol's top is token 0
  EXPECT_NEAR(d.dp, 0.25 - 0.5, 1e-7);
  EXPECT_NEAR(d.logp_ref, std::log(0.5), 1e-7);
  EXPECT_NEAR(d.logp_pol, std::log(0.25), 1e-7);
}

TEST(ComparePositionTest, DisagreeingArgmax) {
  // P_ref = (0.1, 0.9) in logits (0, ln 9); P_pol = (0.9, 0.1).
  const std::vector<float> ref = {0.0f, std::log(9.0f)};
  const std::vector<float> pol = {std::log(9.0f), 0.0f};
  const PositionDivergence d = ComparePosition(ref, pol, 0);
  EXPECT_FALSE(d.top1_agree);
  // KL = 0.1 ln(0.1/0.9) + 0.9 ln(0.9/0.1) = 0.8 ln 9.
  EXPECT_NEAR(d.kld, 0.8 * std::log(9.0), 1e-6);
  EXPECT_NEAR(d.dp, 0.9 - 0.1, 1e-6);
}

TEST(ComparePositionTest, IdenticalDistributionsGiveZero) {
  const std::vector<float> logits = {0.3f, -1.2f, 2.5f, 0.0f, 7.0f};
  const PositionDivergence d = ComparePosition(logits, logits, 2);
  EXPECT_EQ(d.kld, 0.0);
  EXPECT_TRUE(d.top1_agree);
  EXPECT_EQ(d.dp, 0.0);
  EXPECT_EQ(d.logp_ref, d.logp_pol);
}

TEST(PercentileTest, InterpolatesBetweenRanks) {
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(Percentile(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(Percentile(v, 0.5), 2.5);  // rank 1.5
  EXPECT_DOUBLE_EQ(Percentile(v, 0.9), 3.7);  // rank 2.7
  EXPECT_DOUBLE_EQ(Percentile(v, 1.0), 4);
  EXPECT_DOUBLE_EQ(Percentile(std::vector<double>{5}, 0.99), 5);
}

TEST(StandardErrorTest, HandComputed) {
  // mean 2.5, population variance 1.25, se = sqrt(1.25 / 3).
  EXPECT_NEAR(StandardError(std::vector<double>{1, 2, 3, 4}), std::sqrt(1.25 / 3), 1e-12);
  EXPECT_EQ(StandardError(std::vector<double>{7}), 0.0);
  EXPECT_EQ(StandardError(std::vector<double>{}), 0.0);
}

TEST(SummarizeTest, HandComputedPositions) {
  std::vector<PositionDivergence> p(4);
  const double klds[] = {0.4, 0.1, 0.3, 0.2};
  const bool agree[] = {true, true, false, true};
  const double dps[] = {0.1, -0.3, 0.0, 0.2};
  const double lref[] = {-1.0, -2.0, -1.5, -0.5};
  const double lpol[] = {-1.5, -2.0, -2.5, -0.5};
  for (int i = 0; i < 4; ++i) p[i] = {klds[i], agree[i], dps[i], lref[i], lpol[i]};
  const DivergenceSummary s = Summarize(p);
  EXPECT_EQ(s.n, 4);
  EXPECT_NEAR(s.kld_mean, 0.25, 1e-12);
  // population variance of {0.1 .. 0.4} = 0.0125
  EXPECT_NEAR(s.kld_mean_se, std::sqrt(0.0125 / 3), 1e-12);
  EXPECT_NEAR(s.kld_median, 0.25, 1e-12);
  EXPECT_NEAR(s.kld_p90, 0.37, 1e-12);  // rank 2.7 between 0.3 and 0.4
  EXPECT_NEAR(s.kld_max, 0.4, 1e-12);
  EXPECT_NEAR(s.top1_agree, 0.75, 1e-12);
  EXPECT_NEAR(s.top1_agree_se, std::sqrt(0.75 * 0.25 / 3), 1e-12);
  EXPECT_NEAR(s.dp_mean, 0.0, 1e-12);
  EXPECT_NEAR(s.dp_rms, std::sqrt((0.01 + 0.09 + 0 + 0.04) / 4), 1e-12);
  // mean -logp: ref 1.25, pol 1.625
  EXPECT_NEAR(s.ppl_ref, std::exp(1.25), 1e-9);
  EXPECT_NEAR(s.ppl, std::exp(1.625), 1e-9);
  // ratios {0.5, 0, 1.0, 0}: mean 0.375 = ln(ppl / ppl_ref); population variance 0.171875
  EXPECT_NEAR(s.ln_ppl_ratio, 0.375, 1e-12);
  EXPECT_NEAR(s.ln_ppl_ratio, std::log(s.ppl / s.ppl_ref), 1e-12);
  EXPECT_NEAR(s.ln_ppl_ratio_se, std::sqrt(0.171875 / 3), 1e-12);
}

TEST(SummarizeTest, EmptyIsZero) {
  const DivergenceSummary s = Summarize({});
  EXPECT_EQ(s.n, 0);
  EXPECT_EQ(s.kld_mean, 0.0);
}

TEST(CompareGreedyTest, PrefixAndRate) {
  const GreedyMatch m =
      CompareGreedy(std::vector<int>{1, 2, 3, 4, 5}, std::vector<int>{1, 2, 9, 4, 5});
  EXPECT_EQ(m.common_prefix, 2);
  EXPECT_EQ(m.matches, 4);
  EXPECT_EQ(m.n, 5);
  const GreedyMatch same = CompareGreedy(std::vector<int>{7, 8}, std::vector<int>{7, 8});
  EXPECT_EQ(same.common_prefix, 2);
  EXPECT_EQ(same.matches, 2);
}

}  // namespace
}  // namespace kvbench
