// Trace replay throughput: how many cache configurations `kvbench simulate` screens per minute on
// one thread, over a recorded stories260K trace (4 sequences, 128 prompt + 128 scored tokens) and a
// sweep of 146 configurations of every policy family. This was a test asserting >= 1000 per
// minute; a wall-clock rate is a benchmark's number, not a test's (a loaded machine failed it).
//
//   build/bench/replay_bench    # items_per_second = configurations per second (x 60 per minute)
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "sim/recorder.h"
#include "sim/replay.h"

namespace kvbench {
namespace {

// Token ids that cycle through the vocabulary, BOS first (the model's text does not matter here).
std::vector<std::vector<int>> Sequences(int n, int len, int vocab) {
  std::vector<std::vector<int>> out(n, std::vector<int>(len));
  for (int s = 0; s < n; ++s) {
    out[s][0] = 1;
    for (int i = 1; i < len; ++i) out[s][i] = (i * 37 + s * 101 + 7) % vocab;
  }
  return out;
}

void BM_ReplaySweep(benchmark::State& state) {
  auto model = LoadModel("stories260K");
  if (!model.ok()) return state.SkipWithError(std::string(model.status().message()).c_str());
  Decoder decoder(**model);
  auto trace = RecordTrace(decoder, Sequences(4, 256, (*model)->config.vocab_size),
                           {.prompt_tokens = 128, .score_tokens = 128});
  if (!trace.ok()) return state.SkipWithError(std::string(trace.status().message()).c_str());
  auto specs = ParsePolicySweep(
      "window:budget=8..128+8;sinks:budget=8..128+8;h2o:budget=8..128+8,aggregate=mean,max;"
      "tova:budget=8..128+8;scissorhands:budget=8..128+8;knorm:budget=8..128+8;"
      "snapkv:budget=40..160+8;pyramidkv:budget=40..160+8",
      "f16", "f16");
  if (!specs.ok()) return state.SkipWithError(std::string(specs.status().message()).c_str());
  for (auto _ : state) {
    const auto results = ReplayAll(*trace, *specs, 1);
    for (const auto& r : results) {
      if (!r.ok()) return state.SkipWithError(std::string(r.status().message()).c_str());
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(specs->size()));
}
BENCHMARK(BM_ReplaySweep)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace kvbench

BENCHMARK_MAIN();
