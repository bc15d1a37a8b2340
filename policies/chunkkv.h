// chunkkv: "ChunkKV: Semantic-Preserving KV Cache Compression for Efficient Long-Context LLM
// Inference" (Liu et al., arXiv:2502.00299), as kvpress's ChunkKVPress(SnapKVPress) computes it:
// the prompt is cut into chunks of `chunk` tokens and whole chunks are kept, the same chunks in
// every KV head of a layer, so that a kept token keeps its neighbours.
//   S(p)     = sum over the layer's KV heads h of s_h(p),  s_h = SnapKV's pooled score of head h
//              for p before the window; max over the layer's s (every head) for p in the window
//   score(c) = mean of S over chunk c (the last, partial chunk over its own tokens)
//   keep(p) <=> p in one of the top max(1, floor(n_chunks * budget / n)) chunks by score
// n_chunks counts the partial chunk; the window is not kept as such, its chunks score highest.
// With fewer than `chunk` prompt tokens there is no complete chunk and the selection is snapkv's
// (kvpress delegates to the scorer press). One-shot at the end of prefill, then full, like snapkv;
// a head holds at most max(budget, kept chunks x chunk) prompt entries.
#ifndef KVBENCH_POLICIES_CHUNKKV_H_
#define KVBENCH_POLICIES_CHUNKKV_H_

#include <cstdint>
#include <vector>

#include "policies/policy_info.h"
#include "policies/snapkv.h"

namespace kvbench {

class ChunkKvPolicy : public SnapKvPolicy {
 public:
  // chunk >= 1 (ChunkKvInfo checks).
  ChunkKvPolicy(const CacheShape& shape, const SnapKvOptions& options, int chunk);

  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override;
  int64_t max_entries(int layer) const override;

 private:
  // Chunks kept of an n-token prompt (counting the partial one), 0 when it has no complete chunk.
  int KeptChunks(int n) const;

  int chunk_;  // tokens per chunk
};

PolicyInfo ChunkKvInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_CHUNKKV_H_
