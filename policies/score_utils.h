// Helpers shared by the score-based policies: GQA aggregation of a query group's attention, top-k
// selection with a fixed tie rule, 1-D pooling (SnapKV), and per-entry state that follows the
// cache's entries through compaction.
//
// GQA: attention probabilities are per query head; K/V are stored per KV head, so a KV head's score
// for an entry aggregates the `group` query heads that read it, by mean or max (`aggregate`).
#ifndef KVBENCH_POLICIES_SCORE_UTILS_H_
#define KVBENCH_POLICIES_SCORE_UTILS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "base/check.h"

namespace kvbench {

enum class Aggregate { kMean, kMax };

// "mean" or "max" (the registry has already checked the value against these choices).
Aggregate ParseAggregate(const std::string& text);
const char* AggregateName(Aggregate a);

// out[j] = mean or max over g < group of rows[g * ld + j], for j < n.
void AggregateRows(const float* rows, int group, int n, int ld, Aggregate agg, float* out);

// Appends to `out` the indices of the k largest scores, in increasing index order. Ties keep the
// lower index (the older entry), so the selection is a pure function of the scores.
void TopK(absl::Span<const float> scores, int k, std::vector<int>* out);

// Stride-1 pooling over a score row with zero padding of kernel/2 on both sides (kernel odd):
// average (dividing by the full kernel, like torch's avg_pool1d that SnapKV calls) or max (over
// the real scores only, like max_pool1d).
void Pool1d(const float* in, int n, int kernel, bool max_pool, float* out);

// One value per cached entry of every (layer, KV head), appended and compacted with the entries.
template <typename T>
class PerEntry {
 public:
  PerEntry(int n_layers, int n_kv_heads)
      : n_kv_heads_(n_kv_heads), values_(static_cast<size_t>(n_layers) * n_kv_heads) {}

  std::vector<T>& at(int layer, int head) { return values_[layer * n_kv_heads_ + head]; }
  const std::vector<T>& at(int layer, int head) const {
    return values_[layer * n_kv_heads_ + head];
  }
  void Append(int layer, int head, int n, T value) {
    at(layer, head).resize(at(layer, head).size() + n, value);
  }
  // Keeps values at `keep` (strictly increasing), in order.
  void Compact(int layer, int head, absl::Span<const int> keep) {
    std::vector<T>& v = at(layer, head);
    for (size_t i = 0; i < keep.size(); ++i) {
      KVBENCH_CHECK(keep[i] >= 0 && static_cast<size_t>(keep[i]) < v.size(), "keep index %d of %zu",
                    keep[i], v.size());
      v[i] = v[keep[i]];
    }
    v.resize(keep.size());
  }
  uint64_t bytes(int layer) const {
    uint64_t b = 0;
    for (int h = 0; h < n_kv_heads_; ++h) b += at(layer, h).size() * sizeof(T);
    return b;
  }

 private:
  int n_kv_heads_;
  std::vector<std::vector<T>> values_;  // (layers * kv_heads) -> (entries)
};

// Appends [begin, end) to `keep`.
inline void AppendRange(int begin, int end, std::vector<int>* keep) {
  for (int i = begin; i < end; ++i) keep->push_back(i);
}

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_SCORE_UTILS_H_
