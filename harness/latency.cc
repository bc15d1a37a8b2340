#include "harness/latency.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "harness/memory_tally.h"
#include "harness/metrics.h"
#include "model/session.h"

namespace kvbench {

absl::StatusOr<LatencyResult> MeasureAlone(Decoder& decoder, const CacheSpec& spec,
                                           const std::vector<std::vector<int>>& sequences,
                                           int context_tokens, const LatencyOptions& options) {
  using Clock = std::chrono::steady_clock;
  const int P = options.prompt_tokens, D = options.decode_tokens;
  if (P < 1 || D < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt_tokens ", P, " must be >= 1 and decode_tokens ", D, " >= 0"));
  }
  CacheShape shape = CacheShape::ForModel(decoder.config(), context_tokens);
  shape.prompt_tokens = P;  // the first step: what one-shot policies compress
  std::vector<float> logits(decoder.config().vocab_size);
  std::vector<double> step_ms;
  double prefill_ms_sum = 0, decode_s = 0;
  int64_t policy_ns = 0;
  MemoryTally memory;  // at the end of each sequence
  for (size_t s = 0; s < sequences.size(); ++s) {
    const std::vector<int>& seq = sequences[s];
    if (seq.size() < static_cast<size_t>(P) + D) {
      return absl::OutOfRangeError(absl::StrCat("sequence ", s, " has ", seq.size(),
                                                " tokens, fewer than ", P + D, " needed"));
    }
    ASSIGN_OR_RETURN(std::unique_ptr<PolicyCache> cache, MakeCache(spec, shape));
    PolicyCache* policy_cache = cache.get();
    Session session(std::move(cache));
    const auto t0 = Clock::now();
    Feed(decoder, session, absl::MakeConstSpan(seq.data(), P), false, logits.data());
    const auto t1 = Clock::now();
    prefill_ms_sum += std::chrono::duration<double, std::milli>(t1 - t0).count();
    if (options.on_tokens) options.on_tokens(P);
    const int64_t ns_before = policy_cache->policy_ns();
    for (int d = 0; d < D; ++d) {
      const auto a = Clock::now();
      Feed(decoder, session, absl::MakeConstSpan(&seq[P + d], 1), false, logits.data());
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - a).count();
      step_ms.push_back(ms);
      decode_s += ms / 1000;
      if (options.on_tokens) options.on_tokens(1);
    }
    policy_ns += policy_cache->policy_ns() - ns_before;
    memory.Add(session.cache(), shape);
  }
  LatencyResult r;
  const size_t n_seq = std::max<size_t>(1, sequences.size());
  r.prefill_ms = prefill_ms_sum / n_seq;
  if (!step_ms.empty()) {
    std::sort(step_ms.begin(), step_ms.end());
    r.decode_ms_p50 = Percentile(step_ms, 0.50);
    r.decode_ms_p95 = Percentile(step_ms, 0.95);
    r.decode_ms_p99 = Percentile(step_ms, 0.99);
    r.decode_tokens_per_s = decode_s > 0 ? step_ms.size() / decode_s : 0;
    r.bookkeeping_share = decode_s > 0 ? (policy_ns * 1e-9) / decode_s : 0;
  }
  r.memory_end = memory.Mean();
  r.evicted_tokens = memory.evicted_tokens();
  return r;
}

}  // namespace kvbench
