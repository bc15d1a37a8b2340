// The capacity planner (sim/planner.h): its byte counts against what the runtime's PolicyCache
// reports after running the real tiny models for every registered store, and its arithmetic
// against hand-computed numbers for a published shape.
#include "sim/planner.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "model/session.h"
#include "policies/registry.h"
#include "policies/spec_text.h"
#include "stores/store_registry.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

struct RuntimeBytes {
  uint64_t k = 0, v = 0, total = 0;
  uint64_t payload = 0, index = 0;  // KvMemory's split of total
  int entries = 0;                  // per (layer 0, head 0)
};

// Runs `tokens` through a fresh cache: one prefill block of `prompt`, then one token per step.
absl::StatusOr<RuntimeBytes> RunCache(Decoder& decoder, const CacheSpec& spec,
                                      const std::vector<int>& tokens, int prompt) {
  const ModelConfig& c = decoder.config();
  auto cache = MakeCache(spec, CacheShape::ForModel(c, static_cast<int>(tokens.size())));
  if (!cache.ok()) return cache.status();
  PolicyCache* pc = cache->get();
  Session session(std::move(*cache));
  std::vector<float> logits(c.vocab_size);
  Feed(decoder, session, absl::MakeConstSpan(tokens.data(), prompt), false, logits.data());
  for (size_t i = prompt; i < tokens.size(); ++i) {
    Feed(decoder, session, absl::MakeConstSpan(&tokens[i], 1), false, logits.data());
  }
  RuntimeBytes b;
  for (int l = 0; l < c.n_layers; ++l) {
    b.k += pc->k_store().memory(l).logical;
    b.v += pc->v_store().memory(l).logical;
  }
  const KvMemory m = pc->total_memory(c.n_layers);
  b.total = m.logical;
  b.payload = m.payload;
  b.index = m.index;
  b.entries = static_cast<int>(pc->positions(0, 0).size());
  return b;
}

std::vector<int> Tokens(int n, int vocab) {
  std::vector<int> t(n);
  t[0] = 1;
  for (int i = 1; i < n; ++i) t[i] = (i * 37 + 11) % vocab;
  return t;
}

// Every registered store with default parameters, plus KIVI variants whose residual and groups
// are small enough that the sequences below quantize several groups (and end mid-group).
std::vector<std::string> StoreSpecs() {
  std::vector<std::string> specs;
  for (const StoreInfo& info : StoreRegistry()) specs.push_back(info.name);
  specs.push_back("kivi(bits=4,group=8,residual=16)");
  specs.push_back("kivi(bits=2,group=16,residual=0)");
  specs.push_back("fp8_e4m3(scale=tensor)");
  return specs;
}

class PlannerRuntimeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PlannerRuntimeTest, StoreBytesEqualPolicyCacheForEveryStore) {
  auto model = LoadModel(GetParam());
  ASSERT_TRUE(model.ok()) << model.status();
  Decoder decoder(**model);
  const ModelConfig& c = (*model)->config;
  const std::vector<int> tokens = Tokens(203, c.vocab_size);  // 203: ends mid KIVI group
  int checked = 0;
  for (const std::string& text : StoreSpecs()) {
    SCOPED_TRACE(text);
    auto named = ParseNamedParams(text);
    ASSERT_TRUE(named.ok()) << named.status();
    CacheSpec spec{.policy = "full",
                   .policy_params = {},
                   .k_store = named->first,
                   .k_params = named->second,
                   .v_store = named->first,
                   .v_params = named->second};
    auto runtime = RunCache(decoder, spec, tokens, 64);
    const CacheShape shape = CacheShape::ForModel(c, static_cast<int>(tokens.size()));
    auto k = StoreBytes(named->first, named->second, KvRole::kKey, shape,
                        runtime.ok() ? runtime->entries : 1);
    auto v = StoreBytes(named->first, named->second, KvRole::kValue, shape,
                        runtime.ok() ? runtime->entries : 1);
    if (!runtime.ok()) {
      // A store that rejects the shape at run time must be rejected by the planner too.
      EXPECT_FALSE(k.ok() && v.ok()) << "runtime: " << runtime.status();
      continue;
    }
    ASSERT_TRUE(k.ok()) << k.status();
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(runtime->entries, static_cast<int>(tokens.size()));
    EXPECT_EQ(*k, runtime->k);
    EXPECT_EQ(*v, runtime->v);

    // The whole plan: K + V + positions equals the cache's logical bytes (full keeps no scores).
    PlannedModel pm = PlannedModelFromModel(**model, GetParam());
    PlanRequest q{.context = static_cast<int64_t>(tokens.size()),
                  .batch = 3,
                  .k_store = named->first,
                  .k_params = named->second,
                  .v_store = named->first,
                  .v_params = named->second};
    auto plan = MakePlan(pm, q);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->kv_bytes_per_sequence, runtime->k + runtime->v);
    EXPECT_EQ(runtime->payload, runtime->k + runtime->v);
    EXPECT_EQ(plan->index_bytes_per_sequence, runtime->index);
    EXPECT_EQ(plan->cache_bytes_per_sequence, runtime->total);
    EXPECT_EQ(plan->cache_bytes_total, 3 * runtime->total);
    ++checked;
  }
  EXPECT_GE(checked, static_cast<int>(StoreRegistry().size()) - 2)
      << "too many stores rejected the model";
}

TEST_P(PlannerRuntimeTest, BudgetedPlanEqualsWindowCacheForRowStores) {
  auto model = LoadModel(GetParam());
  ASSERT_TRUE(model.ok()) << model.status();
  Decoder decoder(**model);
  const std::vector<int> tokens = Tokens(150, (*model)->config.vocab_size);
  PlannedModel pm = PlannedModelFromModel(**model, GetParam());
  for (const std::string store : {"f32", "f16", "q8_0", "q4_0", "int8", "fp8_e5m2"}) {
    SCOPED_TRACE(store);
    CacheSpec spec{.policy = "window",
                   .policy_params = {{"budget", "48"}},
                   .k_store = store,
                   .k_params = {},
                   .v_store = store,
                   .v_params = {}};
    auto runtime = RunCache(decoder, spec, tokens, 32);
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    EXPECT_EQ(runtime->entries, 48);
    PlanRequest q{.context = 150,
                  .batch = 1,
                  .k_store = store,
                  .v_store = store,
                  .policy = "window",
                  .budget = "48"};
    auto plan = MakePlan(pm, q);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->entries_per_head, 48);
    EXPECT_EQ(plan->k_bytes_per_sequence, runtime->k);
    EXPECT_EQ(plan->v_bytes_per_sequence, runtime->v);
    EXPECT_EQ(plan->kv_bytes_per_sequence, runtime->payload);
    EXPECT_EQ(plan->index_bytes_per_sequence, runtime->index);
    EXPECT_EQ(plan->cache_bytes_per_sequence, runtime->total);
  }
}

INSTANTIATE_TEST_SUITE_P(RealModels, PlannerRuntimeTest,
                         ::testing::Values("stories260K", "tinystories656k"));

// Llama-3-8B: 32 layers x 8 KV heads x 128 dims. f16 K and V: 2 * 32 * 8 * 128 * 2 = 131072 bytes
// per token of payload (the 128 KiB any runtime needs), and apart from it 32 * 8 * 4 = 1024 bytes
// of PolicyCache positions.
TEST(PlannerTest, Llama3_8bByHand) {
  auto m = PlannedModelFromPreset("llama-3-8b", DType::kF16);
  ASSERT_TRUE(m.ok()) << m.status();
  // Weights: embedding and classifier 128256 x 4096 each, 32 layers of
  // 4096*4096*2 (q, o) + 1024*4096*2 (k, v) + 3*14336*4096 (ffn), norms f32.
  const uint64_t layer = 2ull * (4096ull * 4096 * 2 + 1024ull * 4096 * 2 + 3ull * 14336 * 4096);
  const uint64_t embedding = 2ull * 128256 * 4096;
  const uint64_t norms = (2ull * 32 + 1) * 4096 * 4;
  EXPECT_EQ(m->weight_bytes, 32 * layer + 2 * embedding + norms);
  EXPECT_EQ(m->weight_read_bytes, 32 * layer + embedding + norms + 2 * 4096);

  PlanRequest q{.context = 8192,
                .batch = 4,
                .k_store = "f16",
                .v_store = "f16",
                .memory_bytes = 80ull << 30,
                .bandwidth = 1e12};
  auto p = MakePlan(*m, q);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_DOUBLE_EQ(p->kv_bytes_per_token, 131072);
  EXPECT_DOUBLE_EQ(p->index_bytes_per_token, 1024);
  EXPECT_EQ(p->k_bytes_per_sequence, 8192ull * 65536);
  EXPECT_EQ(p->kv_bytes_per_sequence, 8192ull * 131072);
  EXPECT_EQ(p->index_bytes_per_sequence, 8192ull * 1024);
  EXPECT_EQ(p->cache_bytes_per_sequence, 8192ull * (131072 + 1024));
  EXPECT_EQ(p->cache_bytes_total, 4 * 8192ull * (131072 + 1024));
  const uint64_t avail = (80ull << 30) - m->weight_bytes;
  EXPECT_EQ(p->max_batch, static_cast<int64_t>(avail / (8192ull * 132096)));
  EXPECT_EQ(p->max_context, static_cast<int64_t>(avail / 4 / 132096));
  EXPECT_TRUE(p->fits);
  const double bytes = static_cast<double>(m->weight_read_bytes) + 4.0 * 8192 * 131072;
  EXPECT_DOUBLE_EQ(p->step_seconds, bytes / 1e12);
  EXPECT_DOUBLE_EQ(p->tokens_per_second, 4 / (bytes / 1e12));

  // q8_0: 34 bytes per 32 values; a window of 1024 caps the entries.
  q.k_store = q.v_store = "q8_0";
  q.policy = "window";
  q.budget = "1024";
  auto w = MakePlan(*m, q);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->entries_per_head, 1024);
  EXPECT_EQ(w->k_bytes_per_sequence, 1024ull * 32 * 8 * 4 * 34);
  EXPECT_DOUBLE_EQ(w->kv_bytes_per_token, 2.0 * 32 * 8 * 4 * 34);  // scales in the payload
  EXPECT_EQ(w->max_context, -2);  // any context fits: the window bounds the cache

  // Does not fit: 8 GiB is less than the weights.
  q.memory_bytes = 8ull << 30;
  auto small = MakePlan(*m, q);
  ASSERT_TRUE(small.ok());
  EXPECT_FALSE(small->fits);
  EXPECT_EQ(small->max_batch, 0);
  EXPECT_EQ(small->max_context, 0);
}

TEST(PlannerTest, KiviResidualSplit) {
  CacheShape shape{.n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .head_dim = 64};
  // 2 layers x 2 KV heads. 2-bit keys: 16 code bytes per token, 4 * 64 bytes of params per group
  // of 32 tokens; values: 16 code bytes and 2 groups x 4 bytes of params per token; f32: 256.
  // KIVI's rule (R = 128, G = 32): keys leave the residual 128 at a time, values beyond the newest
  // 128. At 127 tokens all f32; at 200, 128 keys (4 groups) and 72 values are quantized.
  EXPECT_EQ(*StoreBytes("kivi", {}, KvRole::kKey, shape, 127), 4ull * 127 * 256);
  EXPECT_EQ(*StoreBytes("kivi", {}, KvRole::kKey, shape, 200),
            4ull * (128 * 16 + 4 * 256 + 72 * 256));
  EXPECT_EQ(*StoreBytes("kivi", {}, KvRole::kValue, shape, 200), 4ull * (72 * 24 + 128 * 256));
  // kvbench's rule: below R + G everything is f32; at 200 tokens 64 are quantized, 136 residual.
  const ParamMap old = {{"residual_rule", "kvbench"}};
  EXPECT_EQ(*StoreBytes("kivi", old, KvRole::kKey, shape, 159), 4ull * 159 * 256);
  EXPECT_EQ(*StoreBytes("kivi", old, KvRole::kKey, shape, 200),
            4ull * (64 * 16 + 2 * 256 + 136 * 256));
}

TEST(PlannerTest, ErrorsNameTheField) {
  auto m = PlannedModelFromPreset("mistral-7b", DType::kBF16);
  ASSERT_TRUE(m.ok());
  EXPECT_THAT(MakePlan(*m, {.context = 0}).status().message(), HasSubstr("--context"));
  EXPECT_THAT(MakePlan(*m, {.context = 10, .k_store = "q3"}).status().message(),
              HasSubstr("unknown store 'q3'"));
  EXPECT_THAT(MakePlan(*m, {.context = 10, .policy = "h2o"}).status().message(),
              HasSubstr("needs --budget"));
  EXPECT_THAT(MakePlan(*m, {.context = 10, .policy = "full", .budget = "4"}).status().message(),
              HasSubstr("takes no budget"));
  EXPECT_THAT(MakePlan(*m, {.context = 10, .policy = "lru"}).status().message(), HasSubstr("lru"));
  EXPECT_EQ(PlannedModelFromPreset("llama-9", DType::kF16).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PlannerTest, ParseByteSize) {
  EXPECT_EQ(*ParseByteSize("80GiB"), 80ull << 30);
  EXPECT_EQ(*ParseByteSize("1.5 GB"), 1500000000ull);
  EXPECT_EQ(*ParseByteSize("512"), 512ull);
  EXPECT_EQ(*ParseByteSize("2t"), 2ull << 40);
  EXPECT_FALSE(ParseByteSize("GiB").ok());
  EXPECT_FALSE(ParseByteSize("12 parsecs").ok());
  EXPECT_FALSE(ParseByteSize("1e30").ok());
  EXPECT_FALSE(ParseByteSize("-3GB").ok());
  EXPECT_EQ(FormatBytes(1536), "1.50 KiB");
}

}  // namespace
}  // namespace kvbench
