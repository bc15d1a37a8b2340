#include "policies/kv_cells.h"

#include "absl/strings/str_cat.h"

namespace kvbench {

KvCells::KvCells(int n_layers, int n_kv_heads, bool rope_positions)
    : n_kv_heads_(n_kv_heads),
      rope_positions_(rope_positions),
      cells_(static_cast<size_t>(n_layers) * n_kv_heads) {}

void KvCells::Append(int layer, int head, int pos0, int n) {
  Cell& c = cell(layer, head);
  // One at a time: the vectors grow as they always have, so reported capacities stay the same.
  for (int t = 0; t < n; ++t) {
    c.pos.push_back(pos0 + t);
    if (rope_positions_) c.rope_pos.push_back(pos0 + t);
  }
}

absl::Status KvCells::Apply(int layer, int head, absl::Span<const int> keep) {
  Cell& c = cell(layer, head);
  const int n = static_cast<int>(c.pos.size());
  for (size_t i = 0; i < keep.size(); ++i) {
    if (keep[i] < 0 || keep[i] >= n || (i > 0 && keep[i] <= keep[i - 1])) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", layer, " head ", head, ": keep[", i, "] = ", keep[i],
                       " is out of order or beyond the ", n, " entries"));
    }
  }
  for (size_t i = 0; i < keep.size(); ++i) c.pos[i] = c.pos[keep[i]];
  c.pos.resize(keep.size());
  if (rope_positions_) {
    for (size_t i = 0; i < keep.size(); ++i) c.rope_pos[i] = c.rope_pos[keep[i]];
    c.rope_pos.resize(keep.size());
  }
  return absl::OkStatus();
}

uint64_t KvCells::bytes(int layer) const {
  uint64_t b = 0;
  for (int h = 0; h < n_kv_heads_; ++h) {
    const Cell& c = cell(layer, h);
    b += (c.pos.size() + c.rope_pos.size()) * sizeof(int32_t);
  }
  return b;
}

uint64_t KvCells::allocated_bytes(int layer) const {
  uint64_t b = 0;
  for (int h = 0; h < n_kv_heads_; ++h) {
    const Cell& c = cell(layer, h);
    b += (c.pos.capacity() + c.rope_pos.capacity()) * sizeof(int32_t);
  }
  return b;
}

}  // namespace kvbench
