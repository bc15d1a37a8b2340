#include "harness/llama_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "model/session.h"

namespace kvbench {
namespace {

double Mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / v.size();
}

// Sample standard deviation (Bessel's correction, as llama-bench); 0 for fewer than two samples.
double Stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double mean = Mean(v);
  double sq = 0.0;
  for (double x : v) sq += (x - mean) * (x - mean);
  return std::sqrt(sq / (v.size() - 1));
}

// Random ids as llama-bench feeds them: BOS first when the model has one.
class TokenSource {
 public:
  TokenSource(uint64_t seed, int vocab, int bos_id)
      : rng_(seed), ids_(0, vocab - 1), bos_(bos_id) {}
  std::vector<int> Block(int n) {
    std::vector<int> out(n);
    for (int i = 0; i < n; ++i) out[i] = (i == 0 && bos_ >= 0) ? bos_ : ids_(rng_);
    return out;
  }
  int Next() { return ids_(rng_); }
  int First() { return bos_ >= 0 ? bos_ : ids_(rng_); }

 private:
  std::mt19937_64 rng_;
  std::uniform_int_distribution<int> ids_;
  int bos_;
};

// Feeds `n` prompt tokens in blocks of n_batch (llama-bench's test_prompt).
void Prompt(Decoder& decoder, Session& session, TokenSource& tokens, int n, int n_batch,
            float* logits) {
  const std::vector<int> ids = tokens.Block(n);
  for (int i = 0; i < n; i += n_batch) {
    const int len = std::min(n_batch, n - i);
    Feed(decoder, session, absl::MakeConstSpan(ids.data() + i, len), false, logits);
  }
}

// Decodes `n` tokens one step each (llama-bench's test_gen: the first is BOS, the rest random).
void Generate(Decoder& decoder, Session& session, TokenSource& tokens, int n, float* logits) {
  int token = tokens.First();
  for (int i = 0; i < n; ++i) {
    Feed(decoder, session, absl::MakeConstSpan(&token, 1), false, logits);
    token = tokens.Next();
  }
}

// One repetition on a fresh cache: the depth fill untimed, then the timed prompt and generation.
absl::StatusOr<int64_t> RunOnce(Decoder& decoder, const CacheSpec& spec, const BenchTest& test,
                                TokenSource& tokens, float* logits) {
  using Clock = std::chrono::steady_clock;
  ASSIGN_OR_RETURN(std::unique_ptr<PolicyCache> cache,
                   MakeCache(spec, BenchCacheShape(decoder.config(), test)));
  Session session(std::move(cache));
  if (test.n_depth > 0) Prompt(decoder, session, tokens, test.n_depth, test.n_batch, logits);
  const auto t0 = Clock::now();
  if (test.n_prompt > 0) Prompt(decoder, session, tokens, test.n_prompt, test.n_batch, logits);
  if (test.n_gen > 0) Generate(decoder, session, tokens, test.n_gen, logits);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

}  // namespace

CacheShape BenchCacheShape(const ModelConfig& config, const BenchTest& test) {
  CacheShape shape = CacheShape::ForModel(config, test.context());
  shape.prompt_tokens = test.n_depth > 0    ? std::min(test.n_depth, test.n_batch)
                        : test.n_prompt > 0 ? std::min(test.n_prompt, test.n_batch)
                                            : 1;
  return shape;
}

std::string BenchTest::Name() const {
  std::string name;
  if (n_prompt > 0) absl::StrAppend(&name, "pp", n_prompt);
  if (n_gen > 0) absl::StrAppend(&name, name.empty() ? "" : "+", "tg", n_gen);
  if (n_depth > 0) absl::StrAppend(&name, " @ d", n_depth);
  return name;
}

BenchStats SummarizeSamples(const std::vector<int64_t>& samples_ns, int tokens_per_sample) {
  BenchStats s;
  s.samples_ns = samples_ns;
  std::vector<double> ns(samples_ns.begin(), samples_ns.end());
  for (int64_t t : samples_ns) s.samples_ts.push_back(t > 0 ? 1e9 * tokens_per_sample / t : 0.0);
  s.avg_ns = Mean(ns);
  s.stddev_ns = Stddev(ns);
  s.avg_ts = Mean(s.samples_ts);
  s.stddev_ts = Stddev(s.samples_ts);
  return s;
}

absl::StatusOr<BenchStats> RunBenchTest(Decoder& decoder, const CacheSpec& spec,
                                        const BenchTest& test, const BenchOptions& options) {
  if (test.n_prompt < 0 || test.n_gen < 0 || test.n_depth < 0 || test.n_batch < 1 ||
      options.repetitions < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bench test ", test.Name(), ": counts must be >= 0, the batch and the repetitions >= 1 (",
        "n_prompt ", test.n_prompt, ", n_gen ", test.n_gen, ", n_depth ", test.n_depth,
        ", n_batch ", test.n_batch, ", repetitions ", options.repetitions, ")"));
  }
  if (test.n_prompt + test.n_gen == 0) {
    return absl::InvalidArgumentError("bench test times nothing: n_prompt and n_gen are both 0");
  }
  const int context = decoder.config().context_length;
  if (test.context() > context) {
    return absl::OutOfRangeError(absl::StrCat("bench test ", test.Name(), " needs ", test.context(),
                                              " tokens of context; the model has ", context));
  }
  std::vector<float> logits(decoder.config().vocab_size);
  TokenSource tokens(options.seed, decoder.config().vocab_size, options.bos_id);
  if (options.warmup) {
    const BenchTest warm = {.n_prompt = std::min(test.n_prompt, 32),
                            .n_gen = test.n_gen > 0 ? 1 : 0,
                            .n_depth = 0,
                            .n_batch = test.n_batch};
    // A warm-up the budget cannot take (a policy budget above 33 tokens) is skipped, not an error:
    // the test itself decides.
    if (warm.context() > 0) (void)RunOnce(decoder, spec, warm, tokens, logits.data());
  }
  std::vector<int64_t> samples;
  for (int r = 0; r < options.repetitions; ++r) {
    ASSIGN_OR_RETURN(int64_t ns, RunOnce(decoder, spec, test, tokens, logits.data()));
    samples.push_back(ns);
  }
  return SummarizeSamples(samples, test.n_prompt + test.n_gen);
}

}  // namespace kvbench
