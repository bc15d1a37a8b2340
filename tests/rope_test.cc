// RoPE frequencies (model/rope.h): plain RoPE unchanged by the factor table, Llama 3.1 scaling
// against transformers' algorithm written out in its own form (frequencies, not divisors), and the
// identity positions=cache relies on: a key rotated at p and then by d equals the key rotated at
// p + d, with scaled frequencies too.
#include "model/rope.h"

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace kvbench {
namespace {

TEST(RopeTest, WithoutFactorsFrequenciesArePowersOfTheta) {
  const std::vector<double> f = RopeFrequencies(64, 10000.0f, {});
  ASSERT_EQ(f.size(), 32u);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(f[i], std::pow(10000.0, -2.0 * i / 64)) << i;
}

TEST(RopeTest, FactorsDivideEachPairsFrequency) {
  const std::vector<float> factors = {1.0f, 2.0f, 4.0f, 8.0f};
  const std::vector<double> plain = RopeFrequencies(8, 500000.0f, {});
  const std::vector<double> scaled = RopeFrequencies(8, 500000.0f, factors);
  for (int i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(scaled[i], plain[i] / factors[i]) << i;
}

// transformers' _compute_llama3_parameters, on frequencies: keep where the wavelength is short,
// divide by factor where it is long, blend (1 - s) f / factor + s f in between.
std::vector<double> TransformersLlama3(int dim, double theta, double factor, double low,
                                       double high, double old_context) {
  std::vector<double> out;
  for (int i = 0; i < dim; i += 2) {
    const double inv_freq = 1.0 / std::pow(theta, static_cast<double>(i) / dim);
    const double wavelen = 2 * std::numbers::pi / inv_freq;
    double f = wavelen > old_context / low ? inv_freq / factor : inv_freq;
    const double smooth = (old_context / wavelen - low) / (high - low);
    const bool medium = !(wavelen < old_context / high) && !(wavelen > old_context / low);
    if (medium) f = (1 - smooth) * f / factor + smooth * f;
    out.push_back(f);
  }
  return out;
}

TEST(RopeTest, Llama3ScalingMatchesTransformers) {
  // Llama-3.1-8B's rope_scaling, and the tiny oracle model's (tests/data/hf_llama3_rope).
  struct Case {
    int dim;
    float theta;
    Llama3RopeScaling s;
  };
  for (const Case& c :
       {Case{128, 500000.0f, {8.0, 1.0, 4.0, 8192}}, Case{16, 10000.0f, {8.0, 1.0, 4.0, 64}}}) {
    const std::vector<float> factors = Llama3RopeFactors(c.dim, c.theta, c.s);
    const std::vector<double> got = RopeFrequencies(c.dim, c.theta, factors);
    const std::vector<double> want =
        TransformersLlama3(c.dim, c.theta, c.s.factor, c.s.low_freq_factor, c.s.high_freq_factor,
                           c.s.original_context);
    ASSERT_EQ(got.size(), want.size());
    int kept = 0, divided = 0, blended = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      // The factors are stored as f32: 1e-7 relative.
      EXPECT_NEAR(got[i] / want[i], 1.0, 1e-7) << "dim " << c.dim << " pair " << i;
      kept += factors[i] == 1.0f;
      divided += factors[i] == static_cast<float>(c.s.factor);
      blended += factors[i] > 1.0f && factors[i] < c.s.factor;
    }
    // Every band is exercised, so the test can tell the three rules apart.
    EXPECT_GT(kept, 0);
    EXPECT_GT(divided, 0);
    EXPECT_GT(blended, 0);
  }
}

TEST(RopeTest, RotatingByADeltaEqualsRotatingAtTheNewPosition) {
  constexpr int kHeadDim = 16, kPairs = kHeadDim / 2;
  const std::vector<double> freqs = RopeFrequencies(
      kHeadDim, 10000.0f, Llama3RopeFactors(kHeadDim, 10000.0f, {8.0, 1.0, 4.0, 64}));
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> key(kHeadDim);
  for (float& x : key) x = normal(rng);
  for (const auto& [pos, delta] : {std::pair{300, -250}, std::pair{1000, -999}, {7, 5}}) {
    std::vector<float> cos(kPairs), sin(kPairs);
    std::vector<float> moved = key, direct = key;
    RopeCosSin(pos, freqs, cos.data(), sin.data());
    ApplyRope(moved.data(), 1, kHeadDim, kHeadDim, cos.data(), sin.data());
    RopeCosSin(delta, freqs, cos.data(), sin.data());
    ApplyRope(moved.data(), 1, kHeadDim, kHeadDim, cos.data(), sin.data());
    RopeCosSin(pos + delta, freqs, cos.data(), sin.data());
    ApplyRope(direct.data(), 1, kHeadDim, kHeadDim, cos.data(), sin.data());
    // Two f32 rotations against one: a few ulps of the key's scale.
    for (int i = 0; i < kHeadDim; ++i) EXPECT_NEAR(moved[i], direct[i], 1e-5f) << pos << " " << i;
  }
}

}  // namespace
}  // namespace kvbench
