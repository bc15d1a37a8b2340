// KvCells: which positions a cache holds, per (layer, KV head), kept apart from the K/V rows
// (llama.cpp's llama_kv_cells). Entries of (layer, head) are ordered by position and indexed
// [0, size); a policy's keep list names entries by these indices. PolicyCache keeps its stores in
// step with the cells; the trace replay (sim/replay.cc) holds cells alone.
//
// Each entry has its absolute position and, when positions are re-assigned within the cache
// (PositionMode::kCache, StreamingLLM), the position its key is rotated to.
#ifndef KVBENCH_POLICIES_KV_CELLS_H_
#define KVBENCH_POLICIES_KV_CELLS_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace kvbench {

class KvCells {
 public:
  // `rope_positions`: also track the position each key is rotated to.
  KvCells(int n_layers, int n_kv_heads, bool rope_positions);

  // Appends the entries of positions pos0 .. pos0 + n - 1 to (layer, head).
  void Append(int layer, int head, int pos0, int n);
  // Keeps the entries at `keep`, in order. InvalidArgument, and nothing changes, unless `keep` is
  // strictly increasing and within [0, size).
  absl::Status Apply(int layer, int head, absl::Span<const int> keep);

  int size(int layer, int head) const { return static_cast<int>(cell(layer, head).pos.size()); }
  // Absolute positions of the entries of (layer, head), in order.
  absl::Span<const int32_t> positions(int layer, int head) const { return cell(layer, head).pos; }
  // RoPE positions the keys of (layer, head) are attended at (rope_positions only); the cache
  // re-assigns them after an eviction.
  absl::Span<const int32_t> rope_positions(int layer, int head) const {
    return cell(layer, head).rope_pos;
  }
  absl::Span<int32_t> rope_positions(int layer, int head) {
    return absl::MakeSpan(cell(layer, head).rope_pos);
  }
  // Bytes the cells of `layer` use and reserve.
  uint64_t bytes(int layer) const;
  uint64_t allocated_bytes(int layer) const;

 private:
  struct Cell {
    std::vector<int32_t> pos;       // absolute position of each entry
    std::vector<int32_t> rope_pos;  // RoPE position its key is attended at (rope_positions only)
  };
  const Cell& cell(int layer, int head) const { return cells_[layer * n_kv_heads_ + head]; }
  Cell& cell(int layer, int head) { return cells_[layer * n_kv_heads_ + head]; }

  int n_kv_heads_;
  bool rope_positions_;
  std::vector<Cell> cells_;  // (layers * kv_heads)
};

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_KV_CELLS_H_
