// Quality of the KV number formats on a real model: stories260K over TinyStories text, teacher
// forced token by token, every store against the full f32 cache on the same tokens (llama.cpp's
// KL-divergence protocol, reference log-probs kept in f32). Also: round-trip bounds on the model's
// real K/V rows, and h2o composed with KIVI.
//
// KIVI here runs with G = 32 and residual R = 32 instead of the paper's 128: stories260K was
// trained on 512-token windows, and with R = 128 a quarter of every sequence would stay f32, which
// hides most of the quantization. Sequences are 512 tokens (stories concatenated).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "model/session.h"
#include "policies/policy_cache.h"
#include "policies/registry.h"
#include "stores/block_store.h"
#include "stores/fp8.h"
#include "stores/kivi_key_store.h"
#include "stores/kivi_store.h"
#include "stores/store_registry.h"

namespace kvbench {
namespace {

constexpr int kSeqLen = 512;
constexpr int kSequences = 4;

std::string ModelPath() {
  return std::string(KVBENCH_SHARED_DIR) + "/models/stories260K/stories260K.gguf";
}

// Stories from the validation text, concatenated into sequences of kSeqLen tokens (BOS first).
std::vector<std::vector<int>> LoadSequences(const Model& model) {
  std::ifstream in(std::string(KVBENCH_SHARED_DIR) + "/data/tinystories-valid-200.txt");
  EXPECT_TRUE(in.good()) << "missing tinystories-valid-200.txt";
  std::vector<std::string> stories;
  std::string line, story;
  while (std::getline(in, line)) {
    if (line == "<|endoftext|>") {
      if (!story.empty()) stories.push_back(story);
      story.clear();
    } else {
      story += (story.empty() ? "" : "\n") + line;
    }
  }
  if (!story.empty()) stories.push_back(story);
  std::vector<std::vector<int>> seqs;
  std::vector<int> cur = {model.tokenizer->bos_id()};
  for (const std::string& s : stories) {
    std::vector<int> ids = model.tokenizer->Encode(s + "\n", false);
    for (int id : ids) {
      cur.push_back(id);
      if (static_cast<int>(cur.size()) == kSeqLen) {
        seqs.push_back(cur);
        cur = {model.tokenizer->bos_id()};
        if (static_cast<int>(seqs.size()) == kSequences) return seqs;
      }
    }
  }
  return seqs;
}

struct Config {
  std::string label;
  CacheSpec spec;
};

Config StoreConfig(const std::string& label, const std::string& store, ParamMap params = {}) {
  CacheSpec spec;
  spec.k_store = spec.v_store = store;
  spec.k_params = spec.v_params = params;
  return {label, spec};
}

struct Quality {
  std::vector<double> kl;  // per scored position
  int same_top = 0;
  uint64_t bytes = 0;  // logical K/V store bytes at the end of a sequence (all layers)
  double Mean() const { return std::accumulate(kl.begin(), kl.end(), 0.0) / kl.size(); }
  double Percentile(double p) const {
    std::vector<double> s = kl;
    std::sort(s.begin(), s.end());
    return s[std::min(s.size() - 1, static_cast<size_t>(p * (s.size() - 1) + 0.5))];
  }
};

void LogSoftmax(const float* logits, int n, std::vector<double>* out) {
  out->resize(n);
  const double mx = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(logits[i] - mx);
  const double lse = mx + std::log(sum);
  for (int i = 0; i < n; ++i) (*out)[i] = logits[i] - lse;
}

TEST(StoreQuality, KlDivergenceOrderOnStories260K) {
  auto model = LoadModel(ModelPath());
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  const auto seqs = LoadSequences(m);
  ASSERT_EQ(static_cast<int>(seqs.size()), kSequences);
  const ParamMap kivi_common = {{"group", "32"}, {"residual", "32"}};
  auto kivi = [&](const char* bits) {
    ParamMap p = kivi_common;
    p["bits"] = bits;
    return p;
  };
  const std::vector<Config> configs = {
      StoreConfig("f32 (again)", "f32"),
      StoreConfig("f16", "f16"),
      StoreConfig("bf16", "bf16"),
      StoreConfig("q8_0", "q8_0"),
      StoreConfig("int8", "int8"),
      StoreConfig("fp8_e4m3", "fp8_e4m3"),
      StoreConfig("fp8_e5m2", "fp8_e5m2"),
      StoreConfig("fp8_e4m3 cal", "fp8_e4m3", {{"calibrate", "max"}}),
      StoreConfig("fp8_e4m3 vllm", "fp8_e4m3", {{"calibrate", "vllm"}, {"scale", "tensor"}}),
      StoreConfig("q5_1", "q5_1"),
      StoreConfig("q5_0", "q5_0"),
      StoreConfig("q4_1", "q4_1"),
      StoreConfig("q4_0", "q4_0"),
      StoreConfig("kivi-8", "kivi", kivi("8")),
      StoreConfig("kivi-4", "kivi", kivi("4")),
      StoreConfig("kivi-2", "kivi", kivi("2")),
  };
  const CacheShape shape = CacheShape::ForModel(m.config, kSeqLen);
  const int vocab = m.config.vocab_size;
  Decoder decoder(m);
  std::vector<Quality> quality(configs.size());
  std::vector<double> ref_lp, lp;
  for (const std::vector<int>& tokens : seqs) {
    // Session 0 is the reference (full f32); all run in lockstep, one decoder step per token.
    std::vector<std::unique_ptr<Session>> sessions;
    auto ref_cache = MakeCache(CacheSpec{}, shape);
    ASSERT_TRUE(ref_cache.ok()) << ref_cache.status();
    sessions.push_back(std::make_unique<Session>(std::move(*ref_cache)));
    for (const Config& c : configs) {
      auto cache = MakeCache(c.spec, shape);
      ASSERT_TRUE(cache.ok()) << c.label << ": " << cache.status();
      sessions.push_back(std::make_unique<Session>(std::move(*cache)));
    }
    std::vector<Session*> ptrs;
    for (auto& s : sessions) ptrs.push_back(s.get());
    std::vector<std::vector<float>> logits(sessions.size(), std::vector<float>(vocab));
    std::vector<float*> logit_ptrs;
    for (auto& l : logits) logit_ptrs.push_back(l.data());
    for (int t = 0; t + 1 < kSeqLen; ++t) {
      std::vector<absl::Span<const int>> step(sessions.size(), absl::MakeConstSpan(&tokens[t], 1));
      Feed(decoder, ptrs, step, false, logit_ptrs);
      LogSoftmax(logits[0].data(), vocab, &ref_lp);
      const int ref_top = static_cast<int>(std::max_element(logits[0].begin(), logits[0].end()) -
                                           logits[0].begin());
      for (size_t c = 0; c < configs.size(); ++c) {
        LogSoftmax(logits[c + 1].data(), vocab, &lp);
        double kl = 0;
        for (int i = 0; i < vocab; ++i) kl += std::exp(ref_lp[i]) * (ref_lp[i] - lp[i]);
        quality[c].kl.push_back(std::max(0.0, kl));
        const int top = static_cast<int>(
            std::max_element(logits[c + 1].begin(), logits[c + 1].end()) - logits[c + 1].begin());
        quality[c].same_top += top == ref_top;
      }
    }
    for (size_t c = 0; c < configs.size(); ++c) {
      const auto& pc = static_cast<const PolicyCache&>(sessions[c + 1]->cache());
      uint64_t bytes = 0;
      for (int l = 0; l < shape.n_layers; ++l)
        bytes += pc.k_store().memory(l).logical + pc.v_store().memory(l).logical;
      quality[c].bytes = bytes;
    }
  }
  std::printf(
      "\nstories260K, %d x %d tokens teacher-forced, KL(full f32 || store); K and V bytes at %d "
      "tokens\n",
      kSequences, kSeqLen, kSeqLen);
  std::printf("%-12s %12s %12s %9s %10s\n", "store", "KL mean", "KL p99", "same top", "KV bytes");
  for (size_t c = 0; c < configs.size(); ++c) {
    const Quality& q = quality[c];
    std::printf("%-12s %12.3e %12.3e %8.2f%% %10llu\n", configs[c].label.c_str(), q.Mean(),
                q.Percentile(0.99), 100.0 * q.same_top / q.kl.size(),
                static_cast<unsigned long long>(q.bytes));
  }
  auto kl = [&](const std::string& label) {
    for (size_t c = 0; c < configs.size(); ++c) {
      if (configs[c].label == label) return quality[c].Mean();
    }
    ADD_FAILURE() << "no config " << label;
    return 0.0;
  };
  EXPECT_EQ(kl("f32 (again)"), 0.0) << "the reference must be deterministic";
  EXPECT_LT(kl("f16"), kl("q8_0"));
  EXPECT_LT(kl("q8_0"), kl("q4_0"));
  EXPECT_LT(kl("q5_0"), kl("q4_0"));
  EXPECT_LT(kl("q8_0"), kl("fp8_e4m3"));  // 3 mantissa bits vs 7: int8 grid is finer near amax
  EXPECT_LT(kl("fp8_e4m3"), kl("fp8_e5m2"));
  // Calibrated on the first step (BOS alone here): the max rule saturates every later value above
  // BOS's range (KL 1.15 when measured); vLLM's headroom (K / 200, V / 100) keeps KL near the
  // uncalibrated scale 1 (0.050 against 0.042).
  EXPECT_LT(kl("fp8_e4m3 vllm"), kl("fp8_e4m3 cal") / 10);
  EXPECT_LT(kl("kivi-8"), kl("kivi-4"));
  EXPECT_LT(kl("kivi-4"), kl("kivi-2"));
  EXPECT_LT(kl("f16"), 1e-4);
  EXPECT_GT(kl("kivi-2"), 0.0);
}

// Real K/V rows of stories260K (head_dim 8) through each format, against the formats' bounds.
TEST(StoreQuality, RealKvRoundTripWithinBounds) {
  auto model = LoadModel(ModelPath());
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  const auto seqs = LoadSequences(m);
  ASSERT_FALSE(seqs.empty());
  const CacheShape shape = CacheShape::ForModel(m.config, kSeqLen);
  auto cache = MakeCache(CacheSpec{}, shape);
  ASSERT_TRUE(cache.ok());
  PolicyCache* pc = cache->get();
  Session session(std::move(*cache));
  Decoder decoder(m);
  Feed(decoder, session, seqs[0], false, nullptr);
  const int hd = shape.head_dim;
  std::vector<float> rows;  // every K and V row of every layer and head
  for (int l = 0; l < shape.n_layers; ++l) {
    for (int h = 0; h < shape.n_kv_heads; ++h) {
      for (const KvStore* s : {&pc->k_store(), &pc->v_store()}) {
        std::vector<float> r(hd);
        for (int j = 0; j < s->size(l, h); ++j) {
          s->Read(l, h, j, r.data());
          rows.insert(rows.end(), r.begin(), r.end());
        }
      }
    }
  }
  const int n = static_cast<int>(rows.size()) / hd;
  ASSERT_GT(n, 1000);
  auto fp16_err = [](double v) { return std::max(std::fabs(v) / 2048, std::ldexp(1.0, -25)); };
  std::vector<uint8_t> block(64);
  std::vector<float> y(hd);
  for (int j = 0; j < n; ++j) {
    const float* x = &rows[static_cast<size_t>(j) * hd];
    float amax = 0;
    for (int d = 0; d < hd; ++d) amax = std::max(amax, std::fabs(x[d]));
    QuantizeBlock(BlockType::kQ8_0, x, hd, block.data());  // one block of hd values
    DequantizeBlockReference(BlockType::kQ8_0, block.data(), hd, y.data());
    for (int d = 0; d < hd; ++d)
      ASSERT_LE(std::fabs(x[d] - y[d]), amax / 127 / 2 + 127 * fp16_err(amax / 127) + 1e-12) << j;
    QuantizeBlock(BlockType::kQ4_0, x, hd, block.data());
    DequantizeBlockReference(BlockType::kQ4_0, block.data(), hd, y.data());
    for (int d = 0; d < hd; ++d)
      ASSERT_LE(std::fabs(x[d] - y[d]), amax / 8 + 16 * fp16_err(amax / 8) + 1e-12) << j;
    for (int d = 0; d < hd; ++d) {
      // e4m3 at scale 1 (these activations are within its normal range or tiny).
      const float e = Fp8Decode(Fp8Format::kE4M3, Fp8Encode(Fp8Format::kE4M3, x[d]));
      ASSERT_LE(std::fabs(e - x[d]),
                std::max(std::ldexp(std::fabs(x[d]), -4), std::ldexp(1.0f, -10)))
          << j;
    }
  }
  // KIVI-4 on the real rows as keys, residual 0: per-channel error within half a step.
  CacheShape one = shape;
  one.n_layers = 1;
  one.n_kv_heads = 1;
  KiviKeyStore kivi(one, KiviOptions{.bits = 4, .group = 32, .residual = 0});
  const int groups = n / 32;
  kivi.Append(0, 0, rows.data(), groups * 32, hd);
  ASSERT_EQ(kivi.n_residual(0, 0), 0);
  for (int g = 0; g < groups; ++g) {
    for (int c = 0; c < hd; ++c) {
      float lo = INFINITY, hi = -INFINITY;
      for (int t = 0; t < 32; ++t) {
        lo = std::min(lo, rows[(static_cast<size_t>(g) * 32 + t) * hd + c]);
        hi = std::max(hi, rows[(static_cast<size_t>(g) * 32 + t) * hd + c]);
      }
      const double step = (hi - lo) / 15;
      for (int t = 0; t < 32; ++t) {
        kivi.Read(0, 0, g * 32 + t, y.data());
        ASSERT_LE(std::fabs(y[c] - rows[(static_cast<size_t>(g) * 32 + t) * hd + c]),
                  step / 2 + fp16_err(lo) + 15 * fp16_err(step) + 1e-12);
      }
    }
  }
}

// h2o deciding, KIVI storing: each head holds `budget` entries, and the store memory is the budget
// times the quantized bytes per token, plus the stated overheads: residual tokens cost f32 instead
// of codes, and each key group present keeps its per-channel (scale, min).
TEST(StoreQuality, H2oOnKiviMemoryIsBudgetTimesQuantizedBytes) {
  auto model = LoadModel(ModelPath());
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  const auto seqs = LoadSequences(m);
  const CacheShape shape = CacheShape::ForModel(m.config, kSeqLen);
  const int budget = 64, hd = shape.head_dim;
  CacheSpec spec;
  spec.policy = "h2o";
  spec.policy_params = {{"budget", std::to_string(budget)}};
  spec.k_store = spec.v_store = "kivi";
  spec.k_params = spec.v_params = {{"bits", "4"}, {"group", "8"}, {"residual", "16"}};
  auto cache = MakeCache(spec, shape);
  ASSERT_TRUE(cache.ok()) << cache.status();
  PolicyCache* pc = cache->get();
  Session session(std::move(*cache));
  Decoder decoder(m);
  std::vector<float> logits(m.config.vocab_size);
  for (int t = 0; t < 300; ++t)
    Feed(decoder, session, absl::MakeConstSpan(&seqs[0][t], 1), false, logits.data());
  const auto& k = static_cast<const KiviKeyStore&>(pc->k_store());
  const auto& v = static_cast<const KiviStore&>(pc->v_store());
  const double k_bpv = *BytesPerValue("kivi", spec.k_params, KvRole::kKey, hd);
  const double v_bpv = *BytesPerValue("kivi", spec.v_params, KvRole::kValue, hd);
  for (int l = 0; l < shape.n_layers; ++l) {
    double expected = 0;
    for (int h = 0; h < shape.n_kv_heads; ++h) {
      ASSERT_EQ(k.size(l, h), budget);
      ASSERT_EQ(v.size(l, h), budget);
      ASSERT_GT(k.n_quantized(l, h), 0) << "KIVI never quantized: the test would show nothing";
      const int res = k.n_residual(l, h);
      // Codes of every kept token (key params are accounted per group below, not amortised).
      expected += budget * (hd * 4 / 8.0) + budget * v_bpv * hd;
      // Residual tokens are f32 instead of codes.
      expected += res * (4.0 * hd - hd * 4 / 8.0) + v.n_residual(l, h) * (4.0 * hd - v_bpv * hd);
      // Each key group still holding tokens keeps (scale, min) per channel.
      expected += k.n_key_groups(l, h) * 4.0 * hd;
    }
    const double got = static_cast<double>(k.memory(l).logical + v.memory(l).logical);
    EXPECT_EQ(got, expected) << "layer " << l;
    // And it is close to budget x amortised quantized bytes: h2o evicts inside groups, so partly
    // emptied groups keep their params; the residual adds at most (R + G - 1) f32 rows.
    const double ideal = shape.n_kv_heads * budget * (k_bpv + v_bpv) * hd;
    EXPECT_GT(got, ideal) << "layer " << l;
    EXPECT_LT(got, ideal + shape.n_kv_heads * ((16 + 8 - 1) * 2 * 4.0 * hd + budget * 4.0 * hd))
        << "layer " << l;
    if (l == 0) {
      std::printf(
          "h2o(budget=%d) on kivi-4: layer 0 K+V bytes %.0f; budget x amortised bytes %.0f; f32 "
          "would be %d\n",
          budget, got, ideal, shape.n_kv_heads * budget * 2 * 4 * hd);
    }
  }
}

}  // namespace
}  // namespace kvbench
