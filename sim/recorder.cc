#include "sim/recorder.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status.h"
#include "model/session.h"
#include "policies/policy_cache.h"
#include "policies/score_utils.h"
#include "stores/store_registry.h"

namespace kvbench {

RecorderPolicy::RecorderPolicy(const Trace& trace, TraceSequence* sequence, int group)
    : trace_(trace),
      sequence_(sequence),
      group_(group),
      head_dim_(trace.header().head_dim),
      appended_(static_cast<size_t>(trace.header().n_layers) * trace.header().n_kv_heads, 0) {}

void RecorderPolicy::OnAppend(int layer, int head, const float* keys, int n, int ld) {
  int& count = appended_[static_cast<size_t>(layer) * trace_.header().n_kv_heads + head];
  const int t = trace_.header().query_positions();
  KVBENCH_CHECK(count + n <= t, "recorder: %d keys for %d positions", count + n, t);
  float* out =
      &sequence_->key_norm[(static_cast<size_t>(layer) * trace_.header().n_kv_heads + head) * t];
  for (int i = 0; i < n; ++i) {
    // The norm exactly as KnormPolicy computes it: a double sum of squares, rounded once.
    const float* k = keys + static_cast<size_t>(i) * ld;
    double ss = 0.0;
    for (int d = 0; d < head_dim_; ++d) ss += static_cast<double>(k[d]) * k[d];
    out[count + i] = static_cast<float>(std::sqrt(ss));
  }
  count += n;
}

void RecorderPolicy::OnAttention(int layer, int head, int t0, const float* probs, int n_q, int n,
                                 int ld) {
  for (int i = 0; i < n_q; i += group_) {
    const int q = pos0_ + t0 +
                  i / group_;  // absolute position of this query (full cache: entry j = position j)
    const int visible = q + 1;
    KVBENCH_CHECK(visible <= n && q < trace_.header().query_positions(),
                  "recorder: query %d over %d entries", q, n);
    float* mean = &sequence_->probs[trace_.RowOffset(q, layer, head)];
    AggregateRows(probs + static_cast<size_t>(i) * ld, group_, visible, ld, Aggregate::kMean, mean);
    AggregateRows(probs + static_cast<size_t>(i) * ld, group_, visible, ld, Aggregate::kMax,
                  mean + visible);
  }
}

absl::StatusOr<Trace> RecordTrace(Decoder& decoder, const std::vector<std::vector<int>>& sequences,
                                  const RecordOptions& options) {
  const ModelConfig& c = decoder.config();
  TraceHeader h{.n_layers = c.n_layers,
                .n_heads = c.n_heads,
                .n_kv_heads = c.n_kv_heads,
                .head_dim = c.head_dim,
                .prompt_tokens = options.prompt_tokens,
                .score_tokens = options.score_tokens,
                .n_sequences = static_cast<int>(sequences.size()),
                .prob_format = options.prob_format,
                .model = options.model_name,
                .experiment = options.experiment_name};
  if (absl::Status s = ValidateHeader(h, "trace"); !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  const int context = h.context_tokens();
  for (size_t i = 0; i < sequences.size(); ++i) {
    if (static_cast<int>(sequences[i].size()) < context) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequence ", i, " has ", sequences[i].size(),
                       " tokens, fewer than prompt_tokens + score_tokens = ", context));
    }
  }
  Trace trace(h);
  const CacheShape shape = CacheShape::ForModel(c, context);
  for (size_t si = 0; si < sequences.size(); ++si) {
    TraceSequence& seq = trace.AddSequence();
    const std::vector<int>& tokens = sequences[si];
    std::copy_n(tokens.begin(), context, seq.tokens.begin());
    ASSIGN_OR_RETURN(auto k, MakeStore("f32", {}, KvRole::kKey, shape));
    ASSIGN_OR_RETURN(auto v, MakeStore("f32", {}, KvRole::kValue, shape));
    Session session(std::make_unique<PolicyCache>(
        shape, std::make_unique<RecorderPolicy>(trace, &seq, c.group_size()), std::move(k),
        std::move(v)));
    std::vector<float> logits(c.vocab_size);
    Feed(decoder, session, absl::MakeConstSpan(tokens.data(), h.prompt_tokens), false,
         logits.data());
    for (int t = h.prompt_tokens; t < h.query_positions(); ++t) {
      Feed(decoder, session, absl::MakeConstSpan(&tokens[t], 1), false, logits.data());
    }
    if (options.log != nullptr) {
      std::fprintf(options.log, "recorded sequence %zu/%zu\n", si + 1, sequences.size());
    }
  }
  return trace;
}

}  // namespace kvbench
