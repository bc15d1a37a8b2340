// Conformance of every registered policy, walked from PolicyRegistry() so a policy added later is
// checked without extra wiring. On a synthetic model (the claims are invariants and algebraic
// identities, not quality): a 16-token prefill block, then 80 decode tokens. After every step:
// the policy's own bound (max_entries / max_layer_entries) holds, kept positions are strictly
// increasing and lie in the past, stores and cell metadata agree, memory reports what the stores
// hold. Runs are deterministic; a budget covering the whole context gives exactly `full`'s logits.
#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/decoder.h"
#include "model/session.h"
#include "model/synthetic.h"
#include "policies/registry.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

constexpr int kPrefill = 16;
constexpr int kDecode = 80;
constexpr int kContext = kPrefill + kDecode;

bool HasParam(const PolicyInfo& info, const std::string& name) {
  return std::any_of(info.params.begin(), info.params.end(),
                     [&](const ParamSpec& s) { return s.name == name; });
}

// Parameters for budget B that every policy accepts: an observation window (snapkv family) gets
// half the budget so it fits.
ParamMap ParamsFor(const PolicyInfo& info, int budget, const std::string& positions) {
  ParamMap p = {{"positions", positions}};
  if (HasParam(info, "budget")) p["budget"] = std::to_string(budget);
  if (HasParam(info, "window")) p["window"] = std::to_string(std::max(1, budget / 2));
  return p;
}

class Fixture : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    model_ = MakeSyntheticModel(SmallSyntheticConfig(), DType::kF32, 11).value().release();
    tokens_ = new std::vector<int>(RandomTokens(kContext, SmallSyntheticConfig().vocab_size, 12));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete tokens_;
  }

  const PolicyInfo& info() const { return *FindPolicy(GetParam()).value(); }
  CacheShape shape() const { return CacheShape::ForModel(model_->config, kContext); }

  // Runs the prefill block and the decode tokens; returns the last-token logits of every step.
  // With `check`, verifies the invariants after every step.
  std::vector<float> Run(const CacheSpec& spec, bool check) {
    auto cache_or = MakeCache(spec, shape());
    EXPECT_TRUE(cache_or.ok()) << spec.Label() << ": " << cache_or.status();
    if (!cache_or.ok()) return {};
    PolicyCache* cache = cache_or->get();
    Session session(*std::move(cache_or));
    Decoder decoder(*model_);
    const int vocab = model_->config.vocab_size;
    std::vector<float> logits;
    std::vector<float> step(vocab);
    int fed = 0;
    bool saw_bound = false;
    while (fed < kContext) {
      const int n = fed == 0 ? kPrefill : 1;
      Feed(decoder, session, absl::MakeConstSpan(tokens_->data() + fed, n), false, step.data());
      fed += n;
      logits.insert(logits.end(), step.begin(), step.end());
      if (check) saw_bound |= CheckInvariants(*cache, fed, spec.Label());
      if (::testing::Test::HasFatalFailure()) return {};
    }
    // A policy with a budget must promise a bound; the harness reports it.
    if (check && HasParam(info(), "budget")) {
      EXPECT_TRUE(saw_bound) << spec.Label() << " declares no bound";
    }
    return logits;
  }

  // Returns whether the policy declared a bound at this step.
  bool CheckInvariants(const PolicyCache& cache, int n_past, const std::string& label) {
    const CacheShape& s = cache.shape();
    bool bounded = false;
    for (int l = 0; l < s.n_layers; ++l) {
      const int64_t per_head = cache.policy().max_entries(l);
      const int64_t per_layer = cache.policy().max_layer_entries(l);
      bounded |= per_head >= 0 || per_layer >= 0;
      int64_t layer_total = 0;
      uint64_t rows = 0;
      for (int h = 0; h < s.n_kv_heads; ++h) {
        absl::Span<const int32_t> pos = cache.positions(l, h);
        const int n = static_cast<int>(pos.size());
        EXPECT_EQ(cache.k_store().size(l, h), n) << label << " layer " << l << " head " << h;
        EXPECT_EQ(cache.v_store().size(l, h), n) << label << " layer " << l << " head " << h;
        if (per_head >= 0) {
          EXPECT_LE(n, per_head) << label << " layer " << l << " head " << h << " after " << n_past;
        }
        for (int i = 0; i < n; ++i) {
          EXPECT_GE(pos[i], 0) << label;
          EXPECT_LT(pos[i], n_past) << label;
          if (i > 0) {
            EXPECT_LT(pos[i - 1], pos[i])
                << label << " layer " << l << " head " << h << " entry " << i;
          }
        }
        layer_total += n;
        rows += n;
      }
      if (per_layer >= 0) {
        EXPECT_LE(layer_total, per_layer) << label << " layer " << l;
      }
      // f32 stores hold exactly head_dim floats per kept row; the cache adds its metadata.
      const uint64_t f32_bytes = rows * s.head_dim * sizeof(float);
      const KvMemory k = cache.k_store().memory(l), v = cache.v_store().memory(l);
      EXPECT_EQ(k.logical, f32_bytes) << label << " layer " << l;
      EXPECT_EQ(v.logical, f32_bytes) << label << " layer " << l;
      EXPECT_GE(k.allocated, k.logical) << label;
      EXPECT_GE(k.peak, k.allocated) << label;
      const KvMemory m = cache.memory(l);
      EXPECT_GE(m.logical,
                2 * f32_bytes + rows * sizeof(int32_t) + cache.policy().metadata_bytes(l))
          << label;
      EXPECT_GE(m.allocated, m.logical) << label;
      EXPECT_GE(m.peak, m.allocated) << label;
    }
    return bounded;
  }

  static Model* model_;
  static std::vector<int>* tokens_;
};

Model* Fixture::model_ = nullptr;
std::vector<int>* Fixture::tokens_ = nullptr;

using PolicyConformanceTest = Fixture;

TEST_P(PolicyConformanceTest, BoundsOrderAndMemoryHoldAfterEveryStep) {
  for (int budget : {8, 12}) {
    for (const char* positions : {"original", "cache"}) {
      const CacheSpec spec = PolicySpec(GetParam(), ParamsFor(info(), budget, positions));
      SCOPED_TRACE(spec.Label());
      const std::vector<float> logits = Run(spec, /*check=*/true);
      ASSERT_EQ(logits.size(), static_cast<size_t>(1 + kDecode) * model_->config.vocab_size);
      for (float x : logits) ASSERT_TRUE(std::isfinite(x));
    }
  }
}

TEST_P(PolicyConformanceTest, SmallBudgetReallyEvicts) {
  if (!HasParam(info(), "budget")) GTEST_SKIP() << "no budget";
  const CacheSpec spec = PolicySpec(GetParam(), ParamsFor(info(), 8, "original"));
  auto cache = MakeCache(spec, shape()).value();
  PolicyCache* raw = cache.get();
  Session session(std::move(cache));
  Decoder decoder(*model_);
  std::vector<float> logits(model_->config.vocab_size);
  Feed(decoder, session, absl::MakeConstSpan(tokens_->data(), kPrefill), false, logits.data());
  // Every policy compresses the 16-token prompt to its budget of 8 (adakv: per layer on average).
  for (int l = 0; l < raw->shape().n_layers; ++l) {
    int total = 0;
    for (int h = 0; h < raw->shape().n_kv_heads; ++h)
      total += static_cast<int>(raw->positions(l, h).size());
    EXPECT_LT(total, kPrefill * raw->shape().n_kv_heads) << spec.Label() << " layer " << l;
  }
  EXPECT_LT(raw->memory(0).logical, raw->memory(0).peak)
      << "eviction must free rows, not mask them";
}

TEST_P(PolicyConformanceTest, Deterministic) {
  const CacheSpec spec = PolicySpec(GetParam(), ParamsFor(info(), 8, "original"));
  const std::vector<float> a = Run(spec, false);
  const std::vector<float> b = Run(spec, false);
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << spec.Label() << " differs between two runs";
}

TEST_P(PolicyConformanceTest, BudgetCoveringContextEqualsFullExactly) {
  static const std::vector<float>* full = new std::vector<float>(Run(PolicySpec("full"), false));
  for (const char* positions : {"original", "cache"}) {
    const CacheSpec spec = PolicySpec(GetParam(), ParamsFor(info(), kContext, positions));
    auto probe = MakeCache(spec, shape()).value();
    const std::vector<float> got = Run(spec, true);
    ASSERT_EQ(got.size(), full->size());
    if (!probe->retains_entries()) {
      // `none` recomputes the prefix as a block: same math, different float summation order.
      float diff = 0.0f, scale = 0.0f;
      for (size_t i = 0; i < got.size(); ++i) {
        diff = std::max(diff, std::fabs(got[i] - (*full)[i]));
        scale = std::max(scale, std::fabs((*full)[i]));
      }
      EXPECT_LT(diff / scale, 1e-5f) << spec.Label();
      continue;
    }
    for (size_t i = 0; i < got.size(); ++i) {
      // Bitwise: no eviction means the same entries in the same order through the same kernels.
      ASSERT_EQ(got[i], (*full)[i]) << spec.Label() << " logit " << i;
    }
  }
}

std::vector<std::string> RegisteredNames() {
  std::vector<std::string> names;
  for (const PolicyInfo& info : PolicyRegistry()) names.push_back(info.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Registry, PolicyConformanceTest, ::testing::ValuesIn(RegisteredNames()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(PolicyConformance, RegistryIsWellFormed) {
  std::vector<std::string> names = RegisteredNames();
  ASSERT_GE(names.size(), 11u);
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "duplicate name";
  for (const PolicyInfo& info : PolicyRegistry()) {
    EXPECT_FALSE(info.description.empty()) << info.name;
    EXPECT_TRUE(HasParam(info, "positions")) << info.name;
    for (const ParamSpec& s : info.params)
      EXPECT_FALSE(s.help.empty()) << info.name << "." << s.name;
  }
}

}  // namespace
}  // namespace kvbench
