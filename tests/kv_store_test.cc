// Conformance of every registered KV store: attention equals the scalar reference over the rows the
// store reads back, compaction keeps rows bit for bit (nothing is re-quantized), Write touches one
// row, and the memory reported equals the bytes-per-value formula.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stores/kivi_key_store.h"
#include "stores/kivi_store.h"
#include "stores/quant_kernels.h"
#include "stores/store_registry.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

struct Case {
  std::string store;
  ParamMap params;
  std::string label() const {
    std::string s = store;
    for (const auto& [k, v] : params) s += "_" + k + v;
    return s;
  }
};

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const StoreInfo& info : StoreRegistry()) {
    if (info.name == "kivi") {
      for (const char* bits : {"2", "4", "8"}) {
        cases.push_back({"kivi", {{"bits", bits}, {"group", "8"}, {"residual", "16"}}});
      }
      cases.push_back({"kivi", {}});  // paper defaults
      cases.push_back({"kivi", {{"group", "8"}, {"residual", "12"}, {"residual_rule", "kvbench"}}});
      cases.push_back({"kivi", {{"bits", "4"}, {"group", "8"}, {"residual", "0"}}});
    } else if (info.name.rfind("fp8", 0) == 0) {
      cases.push_back({info.name, {}});
      cases.push_back({info.name, {{"scale", "head"}, {"calibrate", "max"}}});
      cases.push_back({info.name, {{"scale", "tensor"}, {"calibrate", "max"}}});
      cases.push_back({info.name, {{"scale", "tensor"}, {"calibrate", "vllm"}}});
      cases.push_back({info.name, {{"amax", "4"}, {"scale", "tensor"}}});
    } else {
      cases.push_back({info.name, {}});
    }
  }
  return cases;
}

CacheShape Shape(int head_dim) {
  return CacheShape{.n_layers = 2,
                    .n_heads = 4,
                    .n_kv_heads = 2,
                    .head_dim = head_dim,
                    .rope_dims = head_dim,
                    .rope_theta = 10000.0f,
                    .context_tokens = 512};
}

std::vector<float> Random(std::mt19937& rng, size_t n) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<float> ReadAll(const KvStore& s, int layer, int head, int hd) {
  std::vector<float> rows(static_cast<size_t>(s.size(layer, head)) * hd);
  for (int j = 0; j < s.size(layer, head); ++j)
    s.Read(layer, head, j, &rows[static_cast<size_t>(j) * hd]);
  return rows;
}

// Dot and Accumulate against the double-precision reference over the rows Read returns. Tolerance:
// 2e-5 relative to sum |q_d k_d| (f32 accumulation; KIVI keys fold scale and min into the query).
void CheckAttention(const KvStore& s, int layer, int head, int hd, std::mt19937& rng,
                    const std::string& label) {
  const int n = s.size(layer, head), n_q = 3;
  const std::vector<float> rows = ReadAll(s, layer, head, hd);
  const std::vector<float> q = Random(rng, static_cast<size_t>(n_q) * hd);
  std::vector<float> scores(static_cast<size_t>(n_q) * n), ref(scores.size());
  s.Dot(layer, head, n, q.data(), n_q, scores.data(), n);
  DotRowsF32Reference(rows.data(), n, hd, q.data(), n_q, ref.data(), n);
  for (int i = 0; i < n_q; ++i) {
    for (int j = 0; j < n; ++j) {
      double mag = 0;
      for (int d = 0; d < hd; ++d)
        mag += std::fabs(q[i * hd + d] * rows[static_cast<size_t>(j) * hd + d]);
      ASSERT_NEAR(scores[i * n + j], ref[i * n + j], 2e-5 * mag + 1e-6)
          << label << " dot " << i << "," << j;
    }
  }
  std::vector<float> w = Random(rng, static_cast<size_t>(n_q) * n);
  std::vector<float> out(static_cast<size_t>(n_q) * hd, 123.0f), out_ref(out.size(), 0.0f);
  s.Accumulate(layer, head, n, w.data(), n, n_q, out.data());
  AccumulateRowsF32Reference(rows.data(), n, hd, w.data(), n, n_q, out_ref.data());
  for (int i = 0; i < n_q; ++i) {
    for (int d = 0; d < hd; ++d) {
      double mag = 0;
      for (int j = 0; j < n; ++j)
        mag += std::fabs(w[i * n + j] * rows[static_cast<size_t>(j) * hd + d]);
      ASSERT_NEAR(out[i * hd + d], out_ref[i * hd + d], 2e-5 * mag + 1e-6)
          << label << " acc " << i << "," << d;
    }
  }
}

// Dot and Accumulate over the first `limit` entries only (a causal prefill chunk): Dot writes
// scores j < limit, each bit for bit the score over all entries, and nothing past them;
// Accumulate equals the one over all entries with the weights past `limit` zero (what the masked
// softmax gives), bit for bit.
void CheckLimit(const KvStore& s, int layer, int head, int hd, std::mt19937& rng,
                const std::string& label) {
  const int n = s.size(layer, head), n_q = 3;
  const std::vector<float> q = Random(rng, static_cast<size_t>(n_q) * hd);
  std::vector<float> all(static_cast<size_t>(n_q) * n);
  s.Dot(layer, head, n, q.data(), n_q, all.data(), n);
  const std::vector<float> w = Random(rng, static_cast<size_t>(n_q) * n);
  for (int limit : {0, 1, 7, 8, 33, n / 2, n - 17, n - 1, n}) {
    if (limit < 0 || limit > n) continue;
    constexpr float kUntouched = -777.0f;
    std::vector<float> scores(all.size(), kUntouched);
    s.Dot(layer, head, limit, q.data(), n_q, scores.data(), n);
    for (int i = 0; i < n_q; ++i) {
      for (int j = 0; j < n; ++j) {
        const float want = j < limit ? all[i * n + j] : kUntouched;
        ASSERT_EQ(scores[i * n + j], want)
            << label << " limit " << limit << " dot " << i << "," << j;
      }
    }
    std::vector<float> masked = w;
    for (int i = 0; i < n_q; ++i) std::fill(&masked[i * n + limit], &masked[i * n] + n, 0.0f);
    std::vector<float> got(static_cast<size_t>(n_q) * hd, 5.0f), want(got.size(), 9.0f);
    s.Accumulate(layer, head, limit, w.data(), n, n_q, got.data());
    s.Accumulate(layer, head, n, masked.data(), n, n_q, want.data());
    ASSERT_EQ(got, want) << label << " limit " << limit << " accumulate";
  }
}

TEST(KvStoreConformance, AttentionCompactWriteOnEveryStore) {
  // 64, 96 and 128 take the fused kernels (quant_kernels.h) where the format allows, 8 and 16 the
  // tile path.
  for (int hd : {8, 16, 64, 96, 128}) {
    for (const Case& c : AllCases()) {
      for (KvRole role : {KvRole::kKey, KvRole::kValue}) {
        const std::string label =
            c.label() + " hd " + std::to_string(hd) + (role == KvRole::kKey ? " K" : " V");
        std::mt19937 rng(hd * 31 + static_cast<int>(role));
        auto made = MakeStore(c.store, c.params, role, Shape(hd));
        ASSERT_TRUE(made.ok()) << label << ": " << made.status();
        KvStore& s = **made;
        const int kv_dim = 2 * hd;
        // Appends in uneven batches, interleaved between heads and layers as PolicyCache does.
        int total = 0;
        for (int batch : {1, 37, 1, 1, 90, 3, 60}) {
          const std::vector<float> rows = Random(rng, static_cast<size_t>(batch) * kv_dim);
          for (int l = 0; l < 2; ++l) {
            for (int h = 0; h < 2; ++h) s.Append(l, h, rows.data() + h * hd, batch, kv_dim);
          }
          total += batch;
        }
        ASSERT_EQ(s.size(1, 1), total) << label;
        CheckAttention(s, 1, 1, hd, rng, label);
        CheckLimit(s, 1, 1, hd, rng, label);

        // Compaction keeps exactly the chosen rows, bit for bit.
        const std::vector<float> before = ReadAll(s, 1, 0, hd);
        std::vector<int> keep;
        for (int j = 0; j < total; ++j) {
          if (j < 4 || j % 3 == 0 || j > total - 20) keep.push_back(j);
        }
        s.Compact(1, 0, keep);
        ASSERT_EQ(s.size(1, 0), static_cast<int>(keep.size())) << label;
        const std::vector<float> after = ReadAll(s, 1, 0, hd);
        for (size_t i = 0; i < keep.size(); ++i) {
          for (int d = 0; d < hd; ++d) {
            ASSERT_EQ(after[i * hd + d], before[static_cast<size_t>(keep[i]) * hd + d])
                << label << " kept " << i;
          }
        }
        CheckAttention(s, 1, 0, hd, rng, label + " compacted");
        // A sliding-window drop of the oldest rows, then more appends.
        std::vector<int> window;
        for (int j = 10; j < s.size(1, 0); ++j) window.push_back(j);
        s.Compact(1, 0, window);
        const std::vector<float> more = Random(rng, static_cast<size_t>(50) * hd);
        s.Append(1, 0, more.data(), 50, hd);
        CheckAttention(s, 1, 0, hd, rng, label + " window+append");
        CheckLimit(s, 1, 0, hd, rng, label + " window+append");

        // Empty everything: no entries, no logical bytes beyond store constants.
        s.Compact(0, 0, {});
        ASSERT_EQ(s.size(0, 0), 0) << label;
        std::vector<float> query(hd), none(3);
        s.Dot(0, 0, 0, query.data(), 1, none.data(), 0);
      }
    }
  }
}

// Bytes the formula predicts for `n` tokens appended to one head (no eviction).
double ExpectedBytes(const Case& c, KvRole role, int hd, int n) {
  const double bpv = *BytesPerValue(c.store, c.params, role, hd);
  if (c.store != "kivi") return bpv * hd * n;
  const int bits = c.params.count("bits") ? std::stoi(c.params.at("bits")) : 2;
  const int G = c.params.count("group") ? std::stoi(c.params.at("group")) : 32;
  const int R = c.params.count("residual") ? std::stoi(c.params.at("residual")) : 128;
  const bool kvbench_rule =
      c.params.count("residual_rule") && c.params.at("residual_rule") == "kvbench";
  // kivi: keys leave the residual R at a time (it holds n mod R), values all but the newest R.
  const int key_flush = std::max(R, G);
  const int n_res = kvbench_rule           ? (n < R + G ? n : R + (n - R) % G)
                    : role == KvRole::kKey ? n % key_flush
                                           : std::min(n, R);
  const int n_quant = n - n_res;
  const double residual = 4.0 * hd * n_res;
  if (role == KvRole::kKey) return residual + (n_quant / G) * 4.0 * hd + n_quant * hd * bits / 8.0;
  return residual + bpv * hd * n_quant;
}

TEST(KvStoreMemory, LogicalBytesMatchTheFormula) {
  for (int hd : {8, 16, 128}) {
    for (const Case& c : AllCases()) {
      for (KvRole role : {KvRole::kKey, KvRole::kValue}) {
        const std::string label = c.label() + " hd " + std::to_string(hd);
        std::mt19937 rng(hd);
        auto s = *MakeStore(c.store, c.params, role, Shape(hd));
        uint64_t peak = 0;
        int n = 0;
        for (int batch : {5, 1, 200, 1, 1, 64}) {
          const std::vector<float> rows = Random(rng, static_cast<size_t>(batch) * hd);
          for (int h = 0; h < 2; ++h) s->Append(0, h, rows.data(), batch, hd);
          n += batch;
          const KvMemory m = s->memory(0);
          double expected = 2 * ExpectedBytes(c, role, hd, n);
          if (c.store.rfind("fp8", 0) == 0) {
            expected +=
                c.params.count("scale") && c.params.at("scale") == "tensor" ? 4 : 8;  // the scales
          }
          ASSERT_EQ(static_cast<double>(m.logical), expected) << label << " after " << n;
          // The registry's own count (what a planner uses) is the store's report.
          ASSERT_EQ(m.logical, *LayerBytes(c.store, c.params, role, Shape(hd), n))
              << label << " after " << n;
          ASSERT_GE(m.allocated, m.logical) << label;
          ASSERT_GE(m.peak, m.allocated) << label;
          ASSERT_GE(m.peak, peak) << label;
          peak = m.peak;
        }
        EXPECT_EQ(s->memory(1).logical, 0u) << label << ": layer 1 holds nothing";
        EXPECT_EQ(*LayerBytes(c.store, c.params, role, Shape(hd), 0), 0u) << label;
      }
    }
  }
}

TEST(KvStoreMemory, KiviCountsMatchTheResidualRule) {
  std::mt19937 rng(1);
  const std::vector<float> rows = Random(rng, 500 * 16);
  const ParamMap kvbench = {
      {"bits", "4"}, {"group", "32"}, {"residual", "128"}, {"residual_rule", "kvbench"}};
  const ParamMap kivi = {{"bits", "4"}, {"group", "32"}, {"residual", "128"}};
  for (const ParamMap& params : {kvbench, kivi}) {
    for (KvRole role : {KvRole::kKey, KvRole::kValue}) {
      auto s = *MakeStore("kivi", params, role, Shape(16));
      auto& store = static_cast<KiviStore&>(*s);
      for (int n = 1; n <= 500; ++n) {
        s->Append(0, 0, &rows[(n - 1) * 16], 1, 16);
        // kvbench: nothing quantized before R + G tokens, then the residual stays in [R, R + G).
        // kivi (KIVI's llama_kivi.py): keys flush all R when R wait; values keep the newest R.
        const int expect_res = params.contains("residual_rule")
                                   ? (n < 160 ? n : 128 + (n - 128) % 32)
                                   : (role == KvRole::kKey ? n % 128 : std::min(n, 128));
        ASSERT_EQ(store.n_residual(0, 0), expect_res) << s->name() << " after " << n;
        ASSERT_EQ(store.n_quantized(0, 0), n - expect_res) << s->name();
      }
      if (role == KvRole::kKey) {
        EXPECT_EQ(static_cast<KiviKeyStore&>(store).n_key_groups(0, 0),
                  store.n_quantized(0, 0) / 32);
      }
    }
  }
}

// The case: a 128-token prompt at R = 128. KIVI quantizes every key (the residual reached
// R) and keeps all 128 values f32; the next token starts a new key residual and pushes the oldest
// value out. kvbench's old rule quantized nothing before R + G = 160 tokens.
TEST(KiviStore, ResidualOfAPrompt) {
  std::mt19937 rng(2);
  const std::vector<float> rows = Random(rng, 300 * 16);
  auto keys = *MakeStore("kivi", {}, KvRole::kKey, Shape(16));
  auto values = *MakeStore("kivi", {}, KvRole::kValue, Shape(16));
  auto old_keys = *MakeStore("kivi", {{"residual_rule", "kvbench"}}, KvRole::kKey, Shape(16));
  const auto counts = [](const std::unique_ptr<KvStore>& s) {
    const auto& k = static_cast<const KiviStore&>(*s);
    return std::pair(k.n_quantized(0, 0), k.n_residual(0, 0));
  };
  for (auto* s : {&keys, &values, &old_keys}) (*s)->Append(0, 0, rows.data(), 128, 16);
  EXPECT_EQ(counts(keys), std::pair(128, 0));
  EXPECT_EQ(counts(values), std::pair(0, 128));
  EXPECT_EQ(counts(old_keys), std::pair(0, 128));
  for (auto* s : {&keys, &values, &old_keys}) (*s)->Append(0, 0, &rows[128 * 16], 1, 16);
  EXPECT_EQ(counts(keys), std::pair(128, 1));
  EXPECT_EQ(counts(values), std::pair(1, 128));
  // A 300-token prompt: keys 300 - 300 mod 128 = 256 quantized (8 groups), values 300 - 128.
  auto k300 = *MakeStore("kivi", {}, KvRole::kKey, Shape(16));
  auto v300 = *MakeStore("kivi", {}, KvRole::kValue, Shape(16));
  k300->Append(0, 0, rows.data(), 300, 16);
  v300->Append(0, 0, rows.data(), 300, 16);
  EXPECT_EQ(counts(k300), std::pair(256, 44));
  EXPECT_EQ(counts(v300), std::pair(172, 128));
  EXPECT_EQ(static_cast<KiviKeyStore&>(*k300).n_key_groups(0, 0), 8);
}

// Hand-worked 2-bit codes, G = R = 4, head_dim 4. Five tokens: keys 0..3 form one group, quantized
// per channel (channel 1 holds 0, 0.4, 0.6, 3: min 0, scale (3 - 0) / 3 = 1, codes 0, 0, 1, 3, so
// it reads back 0, 0, 1, 3); key 4 stays f32. Values: only the oldest leaves the residual; its row
// (0, 0.4, 0.6, 3) is one channel group with the same min and scale, so it reads back (0, 0, 1, 3).
TEST(KiviStore, HandWorkedTwoBitCodes) {
  const ParamMap params = {{"bits", "2"}, {"group", "4"}, {"residual", "4"}};
  CacheShape shape = Shape(4);
  const std::vector<float> keys = {0, 0,   0,  5,  //
                                   1, 0.4, 1,  5,  //
                                   2, 0.6, 2,  5,  //
                                   3, 3,   3,  5,  //
                                   7, 0.3, -1, 0.25};
  auto k = *MakeStore("kivi", params, KvRole::kKey, shape);
  k->Append(0, 0, keys.data(), 5, 4);
  // Channel 3 is constant: scale 0, every code reads back the min, 5.
  const std::vector<std::vector<float>> k_back = {
      {0, 0, 0, 5}, {1, 0, 1, 5}, {2, 1, 2, 5}, {3, 3, 3, 5}, {7, 0.3f, -1, 0.25f}};
  std::vector<float> row(4);
  for (int j = 0; j < 5; ++j) {
    k->Read(0, 0, j, row.data());
    EXPECT_THAT(row, ::testing::ElementsAreArray(k_back[j])) << "key " << j;
  }
  const std::vector<float> values = {0,   0.4, 0.6, 3,    //
                                     1,   2,   3,   4,    //
                                     0.1, 0.2, 0.3, 0.4,  //
                                     5,   6,   7,   8,    //
                                     -1,  -2,  -3,  -4};
  auto v = *MakeStore("kivi", params, KvRole::kValue, shape);
  v->Append(0, 0, values.data(), 5, 4);
  EXPECT_EQ(static_cast<KiviStore&>(*v).n_quantized(0, 0), 1);
  v->Read(0, 0, 0, row.data());
  EXPECT_THAT(row, ::testing::ElementsAre(0, 0, 1, 3));
  for (int j = 1; j < 5; ++j) {
    v->Read(0, 0, j, row.data());
    EXPECT_THAT(row, ::testing::ElementsAreArray(&values[j * 4], 4)) << "value " << j;
  }
  // The old rule quantizes nothing before R + G = 8 tokens.
  ParamMap old = params;
  old["residual_rule"] = "kvbench";
  auto k_old = *MakeStore("kivi", old, KvRole::kKey, shape);
  k_old->Append(0, 0, keys.data(), 5, 4);
  EXPECT_EQ(static_cast<KiviStore&>(*k_old).n_quantized(0, 0), 0);
  // KIVI's rule needs R to be whole groups.
  auto bad = MakeStore("kivi", {{"group", "32"}, {"residual", "48"}}, KvRole::kKey, shape);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("multiple of 'group'"));
  old["residual"] = "6";
  EXPECT_TRUE(MakeStore("kivi", old, KvRole::kKey, shape).ok());
}

TEST(KvStoreMemory, BytesPerValueOfKnownFormats) {
  auto bpv = [](const char* name, int hd, ParamMap p = {}, KvRole role = KvRole::kKey) {
    return *BytesPerValue(name, p, role, hd) * 8;  // bits
  };
  EXPECT_EQ(bpv("f32", 128), 32);
  EXPECT_EQ(bpv("f16", 8), 16);
  EXPECT_EQ(bpv("q8_0", 128), 8.5);
  EXPECT_EQ(bpv("q4_0", 128), 4.5);
  EXPECT_EQ(bpv("q4_1", 128), 5);
  EXPECT_EQ(bpv("q5_0", 128), 5.5);
  EXPECT_EQ(bpv("q5_1", 128), 6);
  EXPECT_EQ(bpv("q8_0", 8), 10);  // one block of 8 + its fp16 scale
  EXPECT_EQ(bpv("q4_0", 8), 6);
  EXPECT_EQ(bpv("q4_1", 8), 8);
  EXPECT_EQ(bpv("q5_0", 8), 7);  // d, 1 byte of qh, 4 of nibbles
  EXPECT_EQ(bpv("q5_1", 8), 9);
  EXPECT_EQ(bpv("int8", 8), 12);
  EXPECT_EQ(bpv("int8", 128), 8.25);
  EXPECT_EQ(bpv("kivi", 128), 3);                      // 2 + 32 bits / 32 tokens
  EXPECT_EQ(bpv("kivi", 128, {}, KvRole::kValue), 3);  // 2 + 32 bits / 32 channels
  EXPECT_EQ(bpv("kivi", 8, {}, KvRole::kValue), 6);    // groups of 8 channels
  EXPECT_EQ(bpv("kivi", 128, {{"bits", "4"}}), 5);
  EXPECT_EQ(bpv("fp8_e4m3", 8), 8);
}

TEST(StoreRegistry, ErrorsNameTheProblem) {
  auto unknown = MakeStore("q3_k", {}, KvRole::kKey, Shape(16));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("q8_0"));
  auto bits = MakeStore("kivi", {{"bits", "3"}}, KvRole::kKey, Shape(16));
  EXPECT_EQ(bits.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bits.status().message()), HasSubstr("bits"));
  auto typo = MakeStore("kivi", {{"bitz", "2"}}, KvRole::kKey, Shape(16));
  EXPECT_THAT(std::string(typo.status().message()), HasSubstr("residual"));
  auto odd = MakeStore("q5_0", {}, KvRole::kKey, Shape(12));
  EXPECT_EQ(odd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(odd.status().message()), HasSubstr("head_dim 12"));
  auto scale = MakeStore("fp8_e4m3", {{"scale", "token"}}, KvRole::kKey, Shape(16));
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("head, tensor"));
  EXPECT_EQ((*MakeStore("kivi", {{"bits", "4"}}, KvRole::kKey, Shape(16)))->name(),
            "kivi(bits=4,group=32,residual=128,residual_rule=kivi)");
  EXPECT_EQ((*MakeStore("fp8_e5m2", {}, KvRole::kKey, Shape(16)))->name(),
            "fp8_e5m2(amax=0,calibrate=false,scale=head)");
  for (const StoreInfo& info : StoreRegistry()) EXPECT_FALSE(info.description.empty()) << info.name;
}

// fp8 calibration rules (issue 16): calibrate=vllm divides the first rows' amax by 200 for K and
// 100 for V (vLLM's calculate_kv_scales), leaving e4m3 448 / 200 = 2.24x (K) and 4.48x (V) of
// headroom for later tokens; calibrate=max maps the first rows' amax to the format's max, so a
// later value above it saturates there; calibrate=false keeps scale 1.
TEST(Fp8Store, CalibrationRules) {
  auto later_read_back = [](const char* rule, KvRole role, float later) {
    auto store = *MakeStore("fp8_e4m3", {{"calibrate", rule}}, role, Shape(16));
    std::vector<float> first(16, 0.5f);
    first[3] = -1.0f;  // amax 1
    std::vector<float> next(16, 0.0f);
    next[0] = later;
    store->Append(0, 0, first.data(), 1, 16);
    store->Append(0, 0, next.data(), 1, 16);
    std::vector<float> out(16);
    store->Read(0, 0, 1, out.data());
    return out[0];
  };
  EXPECT_NEAR(later_read_back("vllm", KvRole::kKey, 2.0f), 2.0f, 2.0f / 16);
  EXPECT_NEAR(later_read_back("vllm", KvRole::kKey, 3.0f), 448.0f / 200, 1e-5);  // saturated
  EXPECT_NEAR(later_read_back("vllm", KvRole::kValue, 4.0f), 4.0f, 4.0f / 16);
  EXPECT_NEAR(later_read_back("vllm", KvRole::kValue, 5.0f), 448.0f / 100, 1e-5);
  EXPECT_NEAR(later_read_back("max", KvRole::kKey, 2.0f), 1.0f, 1e-6);
  EXPECT_EQ(later_read_back("false", KvRole::kKey, 2.0f), 2.0f);  // scale 1: 2 is exact
  auto old_spelling = MakeStore("fp8_e4m3", {{"calibrate", "true"}}, KvRole::kKey, Shape(16));
  EXPECT_THAT(std::string(old_spelling.status().message()), HasSubstr("false, vllm, max"));
}

// KIVI keys are quantized per channel: within a group each channel's error is at most half its own
// step, so an outlier channel does not degrade the others (the paper's reason for per-channel
// keys).
TEST(KiviStore, PerChannelKeyErrorWithinHalfStep) {
  const int hd = 16, G = 32;
  for (int bits : {2, 4, 8}) {
    auto s =
        *MakeStore("kivi", {{"bits", std::to_string(bits)}, {"group", "32"}, {"residual", "0"}},
                   KvRole::kKey, Shape(hd));
    std::mt19937 rng(bits);
    std::vector<float> rows = Random(rng, static_cast<size_t>(G) * hd);
    for (int t = 0; t < G; ++t) rows[t * hd + 3] *= 100;  // an outlier channel
    s->Append(0, 0, rows.data(), G, hd);
    ASSERT_EQ(static_cast<KiviStore&>(*s).n_residual(0, 0), 0);
    std::vector<float> back(hd);
    for (int c = 0; c < hd; ++c) {
      float lo = rows[c], hi = rows[c];
      for (int t = 0; t < G; ++t) {
        lo = std::min(lo, rows[t * hd + c]);
        hi = std::max(hi, rows[t * hd + c]);
      }
      const double step = (hi - lo) / ((1 << bits) - 1);
      const double slack = std::max(std::fabs(lo), std::fabs(hi)) / 1024;  // fp16 scale and min
      for (int t = 0; t < G; ++t) {
        s->Read(0, 0, t, back.data());
        ASSERT_LE(std::fabs(back[c] - rows[t * hd + c]), step / 2 + slack)
            << bits << " c " << c << " t " << t;
      }
    }
  }
}

}  // namespace
}  // namespace kvbench
