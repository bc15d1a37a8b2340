// Recording a trace (sim/trace.h) from a real `full`-cache run.
//
// RecorderPolicy is a CachePolicy that keeps every position (it is `full`) and captures what its
// hooks see: the keys' L2 norms from OnAppend and, from OnAttention, each query's probabilities
// over the positions it can see, aggregated over its KV head's query group by AggregateRows (mean
// and max), the same function every score-based policy uses. It runs inside a PolicyCache with f32
// stores, so the decoder and the cache are exactly those of a real `full` run.
#ifndef KVBENCH_SIM_RECORDER_H_
#define KVBENCH_SIM_RECORDER_H_

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/decoder.h"
#include "policies/cache_policy.h"
#include "sim/trace.h"

namespace kvbench {

class RecorderPolicy : public CachePolicy {
 public:
  // Writes into `sequence`, laid out by `trace` (whose header gives the shape). The sequence must
  // be fed from position 0, at most header.query_positions() tokens.
  RecorderPolicy(const Trace& trace, TraceSequence* sequence, int group);

  bool wants_attention() const override { return true; }
  void BeginStep(int pos0, int n_tokens) override { pos0_ = pos0; }
  void OnAppend(int layer, int head, const float* keys, int n, int ld) override;
  void OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                   int ld) override;
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override {
    return false;
  }

 private:
  const Trace& trace_;
  TraceSequence* sequence_;
  int group_;
  int head_dim_;
  int pos0_ = 0;
  std::vector<int> appended_;  // (layers * kv_heads) keys seen so far
};

struct RecordOptions {
  int prompt_tokens = 128;
  int score_tokens = 128;
  ProbFormat prob_format = ProbFormat::kF16;
  std::string model_name;
  std::string experiment_name;
  FILE* log = nullptr;  // progress lines, one per sequence
};

// Runs every sequence (each at least prompt_tokens + score_tokens long; longer ones are cut)
// through a full cache as the harness's teacher forcing does and records the trace. InvalidArgument
// for token counts that do not fit the sequences or the format's limits.
absl::StatusOr<Trace> RecordTrace(Decoder& decoder, const std::vector<std::vector<int>>& sequences,
                                  const RecordOptions& options);

}  // namespace kvbench

#endif  // KVBENCH_SIM_RECORDER_H_
