// Quality of eviction on a real model: stories260K over TinyStories text, teacher forced. The
// reference is `full` on the same tokens; each policy's next-token distribution is compared with
// KL(P_full || P_policy) at every position whose context exceeds the budget (before that, no
// policy has evicted anything and the distributions are identical).
//
// Tokens are fed one at a time after a short prefill block (the decode path, where decode-time
// policies evict after every step).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "model/ops.h"
#include "model/session.h"
#include "policies/registry.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

constexpr int kTokens = 400;
constexpr int kPrefill = 8;
constexpr int kBudget = 64;

// Stories of the validation file, each encoded with BOS first (as llama2.c's pretokenizer prepared
// the training data), concatenated and cut at kTokens.
std::vector<int> StoryTokens(const Model& model) {
  std::ifstream in(KVBENCH_SHARED_DIR "/data/tinystories-valid-200.txt");
  EXPECT_TRUE(in.good()) << "missing " KVBENCH_SHARED_DIR "/data/tinystories-valid-200.txt";
  std::string story, line;
  std::vector<int> tokens;
  while (static_cast<int>(tokens.size()) < kTokens && std::getline(in, line)) {
    if (line != "<|endoftext|>") {
      story += story.empty() ? line : "\n" + line;
      continue;
    }
    const std::vector<int> ids = model.tokenizer->Encode(story, /*add_bos=*/true);
    tokens.insert(tokens.end(), ids.begin(), ids.end());
    story.clear();
  }
  if (static_cast<int>(tokens.size()) > kTokens) tokens.resize(kTokens);
  return tokens;
}

// Next-token log-probabilities after every token: (tokens, vocab).
std::vector<float> LogProbs(const Model& model, const std::vector<int>& tokens,
                            const CacheSpec& spec, int prefill = kPrefill) {
  const int vocab = model.config.vocab_size;
  auto cache = MakeCache(spec, CacheShape::ForModel(model.config, static_cast<int>(tokens.size())));
  EXPECT_TRUE(cache.ok()) << cache.status();
  if (!cache.ok()) return {};
  Session session(*std::move(cache));
  Decoder decoder(model);
  std::vector<float> out(tokens.size() * vocab);
  Feed(decoder, session, absl::MakeConstSpan(tokens.data(), prefill), true, out.data());
  for (size_t t = prefill; t < tokens.size(); ++t) {
    Feed(decoder, session, absl::MakeConstSpan(&tokens[t], 1), false, &out[t * vocab]);
  }
  for (size_t t = 0; t < tokens.size(); ++t) {
    float* row = &out[t * vocab];
    float mx = row[0];
    for (int i = 1; i < vocab; ++i) mx = std::max(mx, row[i]);
    double sum = 0.0;
    for (int i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(row[i] - mx));
    const float log_z = mx + static_cast<float>(std::log(sum));
    for (int i = 0; i < vocab; ++i) row[i] -= log_z;
  }
  return out;
}

// Mean over positions t >= from of KL(P_ref || P). Scoring starts where eviction can first matter:
// context t + 1 > budget for decode-time policies, after the prompt for one-shot ones.
double MeanKl(const std::vector<float>& ref, const std::vector<float>& got, int vocab,
              int from = kBudget) {
  const size_t n = ref.size() / vocab;
  double total = 0.0;
  for (size_t t = from; t < n; ++t) {
    double kl = 0.0;
    for (int i = 0; i < vocab; ++i) {
      const double lp = ref[t * vocab + i], lq = got[t * vocab + i];
      kl += std::exp(lp) * (lp - lq);
    }
    total += kl;
  }
  return total / static_cast<double>(n - from);
}

class PolicyQualityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto model = LoadModel("stories260K");
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
    tokens_ = StoryTokens(*model_);
    ASSERT_EQ(static_cast<int>(tokens_.size()), kTokens);
    full_ = LogProbs(*model_, tokens_, PolicySpec("full", {}));
  }
  double Kl(const CacheSpec& spec) {
    return MeanKl(full_, LogProbs(*model_, tokens_, spec), model_->config.vocab_size);
  }

  std::unique_ptr<Model> model_;
  std::vector<int> tokens_;
  std::vector<float> full_;
};

TEST_F(PolicyQualityTest, WindowAndSinksDivergeFromFull) {
  const std::string budget = std::to_string(kBudget);
  const double window = Kl(PolicySpec("window", {{"budget", budget}}));
  const double sinks = Kl(PolicySpec("sinks", {{"budget", budget}}));
  const double sinks_cache = Kl(PolicySpec("sinks", {{"budget", budget}, {"positions", "cache"}}));
  std::printf(
      "stories260K, %d tokens, budget %d, mean KL(full || policy) over positions >= %d:\n"
      "  window                   %.5f\n  sinks (n_sink 4)         %.5f\n"
      "  sinks, positions=cache   %.5f\n",
      kTokens, kBudget, kBudget, window, sinks, sinks_cache);
  std::vector<double> by_n_sink;
  for (int n_sink : {1, 2, 8}) {
    by_n_sink.push_back(
        Kl(PolicySpec("sinks", {{"budget", budget}, {"n_sink", std::to_string(n_sink)}})));
    std::printf("  sinks n_sink=%-2d          %.5f\n", n_sink, by_n_sink.back());
  }
  EXPECT_GT(window, 0.0);
  EXPECT_GT(sinks, 0.0);
  EXPECT_GT(sinks_cache, 0.0);
  // The StreamingLLM finding on this tiny model, as measured (not forced): only the BOS token acts
  // as an attention sink. Keeping it alone beside the window diverges less than the window
  // (0.051 vs 0.059 when this was written); the paper's n_sink = 4 spends 3 slots of the recent
  // window on ordinary far-away tokens and diverges *more* than the window (0.092), as do 8 sinks.
  // Re-rotating keys to cache positions (the paper's choice) is worse still here (0.111).
  EXPECT_LT(by_n_sink[0], window) << "BOS as the only sink should beat the plain window";
  EXPECT_GT(sinks, window) << "n_sink=4 was measured worse than window on this model; if this "
                              "flips, update the comment above";
  // A budget covering the text must not diverge at all (same kernels, same entries).
  EXPECT_EQ(Kl(PolicySpec("window", {{"budget", std::to_string(kTokens)}})), 0.0);
}

// positions=cache on a quantized K store (issue 16): keys re-assigned to cache positions after
// an eviction must not be re-encoded from their own decoded copies, or the quantization error
// compounds with every step (before the fix, on this model: sinks q4_0 K 0.305 -> 0.441 KL, h2o
// 0.317 -> 2.912). Re-assigning positions changes the model's view even on f32 keys (KL +17%
// here), so the check is that it costs on q4_0 keys what it costs on f32 keys, within 10%.
TEST(CachePositionsTest, DoNotCompoundQuantizationError) {
  auto model = LoadModel("tinystories656k");
  ASSERT_TRUE(model.ok()) << model.status();
  const std::vector<int> tokens = StoryTokens(**model);
  const int vocab = (*model)->config.vocab_size;
  const std::vector<float> full = LogProbs(**model, tokens, PolicySpec("full", {}));
  auto kl = [&](const CacheSpec& spec) {
    return MeanKl(full, LogProbs(**model, tokens, spec), vocab);
  };
  const std::string budget = std::to_string(kBudget);
  for (const char* policy : {"sinks", "h2o"}) {
    std::map<std::string, double> cache_over_original;  // by K store
    for (const char* k_store : {"f32", "q4_0"}) {
      CacheSpec original = PolicySpec(policy, {{"budget", budget}});
      original.k_store = k_store;
      CacheSpec cache = original;
      cache.policy_params["positions"] = "cache";
      const double kl_original = kl(original), kl_cache = kl(cache);
      std::printf("  tinystories656k %-5s %-4s K: KL positions=original %.5f, cache %.5f\n", policy,
                  k_store, kl_original, kl_cache);
      cache_over_original[k_store] = kl_cache / kl_original;
    }
    EXPECT_NEAR(cache_over_original["q4_0"] / cache_over_original["f32"], 1.0, 0.1) << policy;
  }
}

TEST_F(PolicyQualityTest, ReportEveryPolicyAtBudget64) {
  // Not a ranking claim (one tiny model, one text): the numbers for the report, and a check that
  // every policy that evicts diverges and stays finite. One-shot policies compress a 200-token
  // prompt (prefill block) to the budget and are scored on the 200 decoded tokens after it.
  constexpr int kPrompt = 200;
  for (const PolicyInfo& info : PolicyRegistry()) {
    if (info.name == "full" || info.name == "none") continue;
    ParamMap params = {{"budget", std::to_string(kBudget)}};
    // Policies that compress only the prompt (one-shot, or `when=once` by default, as kvpress).
    const bool one_shot = info.one_shot || info.default_when == "once";
    for (const ParamSpec& s : info.params) {
      if (s.name == "window") params["window"] = "16";  // the observation window fits the budget
    }
    const CacheSpec spec = PolicySpec(info.name, params);
    double kl;
    if (one_shot) {
      const std::vector<float> ref = LogProbs(*model_, tokens_, PolicySpec("full", {}), kPrompt);
      kl = MeanKl(ref, LogProbs(*model_, tokens_, spec, kPrompt), model_->config.vocab_size,
                  kPrompt);
    } else {
      kl = Kl(spec);
    }
    std::printf("  %-13s KL %.5f%s\n", info.name.c_str(), kl,
                one_shot ? "  (200-token prompt compressed once, 200 decoded)" : "");
    EXPECT_TRUE(std::isfinite(kl)) << info.name;
    EXPECT_GT(kl, 0.0) << info.name;
  }
}

}  // namespace
}  // namespace kvbench
