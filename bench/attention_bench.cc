// Attention over one KV head of a long synthetic cache, per store: one decode token of a GQA group
// of 4 query heads (n_q = 4) scores every cached key (Dot) and sums the values (Accumulate), the
// two store calls PolicyCache makes per head. The softmax between them is the decoder's, identical
// for every store, so it is computed once outside the timed loop (the weights are fixed): the time
// is the stores' reading of K and V. Cases are registered at run time:
//
//   BM_Attend/store:<name>/ctx:<cached tokens>/head_dim:<64|128>
//
// <name> is the store's registry name, or its spec with parameters for the sets its registry entry
// asks to be measured (StoreInfo::bench_params, e.g. kivi(bits=4)).
//
// One head's K and V (at most 32 MiB in f32 at 32k tokens) stay in this VM's L2/L3, so those cases
// measure the kernels' arithmetic. A real long-context decode reads every layer's cache once per
// token, far more than the last-level cache holds; the model cases measure that, memory-bound
// regime:
//
//   BM_AttendModel/store:<name>/ctx:<cached tokens>/head_dim:<64|128>
//
// attend a GQA group of 4 query heads over each of kModelHeads (layer, KV head) pairs in turn, as
// the decoder does per token: 32 heads at 8k tokens (8 layers x 4 KV heads), 8 at 32k (2 x 4), so
// the f16 cache is 128 MiB (head_dim 128) or 64 MiB (64) and even q4_0's is >= 18 MiB, most of
// a 32 MiB L3 that the timed loop walks round and round.
//
// Counters: items_per_second = cached tokens attended per second; bytes_per_second = K + V bytes
// the store holds (logical) read per second. Rows are N(0, 1) noise: the kernels' speed does not
// depend on the values. Run e.g. --benchmark_filter='ctx:8192/' to compare stores at one length.
#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "benchmark/benchmark.h"
#include "model/ops.h"
#include "stores/store_registry.h"

namespace kvbench {
namespace {

constexpr int kGroup = 4;  // query heads per KV head

struct StoreCase {
  std::string label;
  std::string store;
  ParamMap params;
};

// The K and V stores of case `c`, or nothing (the case skipped) when the registry refuses it.
std::optional<std::pair<std::unique_ptr<KvStore>, std::unique_ptr<KvStore>>> MakeKv(
    benchmark::State& state, const StoreCase& c, const CacheShape& shape) {
  auto k = MakeStore(c.store, c.params, KvRole::kKey, shape);
  auto v = MakeStore(c.store, c.params, KvRole::kValue, shape);
  if (!k.ok() || !v.ok()) {
    state.SkipWithError((k.ok() ? v.status() : k.status()).ToString().c_str());
    return std::nullopt;
  }
  return std::make_pair(*std::move(k), *std::move(v));
}

// A GQA group's queries and their softmax weights over head (0, 0)'s keys. The weights are fixed
// outside the timed loop (the softmax is the decoder's, the same for every store).
void GroupQueries(const KvStore& k, int ctx, int head_dim, std::mt19937& rng, std::vector<float>* q,
                  std::vector<float>* probs) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  q->resize(static_cast<size_t>(kGroup) * head_dim);
  for (float& x : *q) x = dist(rng);
  probs->resize(static_cast<size_t>(kGroup) * ctx);
  k.Dot(0, 0, ctx, q->data(), kGroup, probs->data(), ctx);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int i = 0; i < kGroup; ++i) {
    float* p = &(*probs)[static_cast<size_t>(i) * ctx];
    for (int j = 0; j < ctx; ++j) p[j] *= scale;
    Softmax(p, ctx);
  }
}

void BM_Attend(benchmark::State& state, const StoreCase& c, int ctx, int head_dim) {
  const CacheShape shape{.n_layers = 1,
                         .n_heads = kGroup,
                         .n_kv_heads = 1,
                         .head_dim = head_dim,
                         .rope_dims = head_dim,
                         .rope_theta = 10000.0f,
                         .context_tokens = ctx};
  auto stores = MakeKv(state, c, shape);
  if (!stores) return;
  KvStore* k = stores->first.get();
  KvStore* v = stores->second.get();
  std::mt19937 rng(ctx + head_dim);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> rows(static_cast<size_t>(1024) * head_dim);
  for (int done = 0; done < ctx; done += 1024) {
    const int n = std::min(1024, ctx - done);
    for (float& x : rows) x = dist(rng);
    k->Append(0, 0, rows.data(), n, head_dim);
    v->Append(0, 0, rows.data(), n, head_dim);
  }
  std::vector<float> q, probs;
  GroupQueries(*k, ctx, head_dim, rng, &q, &probs);
  std::vector<float> scores(probs.size()), out(q.size());
  for (auto _ : state) {
    k->Dot(0, 0, ctx, q.data(), kGroup, scores.data(), ctx);
    v->Accumulate(0, 0, ctx, probs.data(), ctx, kGroup, out.data());
    benchmark::DoNotOptimize(scores.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const uint64_t bytes = k->memory(0).logical + v->memory(0).logical;
  state.SetItemsProcessed(state.iterations() * ctx);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["kv_bytes"] = static_cast<double>(bytes);
}

// Tokens x (layer, KV head) pairs of the model cases: 262144 rows per role in each.
constexpr int kModelRows = 8 * 4 * 8192;

void BM_AttendModel(benchmark::State& state, const StoreCase& c, int ctx, int head_dim) {
  const int heads = kModelRows / ctx, n_kv_heads = 4, n_layers = heads / n_kv_heads;
  const CacheShape shape{.n_layers = n_layers,
                         .n_heads = kGroup * n_kv_heads,
                         .n_kv_heads = n_kv_heads,
                         .head_dim = head_dim,
                         .rope_dims = head_dim,
                         .rope_theta = 10000.0f,
                         .context_tokens = ctx};
  auto stores = MakeKv(state, c, shape);
  if (!stores) return;
  KvStore* k = stores->first.get();
  KvStore* v = stores->second.get();
  std::mt19937 rng(ctx + head_dim);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  // One block of noise appended to every head (the speed does not depend on the values).
  std::vector<float> rows(static_cast<size_t>(1024) * head_dim);
  for (float& x : rows) x = dist(rng);
  for (int l = 0; l < n_layers; ++l) {
    for (int h = 0; h < n_kv_heads; ++h) {
      for (int done = 0; done < ctx; done += 1024) {
        const int n = std::min(1024, ctx - done);
        k->Append(l, h, rows.data(), n, head_dim);
        v->Append(l, h, rows.data(), n, head_dim);
      }
    }
  }
  std::vector<float> q, probs;
  GroupQueries(*k, ctx, head_dim, rng, &q, &probs);
  std::vector<float> scores(probs.size()), out(q.size());
  for (auto _ : state) {
    for (int l = 0; l < n_layers; ++l) {
      for (int h = 0; h < n_kv_heads; ++h) {
        k->Dot(l, h, ctx, q.data(), kGroup, scores.data(), ctx);
        v->Accumulate(l, h, ctx, probs.data(), ctx, kGroup, out.data());
        benchmark::DoNotOptimize(scores.data());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
      }
    }
  }
  uint64_t bytes = 0;
  for (int l = 0; l < n_layers; ++l) bytes += k->memory(l).logical + v->memory(l).logical;
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kModelRows));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["kv_bytes"] = static_cast<double>(bytes);
}

void RegisterAll() {
  std::vector<StoreCase> cases;
  for (const StoreInfo& info : StoreRegistry()) {
    if (info.bench_params.empty()) cases.push_back({info.name, info.name, {}});
    for (const ParamMap& params : info.bench_params) {
      // The spec as YAML and the CLI spell it, e.g. "kivi(bits=4)".
      const std::string label =
          absl::StrCat(info.name, "(", absl::StrJoin(params, ",", absl::PairFormatter("=")), ")");
      cases.push_back({label, info.name, params});
    }
  }
  for (int head_dim : {64, 128}) {
    for (int ctx = 512; ctx <= 32768; ctx *= 2) {
      for (const StoreCase& c : cases) {
        const std::string name = "BM_Attend/store:" + c.label + "/ctx:" + std::to_string(ctx) +
                                 "/head_dim:" + std::to_string(head_dim);
        benchmark::RegisterBenchmark(name.c_str(), [c, ctx, head_dim](benchmark::State& s) {
          BM_Attend(s, c, ctx, head_dim);
        })->Unit(benchmark::kMicrosecond);
      }
    }
  }
  for (int head_dim : {64, 128}) {
    for (int ctx : {8192, 32768}) {
      for (const StoreCase& c : cases) {
        const std::string name = "BM_AttendModel/store:" + c.label + "/ctx:" + std::to_string(ctx) +
                                 "/head_dim:" + std::to_string(head_dim);
        benchmark::RegisterBenchmark(name.c_str(), [c, ctx, head_dim](benchmark::State& s) {
          BM_AttendModel(s, c, ctx, head_dim);
        })->Unit(benchmark::kMicrosecond);
      }
    }
  }
}

}  // namespace
}  // namespace kvbench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  kvbench::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
