// Conformance of every registered policy, walked from PolicyRegistry() so a policy added later is
// checked without extra wiring, on each store of a matrix (f32, q4_0, and KIVI with groups small
// enough to quantize keys and values inside the run). On a synthetic model (the claims are
// invariants and algebraic identities, not quality): a 16-token prefill block, then 80 decode
// tokens. After every step: the cache's bound (the policy's max_entries / max_layer_entries, plus
// what its `when` schedule let through since it last acted) holds, kept
// positions are strictly increasing and lie in the past, stores and cell metadata agree, memory
// reports what the stores hold. Runs are deterministic; a budget covering the whole context gives
// exactly `full`'s logits on the same store.
//
// PolicyCache::Attend against a naive scalar attention (llama2.c's run.c loop, written out below)
// over what the stores hold (KvStore::Read: each store's dequantized rows) and the positions kept,
// on every store of the matrix, through prefill blocks, decode steps and eviction.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "model/decoder.h"
#include "model/session.h"
#include "model/synthetic.h"
#include "policies/registry.h"
#include "policies/spec_text.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

constexpr int kPrefill = 16;
constexpr int kDecode = 80;
constexpr int kContext = kPrefill + kDecode;

// The store matrix: K and V in the same format. KIVI at G = 4, R = 8 quantizes 16 keys and 8
// values of the 16-token prefill, and more at every 8th decode step.
const std::vector<std::string> kStores = {"f32", "q4_0", "kivi(bits=4,group=4,residual=8)"};

// `spec` with K and V in `store` (a spec text, kStores).
CacheSpec WithStore(CacheSpec spec, const std::string& store) {
  const auto [name, params] = ParseNamedParams(store).value();
  spec.k_store = spec.v_store = name;
  spec.k_params = spec.v_params = params;
  return spec;
}

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

// (policy name, store spec).
class Fixture : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  static void SetUpTestSuite() {
    model_ = MakeSyntheticModel(SmallSyntheticConfig(), DType::kF32, 11).value().release();
    tokens_ = new std::vector<int>(RandomTokens(kContext, SmallSyntheticConfig().vocab_size, 12));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete tokens_;
  }

  const std::string& policy() const { return std::get<0>(GetParam()); }
  const std::string& store() const { return std::get<1>(GetParam()); }
  const PolicyInfo& info() const { return *FindPolicy(policy()).value(); }
  // The policy with these parameters on the fixture's store.
  CacheSpec Spec(const std::string& name, ParamMap params) const {
    return WithStore(PolicySpec(name, std::move(params)), store());
  }
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
      const int64_t per_head = cache.max_entries(l);
      const int64_t per_layer = cache.max_layer_entries(l);
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
      const KvMemory k = cache.k_store().memory(l), v = cache.v_store().memory(l);
      if (store() == "f32") {
        // f32 stores hold exactly head_dim floats per kept row; the cache adds its metadata.
        const uint64_t f32_bytes = rows * s.head_dim * sizeof(float);
        EXPECT_EQ(k.logical, f32_bytes) << label << " layer " << l;
        EXPECT_EQ(v.logical, f32_bytes) << label << " layer " << l;
      }
      EXPECT_EQ(k.logical == 0, rows == 0) << label << " layer " << l;
      EXPECT_GE(k.allocated, k.logical) << label;
      EXPECT_GE(k.peak, k.allocated) << label;
      const KvMemory m = cache.memory(l);
      EXPECT_GE(m.logical,
                k.logical + v.logical + rows * sizeof(int32_t) + cache.policy().metadata_bytes(l))
          << label;
      EXPECT_GE(m.allocated, m.logical) << label;
      EXPECT_GE(m.peak, m.allocated) << label;
      // The split the CSV reports: the stores' payload, the positions, the policy's state.
      EXPECT_EQ(m.payload, k.logical + v.logical) << label;
      EXPECT_EQ(m.entries, rows) << label;
      EXPECT_GE(m.index, rows * sizeof(int32_t)) << label;
      EXPECT_EQ(m.logical, m.payload + m.index + cache.policy().metadata_bytes(l)) << label;
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
      const CacheSpec spec = Spec(policy(), ParamsFor(info(), budget, positions));
      SCOPED_TRACE(spec.Label());
      const std::vector<float> logits = Run(spec, /*check=*/true);
      ASSERT_EQ(logits.size(), static_cast<size_t>(1 + kDecode) * model_->config.vocab_size);
      for (float x : logits) ASSERT_TRUE(std::isfinite(x));
    }
  }
}

TEST_P(PolicyConformanceTest, SmallBudgetReallyEvicts) {
  if (!HasParam(info(), "budget")) GTEST_SKIP() << "no budget";
  const CacheSpec spec = Spec(policy(), ParamsFor(info(), 8, "original"));
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
  const CacheSpec spec = Spec(policy(), ParamsFor(info(), 8, "original"));
  const std::vector<float> a = Run(spec, false);
  const std::vector<float> b = Run(spec, false);
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << spec.Label() << " differs between two runs";
}

TEST_P(PolicyConformanceTest, BudgetCoveringContextEqualsFullExactly) {
  // `full` on each store, computed once.
  static auto* fulls = new std::map<std::string, std::vector<float>>();
  if (!fulls->contains(store())) (*fulls)[store()] = Run(Spec("full", {}), false);
  const std::vector<float>* full = &fulls->at(store());
  for (const char* positions : {"original", "cache"}) {
    const CacheSpec spec = Spec(policy(), ParamsFor(info(), kContext, positions));
    auto probe = MakeCache(spec, shape()).value();
    const std::vector<float> got = Run(spec, true);
    ASSERT_EQ(got.size(), full->size());
    if (!probe->retains_entries()) {
      // KIVI quantizes as each block is appended, before it attends: a recomputed prefix's early
      // queries see keys quantized that the incremental run saw in f32 (docs/prefix_cache.md).
      if (spec.k_store == "kivi") continue;
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

// "kivi(bits=4,group=4,residual=8)" -> "kivi_bits4_group4_residual8", a gtest name.
std::string StoreTestName(const std::string& store) {
  std::string out;
  for (char c : store) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += c;
    } else if (c == '(' || c == ',') {
      out += '_';
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(
    Registry, PolicyConformanceTest,
    ::testing::Combine(::testing::ValuesIn(RegisteredNames()), ::testing::ValuesIn(kStores)),
    [](const ::testing::TestParamInfo<std::tuple<std::string, std::string>>& p) {
      return std::get<0>(p.param) + "_" + StoreTestName(std::get<1>(p.param));
    });

// Naive attention, llama2.c's loop (run.c, "multihead attention"): for query head qh of token t,
// over the entries of its KV head that the token may see (position <= its own):
//   att[j] = q . k_j / sqrt(head_dim);  att = softmax(att);  out = sum_j att[j] v_j
// with k_j, v_j what the stores hold (KvStore::Read), in double.
void NaiveAttention(const PolicyCache& cache, int layer, int pos0, int n_tokens,
                    const std::vector<float>& q, std::vector<double>* out) {
  const CacheShape& s = cache.shape();
  const int hd = s.head_dim, group = s.n_heads / s.n_kv_heads;
  out->assign(static_cast<size_t>(n_tokens) * s.n_heads * hd, 0.0);
  std::vector<float> k(hd), v(hd);
  for (int t = 0; t < n_tokens; ++t) {
    for (int qh = 0; qh < s.n_heads; ++qh) {
      const int kvh = qh / group;
      const float* qv = &q[(static_cast<size_t>(t) * s.n_heads + qh) * hd];
      const absl::Span<const int32_t> pos = cache.positions(layer, kvh);
      std::vector<double> att;
      for (size_t j = 0; j < pos.size() && pos[j] <= pos0 + t; ++j) {
        cache.k_store().Read(layer, kvh, static_cast<int>(j), k.data());
        double score = 0;
        for (int d = 0; d < hd; ++d) score += static_cast<double>(qv[d]) * k[d];
        att.push_back(score / std::sqrt(static_cast<double>(hd)));
      }
      const double max = *std::max_element(att.begin(), att.end());
      double sum = 0;
      for (double& a : att) sum += (a = std::exp(a - max));
      double* o = &(*out)[(static_cast<size_t>(t) * s.n_heads + qh) * hd];
      for (size_t j = 0; j < att.size(); ++j) {
        cache.v_store().Read(layer, kvh, static_cast<int>(j), v.data());
        for (int d = 0; d < hd; ++d) o[d] += att[j] / sum * v[d];
      }
    }
  }
}

class AttendOracleTest : public ::testing::TestWithParam<std::string> {};

// Random K, V and Q through the cache's hooks: a 20-token prefill block, then 30 decode steps, for
// `full` and for `window` and `h2o` at budget 8 (evicting at every step). After each step's
// Append, Attend's output equals the naive loop over the store's rows within 1e-5 of the output's
// scale: the stores' kernels (fused codes for KIVI keys, tiles for q4_0) compute the attention of
// the values they hold, and the cache masks by position, not by index.
TEST_P(AttendOracleTest, AttendEqualsNaiveAttentionOverTheStoredRows) {
  const ModelConfig c = SmallSyntheticConfig();
  const CacheShape shape = CacheShape::ForModel(c, 64);
  const int kv_width = c.n_kv_heads * c.head_dim, q_width = c.n_heads * c.head_dim;
  for (const CacheSpec& policy : {PolicySpec("full"), PolicySpec("window", {{"budget", "8"}}),
                                  PolicySpec("h2o", {{"budget", "8"}})}) {
    const CacheSpec spec = WithStore(policy, GetParam());
    SCOPED_TRACE(spec.Label());
    auto cache = MakeCache(spec, shape);
    ASSERT_TRUE(cache.ok()) << cache.status();
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    int pos0 = 0;
    for (int step = 0; step < 31; ++step) {
      const int n = step == 0 ? 20 : 1;
      (*cache)->BeginStep(pos0, n);
      for (int l = 0; l < c.n_layers; ++l) {
        std::vector<float> k(static_cast<size_t>(n) * kv_width), v(k.size()),
            q(static_cast<size_t>(n) * q_width), out(q.size());
        for (float* x : {k.data(), v.data()}) {
          for (size_t i = 0; i < k.size(); ++i) x[i] = normal(rng);
        }
        for (float& x : q) x = 2 * normal(rng);  // peaked enough that the softmax matters
        (*cache)->Append(l, k.data(), v.data());
        (*cache)->Attend(l, q.data(), out.data());
        std::vector<double> naive;
        NaiveAttention(**cache, l, pos0, n, q, &naive);
        double scale = 0, diff = 0;
        for (size_t i = 0; i < out.size(); ++i) {
          scale = std::max(scale, std::fabs(naive[i]));
          diff = std::max(diff, std::fabs(out[i] - naive[i]));
        }
        ASSERT_LE(diff, 1e-5 * scale) << "step " << step << " layer " << l;
      }
      (*cache)->EndStep();
      pos0 += n;
    }
    // The run evicted (but for `full`): the oracle saw the kept subset, not the prefix.
    if (policy.policy != "full") EXPECT_EQ((*cache)->positions(0, 0).size(), 8u);
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, AttendOracleTest, ::testing::ValuesIn(kStores),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return StoreTestName(p.param);
                         });

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
