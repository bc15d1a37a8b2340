#include "policies/chunkkv.h"

#include <algorithm>
#include <memory>

#include "base/status.h"

namespace kvbench {

ChunkKvPolicy::ChunkKvPolicy(const CacheShape& shape, const SnapKvOptions& options, int chunk)
    : SnapKvPolicy(shape, options), chunk_(chunk) {}

int ChunkKvPolicy::KeptChunks(int n) const {
  if (n < chunk_) return 0;
  const int64_t chunks = (n + chunk_ - 1) / chunk_;
  // kvpress: int(n_chunks * (1 - compression_ratio)), with budget = n (1 - ratio).
  return static_cast<int>(std::max<int64_t>(1, chunks * options_.budget / n));
}

bool ChunkKvPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                               std::vector<int>* keep) const {
  if (!scorer_.in_prefill()) return false;
  const int n = static_cast<int>(positions.size());  // every head holds the whole prompt now
  if (n <= options_.budget) return false;
  if (n < chunk_) return SnapKvPolicy::SelectKeep(layer, head, positions, keep);
  // S: the layer's per-token score summed over its KV heads; the window scores the layer's max.
  const int prefix = n - scorer_.observed(n);
  std::vector<double> total(n, 0.0);
  float max_score = 0.0f;  // scores are averaged probabilities: >= 0
  std::vector<float> scores;
  for (int h = 0; h < shape_.n_kv_heads; ++h) {
    scorer_.PrefixScores(layer, h, n, &scores);
    for (int j = 0; j < prefix; ++j) {
      total[j] += scores[j];
      max_score = std::max(max_score, scores[j]);
    }
  }
  for (int j = prefix; j < n; ++j) total[j] = static_cast<double>(shape_.n_kv_heads) * max_score;
  const int n_chunks = (n + chunk_ - 1) / chunk_;
  std::vector<float> chunk_scores(n_chunks);
  for (int c = 0; c < n_chunks; ++c) {
    const int begin = c * chunk_, end = std::min(n, begin + chunk_);
    double sum = 0.0;
    for (int j = begin; j < end; ++j) sum += total[j];
    chunk_scores[c] = static_cast<float>(sum / (end - begin));
  }
  std::vector<int> kept;
  TopK(chunk_scores, KeptChunks(n), &kept);  // ascending chunk indices
  for (int c : kept) AppendRange(c * chunk_, std::min(n, (c + 1) * chunk_), keep);
  return true;
}

int64_t ChunkKvPolicy::max_entries(int layer) const {
  if (scorer_.prompt_len() == 0) return -1;
  const int n = scorer_.prompt_len();
  const int64_t compressed =
      std::min<int64_t>(n, std::max<int64_t>(options_.budget, int64_t{KeptChunks(n)} * chunk_));
  return compressed + (scorer_.n_past() - n);
}

PolicyInfo ChunkKvInfo() {
  std::vector<ParamSpec> params = SnapKvSpecs();
  params.push_back({.name = "chunk",
                    .type = ParamType::kInt,
                    .default_value = "20",
                    .help = "tokens per chunk (kvpress's chunk_length)",
                    .choices = {}});
  return {.name = "chunkkv",
          .description =
              "one-shot SnapKV scores summed over a layer's heads, whole chunks of tokens kept "
              "by their mean score, the same chunks in every head",
          .paper = "arXiv:2502.00299 (kvpress ChunkKVPress over SnapKVPress)",
          .one_shot = true,
          .params = std::move(params),
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const SnapKvOptions options, SnapKvFromParams(p, "chunkkv", s));
            if (p.GetInt("chunk") < 1) {
              return InvalidParam(p, "chunkkv", "chunk", "must be at least 1");
            }
            return std::make_unique<ChunkKvPolicy>(s, options, p.GetInt("chunk"));
          }};
}

}  // namespace kvbench
