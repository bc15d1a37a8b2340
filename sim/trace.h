// Attention traces (.kvt): what eviction policies look at during a `full`-cache run, recorded once
// so that many policies and budgets can be replayed without running the model (sim/replay.h).
//
// A run feeds each sequence's first prompt_tokens as one prefill step, then one token per step
// (harness/divergence.h): T = prompt_tokens + score_tokens - 1 query positions per sequence. For
// every query position q (0..T-1), layer and KV head the trace holds the attention probabilities
// over the q + 1 positions the query sees, aggregated over the query heads of the KV head's group:
// the mean (the same AggregateRows the policies use) and the max. For every position, layer and KV
// head it holds the key's L2 norm (RoPE applied, as the cache holds it).
//
// File format, version 1, little-endian:
//   header   char magic[8] = "KVBTRACE"; u32 version = 1; u32 header_bytes (up to the first
//            sequence); u32 n_layers, n_heads, n_kv_heads, head_dim; u32 prompt_tokens,
//            score_tokens, n_sequences; u32 prob_format (1 = IEEE fp16, 2 = f32);
//            u32 model_len, model bytes; u32 experiment_len, experiment bytes (UTF-8, no NUL).
//   sequence (n_sequences times, each exactly SequenceBytes() long)
//            i32 tokens[prompt_tokens + score_tokens]
//            f32 key_norm[n_layers][n_kv_heads][T]
//            probs: for q in 0..T-1, layer, KV head: mean[q + 1], then max[q + 1] (prob_format)
// fp16 probabilities keep 11 significant bits (relative error <= 2^-11 above 6.1e-5, absolute
// error <= 3e-8 below): recall sums and policy scores move in the 4th digit at most. f32 is exact
// and used by the tests that compare replay with real runs decision for decision.
// A trace of S sequences costs S * (4 * L * H * T (T + 1) / 2 * bytes_per_prob) bytes, essentially.
//
// Reading checks everything before use: magic, version, field ranges, string lengths, the exact
// file size, and every probability (finite, in [0, 1]) and norm (finite, >= 0). Any violation is
// DataLoss naming the file and the field, never a crash.
#ifndef KVBENCH_SIM_TRACE_H_
#define KVBENCH_SIM_TRACE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace kvbench {

enum class ProbFormat : uint32_t { kF16 = 1, kF32 = 2 };

struct TraceHeader {
  uint32_t version = 1;
  int n_layers = 0;
  int n_heads = 0;  // query heads
  int n_kv_heads = 0;
  int head_dim = 0;
  int prompt_tokens = 0;
  int score_tokens = 0;
  int n_sequences = 0;
  ProbFormat prob_format = ProbFormat::kF16;
  std::string model;       // as the experiment names it
  std::string experiment;  // the experiment's name

  int query_positions() const { return prompt_tokens + score_tokens - 1; }  // T
  int context_tokens() const { return prompt_tokens + score_tokens; }
  // Bytes of one sequence in the file, and of the whole file; checked against overflow by the
  // reader (callers with a validated header may use them freely).
  uint64_t SequenceBytes() const;
  uint64_t FileBytes() const;
};

// One sequence, probabilities widened to f32 in memory.
struct TraceSequence {
  std::vector<int32_t> tokens;  // (prompt_tokens + score_tokens)
  std::vector<float> key_norm;  // (n_layers, n_kv_heads, T)
  std::vector<float> probs;     // per q, layer, head: mean (q + 1) then max (q + 1)
};

class Trace {
 public:
  Trace() = default;
  explicit Trace(TraceHeader header);

  const TraceHeader& header() const { return header_; }
  std::vector<TraceSequence>& sequences() { return sequences_; }
  const std::vector<TraceSequence>& sequences() const { return sequences_; }

  // Adds an empty sequence of the header's sizes (zeros) and returns it.
  TraceSequence& AddSequence();

  // Offset of the (q, layer, head) mean row within TraceSequence::probs; the max row follows it.
  size_t RowOffset(int q, int layer, int head) const {
    const size_t lh = static_cast<size_t>(header_.n_layers) * header_.n_kv_heads;
    return static_cast<size_t>(q) * (q + 1) * lh +
           (static_cast<size_t>(layer) * header_.n_kv_heads + head) * 2 * (q + 1);
  }
  const float* Mean(int seq, int q, int layer, int head) const {
    return &sequences_[seq].probs[RowOffset(q, layer, head)];
  }
  const float* Max(int seq, int q, int layer, int head) const {
    return Mean(seq, q, layer, head) + q + 1;
  }
  const float* KeyNorms(int seq, int layer, int head) const {
    return &sequences_[seq].key_norm[(static_cast<size_t>(layer) * header_.n_kv_heads + head) *
                                     header_.query_positions()];
  }

 private:
  TraceHeader header_;
  std::vector<TraceSequence> sequences_;
};

// The header's shape limits (also what the reader accepts): layers <= 1024, heads <= 1024,
// head_dim <= 1024, prompt_tokens + score_tokens <= 65536, sequences <= 65536, names <= 4096 bytes.
absl::Status ValidateHeader(const TraceHeader& header, std::string_view source);

// Serializes in the header's prob_format.
absl::StatusOr<std::string> SerializeTrace(const Trace& trace);
// Writes atomically (temporary file, then rename).
absl::Status WriteTrace(const Trace& trace, const std::string& path);

// Parses a whole file's bytes; `source` names it in errors (DataLoss).
absl::StatusOr<Trace> ParseTrace(std::string_view bytes, std::string_view source);
// NotFound when the file does not exist.
absl::StatusOr<Trace> ReadTrace(const std::string& path);

}  // namespace kvbench

#endif  // KVBENCH_SIM_TRACE_H_
