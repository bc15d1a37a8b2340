// Decoder micro-benchmarks: the memory-bandwidth probe, MatMul per weight dtype and shape, and one
// full decode step per preset shape and context. Every bytes/s figure is also reported as a
// fraction of the bandwidth probe measured at start-up in the same process ("bw_fraction").
//
//   build/bench/decoder_bench [--benchmark_filter=...] [--shapes=tinyllama-1.1b,...]
//
// Decode steps use synthetic weights (speed only) with a cache pre-filled with random K/V to the
// stated context (`full` f32, or each policy at budget 512 for BM_PolicyDecodeStep); stories260K
// and the --model_files (default: kvb-docs-12M-Q4_K_M.gguf, whose Q4_K / Q6_K / Q5_0 / Q8_0
// matrices no synthetic model has) run on their real weights, in their file types.
//
//   --shapes=a,b  --dtypes=f32,f16,bf16,q8_0  --policy_shape=stories110M  --model_files=a.gguf,b
//
// --dtypes also takes q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k for BM_MatMul (random blocks).
//
// BM_Prefill: one prefill block of 1024-4096 random tokens on the real kvb-docs-12M (BF16), into
// `full` alone or with 16 policy caches as lockstep mirrors (the needle task's sweep).
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/aligned.h"
#include "benchmark/benchmark.h"
#include "harness/bandwidth_probe.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "model/ops.h"
#include "model/presets.h"
#include "model/quant_weights.h"
#include "model/session.h"
#include "model/simd.h"
#include "model/synthetic.h"
#include "policies/policy_cache.h"
#include "policies/registry.h"

namespace kvbench {
namespace {

double g_bandwidth = 0.0;  // bytes/s, measured once at start-up

void ReportBandwidth(benchmark::State& state, double bytes_per_iteration) {
  state.SetBytesProcessed(static_cast<int64_t>(bytes_per_iteration * state.iterations()));
  state.counters["bw_fraction"] = benchmark::Counter(bytes_per_iteration / g_bandwidth,
                                                     benchmark::Counter::kIsIterationInvariantRate);
}

void BM_MemoryBandwidth(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(g_bandwidth = MeasureReadBandwidth(size_t{2} << 30, 3));
  state.counters["GB/s"] = g_bandwidth / 1e9;
}

struct MatMulCase {
  DType dtype;
  int rows, cols;
  int vectors;  // input vectors per call: 1 = decode, 17 = a lockstep sweep of 16 policies +
                // reference
};

void BM_MatMul(benchmark::State& state, MatMulCase c) {
  Model holder;
  const size_t bytes = RowBytes(c.dtype, c.cols) * c.rows;
  std::byte* data = holder.Allocate(bytes);
  std::mt19937 rng(1);
  if (IsGgmlBlockType(c.dtype)) {
    // Not quantized from f32 (QuantizeRow writes no block type): random bytes whose odd bytes
    // keep every fp16 scale finite, wherever in a block it sits. The speed is the same.
    auto* b = reinterpret_cast<uint8_t*>(data);
    for (size_t i = 0; i < bytes; ++i) b[i] = static_cast<uint8_t>(rng()) & (i % 2 ? 0x3B : 0xFF);
  } else {
    std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
    std::vector<float> row(c.cols);
    for (int r = 0; r < c.rows; ++r) {
      for (float& v : row) v = dist(rng);
      QuantizeRow(c.dtype, row.data(), c.cols, data + RowBytes(c.dtype, c.cols) * r);
    }
  }
  WeightMatrix w{.dtype = c.dtype, .rows = c.rows, .cols = c.cols, .data = data};
  AlignedVector<float> x(static_cast<size_t>(c.cols) * c.vectors, 0.5f),
      y(static_cast<size_t>(c.rows) * c.vectors);
  for (auto _ : state) {
    MatMul(w, x.data(), c.vectors, y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * c.vectors);
  ReportBandwidth(state, static_cast<double>(bytes));
  // Multiply-adds per second: what bounds a call once enough vectors share each weight read.
  state.counters["GFMA/s"] =
      benchmark::Counter(static_cast<double>(c.rows) * c.cols * c.vectors / 1e9,
                         benchmark::Counter::kIsIterationInvariantRate);
}

// One model at a time stays in memory (the 1B-class shapes take gigabytes). stories260K and a .gguf
// path are loaded as stored (`dtype` is then only part of the key).
const Model& SyntheticModel(const std::string& shape, DType dtype) {
  static std::string key;
  static std::unique_ptr<Model> model;
  const std::string want = absl::StrCat(shape, "/", DTypeName(dtype));
  if (key != want) {
    model.reset();
    if (shape == "stories260K" || shape.ends_with(".gguf")) {
      model = LoadModel(shape).value();
    } else {
      model = MakeSyntheticModel(FindShapePreset(shape).value().config, dtype, 7).value();
    }
    key = want;
  }
  return *model;
}

// A session whose cache (of `spec`) has seen `context` tokens; the policy has applied its budget.
std::unique_ptr<Session> FilledSession(const Model& model, int context, const CacheSpec& spec) {
  const ModelConfig& c = model.config;
  const CacheShape shape = CacheShape::ForModel(c, context + 4096);
  std::unique_ptr<PolicyCache> cache = MakeCache(spec, shape).value();
  if (context > 0) {  // random K/V rows stand in for a prefilled context
    std::mt19937 rng(3);
    std::normal_distribution<float> dist;
    std::vector<float> k(static_cast<size_t>(context) * c.kv_dim()), v(k.size());
    for (float& x : k) x = dist(rng);
    for (float& x : v) x = dist(rng);
    cache->BeginStep(0, context);
    for (int l = 0; l < c.n_layers; ++l) cache->Append(l, k.data(), v.data());
    cache->EndStep();
  }
  return std::make_unique<Session>(std::move(cache));
}

void BM_DecodeStep(benchmark::State& state, std::string shape, DType dtype, int context,
                   CacheSpec spec) {
  const Model& model = SyntheticModel(shape, dtype);
  Decoder decoder(model);
  // The cache is refilled every kRefill steps so the context stays near the stated value.
  constexpr int kRefill = 64;
  std::unique_ptr<Session> session = FilledSession(model, context, spec);
  std::vector<float> logits(model.config.vocab_size);
  int token = 1, steps = 0;
  // Session tracks tokens; prefilled K/V were appended behind its back, so feed through the cache.
  for (auto _ : state) {
    if (++steps % kRefill == 0) {
      state.PauseTiming();
      session = FilledSession(model, context, spec);
      state.ResumeTiming();
    }
    StepInput in{.cache = &session->cache(),
                 .tokens = absl::MakeConstSpan(&token, 1),
                 .pos0 = session->cache().n_past(),
                 .logits_begin = 0,
                 .logits = logits.data()};
    decoder.Forward(absl::MakeConstSpan(&in, 1));
    token = (token * 31 + 7) % model.config.vocab_size;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["tokens/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
  ReportBandwidth(state, static_cast<double>(model.weights.bytes_per_token()));
  const auto& cache = static_cast<const PolicyCache&>(session->cache());
  state.counters["kv_MB"] = cache.total_memory(model.config.n_layers).logical / 1e6;
}

// The caches of a lockstep prefill: `full` alone (mirrors 0), or `full` followed by 8 policies at
// budgets of 25% and 50% of the prompt, 16 mirrors (the needle task's sweep).
std::vector<CacheSpec> PrefillSpecs(int tokens, int mirrors) {
  std::vector<CacheSpec> specs(1);
  if (mirrors == 0) return specs;
  for (int budget : {tokens / 4, tokens / 2}) {
    for (const char* policy :
         {"window", "sinks", "h2o", "tova", "snapkv", "pyramidkv", "knorm", "adakv"}) {
      CacheSpec spec;
      spec.policy = policy;
      spec.policy_params["budget"] = absl::StrCat(budget);
      specs.push_back(spec);
    }
  }
  return specs;
}

// One prefill of `tokens` tokens on a real model file: a fresh primary cache (and its mirrors)
// each iteration, one decoder step, logits of the last token only.
void BM_Prefill(benchmark::State& state, std::string path, int tokens, int mirrors) {
  static std::string loaded;
  static std::unique_ptr<Model> model;
  if (loaded != path) {
    absl::StatusOr<std::unique_ptr<Model>> m = LoadModel(path);
    if (!m.ok()) {
      state.SkipWithError(std::string(m.status().message()).c_str());
      return;
    }
    model = *std::move(m);
    loaded = path;
  }
  const ModelConfig& c = model->config;
  if (c.context_length > 0 && tokens > c.context_length) {
    state.SkipWithError(absl::StrCat("the model's context is ", c.context_length).c_str());
    return;
  }
  Decoder decoder(*model);
  std::mt19937 rng(5);
  std::vector<int> prompt(tokens);
  for (int& t : prompt) t = static_cast<int>(rng() % c.vocab_size);
  const std::vector<CacheSpec> specs = PrefillSpecs(tokens, mirrors);
  std::vector<float> logits(c.vocab_size);
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<std::unique_ptr<Session>> sessions;
    std::vector<Session*> mirror_ptrs;
    for (const CacheSpec& spec : specs) {
      sessions.push_back(
          std::make_unique<Session>(MakeCache(spec, CacheShape::ForModel(c, tokens + 64)).value()));
      if (sessions.size() > 1) mirror_ptrs.push_back(sessions.back().get());
    }
    state.ResumeTiming();
    FeedMirrored(decoder, *sessions[0], mirror_ptrs, prompt, false, logits.data());
    benchmark::DoNotOptimize(logits.data());
    state.PauseTiming();
    sessions.clear();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * tokens);
  state.counters["tokens/s"] =
      benchmark::Counter(tokens, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace
}  // namespace kvbench

int main(int argc, char** argv) {
  using namespace kvbench;
  std::string shapes = "stories260K,stories110M,smollm-135m,tinyllama-1.1b,llama-3.2-1b";
  std::string dtypes = "f32,f16,bf16,q8_0";
  // Per-token cost against context under each policy (budget 512): full grows, the others stay
  // flat.
  std::string policy_shape = "stories110M";
  std::string model_files =
      std::string(KVBENCH_SHARED_DIR) + "/models/kvb-docs-12M/kvb-docs-12M-Q4_K_M.gguf";
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--shapes=", 9) == 0) {
      shapes = argv[i] + 9;
    } else if (std::strncmp(argv[i], "--policy_shape=", 15) == 0) {
      policy_shape = argv[i] + 15;
    } else if (std::strncmp(argv[i], "--dtypes=", 9) == 0) {
      dtypes = argv[i] + 9;
    } else if (std::strncmp(argv[i], "--model_files=", 14) == 0) {
      model_files = argv[i] + 14;
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  g_bandwidth = MeasureReadBandwidth();
  std::fprintf(stderr, "bandwidth probe: %.2f GB/s read (2 GiB buffer, %d threads); kernels: %s\n",
               g_bandwidth / 1e9, NumThreads(), kSimdName);
  benchmark::RegisterBenchmark("BM_MemoryBandwidth", BM_MemoryBandwidth)
      ->Iterations(1)
      ->UseRealTime();
  const std::map<std::string, DType> kDTypes = {
      {"f32", DType::kF32},   {"f16", DType::kF16},   {"bf16", DType::kBF16},
      {"q8_0", DType::kQ8_0}, {"q4_0", DType::kQ4_0}, {"q4_1", DType::kQ4_1},
      {"q5_0", DType::kQ5_0}, {"q5_1", DType::kQ5_1}, {"q4_k", DType::kQ4_K},
      {"q5_k", DType::kQ5_K}, {"q6_k", DType::kQ6_K}};
  std::vector<DType> dtype_list;
  for (absl::string_view d : absl::StrSplit(dtypes, ','))
    dtype_list.push_back(kDTypes.at(std::string(d)));
  for (DType d : dtype_list) {
    for (auto [rows, cols] : std::vector<std::pair<int, int>>{
             {2048, 2048}, {5632, 2048}, {2048, 5632}, {32000, 2048}}) {
      for (int vectors : {1, 2, 17}) {
        benchmark::RegisterBenchmark(absl::StrCat("BM_MatMul/dtype:", DTypeName(d), "/rows:", rows,
                                                  "/cols:", cols, "/vectors:", vectors)
                                         .c_str(),
                                     BM_MatMul, MatMulCase{d, rows, cols, vectors})
            ->UseRealTime();
      }
    }
  }
  for (absl::string_view s : absl::StrSplit(shapes, ',')) {
    const std::string shape(s);
    for (DType d : dtype_list) {
      if (shape == "stories260K" && d != DType::kF32) continue;  // the real file is f32
      if (IsGgmlBlockType(d)) continue;  // no synthetic model in a block type: see --model_files
      for (int ctx : {0, 512, 2048, 8192}) {
        benchmark::RegisterBenchmark(
            absl::StrCat("BM_DecodeStep/shape:", shape, "/dtype:", DTypeName(d), "/ctx:", ctx)
                .c_str(),
            BM_DecodeStep, shape, d, ctx, CacheSpec{})
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  for (absl::string_view f : absl::StrSplit(model_files, ',', absl::SkipEmpty())) {
    const std::string path(f);
    const std::string name = path.substr(path.find_last_of('/') + 1);
    for (int ctx : {0, 512, 2048}) {
      benchmark::RegisterBenchmark(absl::StrCat("BM_DecodeStep/model:", name, "/ctx:", ctx).c_str(),
                                   BM_DecodeStep, path, DType::kF32, ctx, CacheSpec{})
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (const char* policy : {"full", "window", "sinks", "h2o"}) {
    CacheSpec spec;
    spec.policy = policy;
    if (spec.policy != "full") spec.policy_params["budget"] = "512";
    for (int ctx : {512, 1024, 2048, 4096, 8192}) {
      benchmark::RegisterBenchmark(
          absl::StrCat("BM_PolicyDecodeStep/shape:", policy_shape, "/policy:", policy, "/ctx:", ctx)
              .c_str(),
          BM_DecodeStep, policy_shape, DType::kF32, ctx, spec)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  const std::string prefill_model = std::string(KVBENCH_SHARED_DIR) + "/models/kvb-docs-12M";
  for (int mirrors : {0, 16}) {
    for (int tokens : {1024, 2048, 4096}) {
      benchmark::RegisterBenchmark(
          absl::StrCat("BM_Prefill/model:kvb-docs-12M/tokens:", tokens, "/mirrors:", mirrors)
              .c_str(),
          BM_Prefill, prefill_model, tokens, mirrors)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
