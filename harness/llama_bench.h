// llama-bench's protocol, run on kvbench's decoder and caches, so one command measures what
// llama.cpp's `llama-bench` measures and the two can be put side by side on the same file.
//
// A test is llama-bench's: `pp<N>` feeds N prompt tokens in blocks of n_batch, `tg<N>` decodes N
// tokens one at a time, `pp<N>+tg<M>` both; `@ d<D>` first fills the cache with D tokens, untimed.
// Tokens are random ids (BOS first when the model has one), as llama-bench's are; the cache is
// cleared before every repetition. The rate of a repetition is (n_prompt + n_gen) / its time;
// avg_ts and stddev_ts are the mean and the sample standard deviation of those rates (llama-bench
// reports the same pair, not the rate of the mean time).
//
// Unlike llama.cpp, the cache is kvbench's: any policy on any K/V store (CacheSpec). A one-shot
// policy compresses the first step (the depth fill, or the prompt when there is no depth).
#ifndef KVBENCH_HARNESS_LLAMA_BENCH_H_
#define KVBENCH_HARNESS_LLAMA_BENCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/decoder.h"
#include "policies/registry.h"

namespace kvbench {

struct BenchTest {
  int n_prompt = 0;    // prompt tokens timed (pp)
  int n_gen = 0;       // generated tokens timed (tg)
  int n_depth = 0;     // tokens in the cache before the timed part
  int n_batch = 2048;  // prompt tokens per decoder step (llama-bench -b)

  // "pp512", "tg128", "pp512+tg128", with " @ d4096" for a depth (llama-bench's names).
  std::string Name() const;
  int context() const { return n_depth + n_prompt + n_gen; }
};

struct BenchStats {
  std::vector<int64_t> samples_ns;  // one per repetition, the timed part only
  std::vector<double> samples_ts;   // tokens per second of each repetition
  double avg_ns = 0, stddev_ns = 0;
  double avg_ts = 0, stddev_ts = 0;
};

// Mean and sample standard deviation (n - 1) of each repetition's time and rate.
BenchStats SummarizeSamples(const std::vector<int64_t>& samples_ns, int tokens_per_sample);

struct BenchOptions {
  int repetitions = 5;
  bool warmup = true;  // one untimed short run first (llama-bench: 32 prompt tokens, 1 generated)
  uint64_t seed = 0;   // of the random token ids
  int bos_id = -1;     // the first token of every fill, prompt and generation; -1: none
};

// The cache shape of a test: its whole context, and its first step (the depth fill, else the first
// prompt block) as the prompt a one-shot policy compresses.
CacheShape BenchCacheShape(const ModelConfig& config, const BenchTest& test);

// Runs `test` `options.repetitions` times on a fresh cache each time. InvalidArgument for a test
// with nothing timed or a bad count, OutOfRange when it does not fit the model's context, and the
// cache's own error when `spec` cannot be built for the test's context.
absl::StatusOr<BenchStats> RunBenchTest(Decoder& decoder, const CacheSpec& spec,
                                        const BenchTest& test, const BenchOptions& options);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_LLAMA_BENCH_H_
