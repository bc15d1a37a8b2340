// The shortcuts of prefill attention keep results exact: a lockstep mirror computes only the query
// rows its policy observes (CachePolicy::observed_queries) and no output, and one cache spreads its
// (KV head, query chunk) units over the threads. Both must leave every cache exactly as if it had
// run alone on one thread: the same kept positions, the same logits, bit for bit.
//
// The model is synthetic (random weights; these are identities, not quality) with kvb-docs-12M's
// attention shape (6 query heads over 2 KV heads of 64 dims), and the prompt of 280 tokens spans
// five 64-token query chunks, so a 32-query observation window straddles two of them and the
// attention work is large enough for PolicyCache to split it over threads.
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/decoder.h"
#include "model/ops.h"
#include "model/session.h"
#include "model/synthetic.h"
#include "policies/policy_cache.h"
#include "policies/registry.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

constexpr int kPrompt = 280;
constexpr int kDecode = 3;

ModelConfig DocsShapedConfig() {
  ModelConfig c = SmallSyntheticConfig();
  c.dim = 384;
  c.n_layers = 2;
  c.n_heads = 6;
  c.n_kv_heads = 2;
  c.head_dim = 64;
  c.rope_dims = 64;
  c.hidden_dim = 256;
  c.context_length = 512;
  return c;
}

std::unique_ptr<Session> NewSession(const Model& model, const CacheSpec& spec) {
  return std::make_unique<Session>(
      MakeCache(spec, CacheShape::ForModel(model.config, model.config.context_length)).value());
}

// Every (layer, KV head)'s kept positions.
std::vector<std::vector<int32_t>> Kept(const Session& s, const ModelConfig& c) {
  const auto& cache = static_cast<const PolicyCache&>(s.cache());
  std::vector<std::vector<int32_t>> kept;
  for (int l = 0; l < c.n_layers; ++l) {
    for (int h = 0; h < c.n_kv_heads; ++h) {
      absl::Span<const int32_t> p = cache.positions(l, h);
      kept.emplace_back(p.begin(), p.end());
    }
  }
  return kept;
}

// Logits of kDecode single-token steps after the prompt, one after another.
std::vector<float> DecodeLogits(Decoder& decoder, Session& s, absl::Span<const int> next) {
  const int vocab = decoder.config().vocab_size;
  std::vector<float> all(static_cast<size_t>(next.size()) * vocab);
  for (size_t t = 0; t < next.size(); ++t)
    Feed(decoder, s, next.subspan(t, 1), false, &all[t * vocab]);
  return all;
}

// Policies that observe every query (h2o, scissorhands, observed_attention), a window of them
// (the snapkv family), the last one (tova), or none (window, sinks, knorm), at a budget that
// evicts at the end of the prefill.
std::vector<CacheSpec> MirrorSpecs() {
  std::vector<CacheSpec> specs;
  for (const char* policy : {"window", "sinks", "h2o", "tova", "snapkv", "pyramidkv", "adakv",
                             "knorm", "scissorhands", "observed_attention"}) {
    specs.push_back(PolicySpec(policy, {{"budget", "96"}}));
  }
  specs.push_back(PolicySpec("tova", {{"budget", "96"}, {"scope", "head"}}));
  specs.push_back(PolicySpec("snapkv", {{"budget", "96"}, {"window", "8"}}));
  return specs;
}

TEST(LockstepAttentionTest, MirroredPrefillEqualsEachPolicyAlone) {
  auto model = MakeSyntheticModel(DocsShapedConfig(), DType::kF32, 21).value();
  const ModelConfig& c = model->config;
  const std::vector<int> tokens = RandomTokens(kPrompt + kDecode, c.vocab_size, 22);
  const absl::Span<const int> prompt = absl::MakeConstSpan(tokens).first(kPrompt);
  const absl::Span<const int> next = absl::MakeConstSpan(tokens).last(kDecode);
  const std::vector<CacheSpec> specs = MirrorSpecs();
  for (int threads : {1, 2}) {
    SetNumThreads(threads);
    Decoder decoder(*model);
    auto primary = NewSession(*model, CacheSpec{});
    std::vector<std::unique_ptr<Session>> mirrors;
    std::vector<Session*> mirror_ptrs;
    for (const CacheSpec& spec : specs) {
      mirrors.push_back(NewSession(*model, spec));
      mirror_ptrs.push_back(mirrors.back().get());
    }
    std::vector<float> mirrored(static_cast<size_t>(kPrompt) * c.vocab_size);
    FeedMirrored(decoder, *primary, mirror_ptrs, prompt, true, mirrored.data());

    SetNumThreads(1);  // the reference: each cache alone, on one thread
    Decoder alone_decoder(*model);
    auto alone_full = NewSession(*model, CacheSpec{});
    std::vector<float> want(mirrored.size());
    Feed(alone_decoder, *alone_full, prompt, true, want.data());
    EXPECT_EQ(mirrored, want) << "threads " << threads;
    for (size_t i = 0; i < specs.size(); ++i) {
      const std::string label = specs[i].Label() + ", threads " + std::to_string(threads);
      auto alone = NewSession(*model, specs[i]);
      Feed(alone_decoder, *alone, prompt, false, want.data());
      const std::vector<std::vector<int32_t>> kept = Kept(*alone, c);
      ASSERT_EQ(Kept(*mirrors[i], c), kept) << label;
      ASSERT_LT(kept[0].size(), static_cast<size_t>(kPrompt)) << label << " evicted nothing";
      SetNumThreads(threads);
      const std::vector<float> got = DecodeLogits(decoder, *mirrors[i], next);
      SetNumThreads(1);
      EXPECT_EQ(got, DecodeLogits(alone_decoder, *alone, next)) << label;
    }
  }
}

// One cache alone, attention split over (KV head, query chunk) units on 2 threads: the same logits
// and kept positions as on one thread, for a policy reading every row (h2o), one reading a window
// (snapkv), and quantized stores whose kernels tile the entries (q8_0 keys, kivi values).
TEST(LockstepAttentionTest, ThreadCountDoesNotChangeOneCachesAttention) {
  auto model = MakeSyntheticModel(DocsShapedConfig(), DType::kF32, 23).value();
  const ModelConfig& c = model->config;
  const std::vector<int> tokens = RandomTokens(kPrompt + kDecode, c.vocab_size, 24);
  const absl::Span<const int> prompt = absl::MakeConstSpan(tokens).first(kPrompt);
  const absl::Span<const int> next = absl::MakeConstSpan(tokens).last(kDecode);
  CacheSpec quantized = PolicySpec("h2o", {{"budget", "128"}});
  quantized.k_store = "q8_0";
  quantized.v_store = "kivi";
  for (const CacheSpec& spec : {PolicySpec("full"), PolicySpec("h2o", {{"budget", "96"}}),
                                PolicySpec("snapkv", {{"budget", "96"}}), quantized}) {
    std::vector<std::vector<float>> logits;
    std::vector<std::vector<std::vector<int32_t>>> kept;
    for (int threads : {1, 2}) {
      SetNumThreads(threads);
      Decoder decoder(*model);
      auto session = NewSession(*model, spec);
      std::vector<float> all(static_cast<size_t>(kPrompt) * c.vocab_size);
      Feed(decoder, *session, prompt, true, all.data());
      kept.push_back(Kept(*session, c));
      const std::vector<float> more = DecodeLogits(decoder, *session, next);
      all.insert(all.end(), more.begin(), more.end());
      logits.push_back(std::move(all));
    }
    EXPECT_EQ(logits[0], logits[1]) << spec.Label();
    EXPECT_EQ(kept[0], kept[1]) << spec.Label();
  }
  SetNumThreads(2);
}

}  // namespace
}  // namespace kvbench
