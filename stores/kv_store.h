// A KV store holds the K rows or the V rows of one cache in one number format, per layer and per KV
// head, and owns the attention arithmetic over that format. It knows nothing about which positions
// are kept: that is the policy's decision (policies/cache_policy.h), applied through Compact.
//
// Entries of a (layer, head) are dense and ordered, [0, size). A key store answers Dot (q . k_j), a
// value store answers Accumulate (sum_j w_j v_j); a store may implement both the same way or, like
// KIVI, quantize keys and values along different axes depending on its role.
#ifndef KVBENCH_STORES_KV_STORE_H_
#define KVBENCH_STORES_KV_STORE_H_

#include <cstdint>
#include <string>

#include "absl/types/span.h"
#include "model/cache_shape.h"
#include "model/kv_cache.h"

namespace kvbench {

enum class KvRole { kKey, kValue };

class KvStore {
 public:
  virtual ~KvStore() = default;

  // The registry name with its parameters, e.g. "f32", "q8_0",
  // "kivi(bits=2,group=32,residual=128)".
  virtual std::string name() const = 0;

  // Appends n rows of head_dim floats, row i at rows + i * ld.
  virtual void Append(int layer, int head, const float* rows, int n, int ld) = 0;
  virtual int size(int layer, int head) const = 0;
  // Keeps the entries at `keep` (strictly increasing indices), in order, and frees the rest.
  virtual void Compact(int layer, int head, absl::Span<const int> keep) = 0;

  // Both read only the first n entries, n <= size: a chunk of a causal prefill sees the entries
  // up to its last query's position, not the ones appended after it. Entry j's score (or term)
  // is the same whatever n and n_q are (batch invariance: lockstep == one at a time).
  //
  // scores[i * ld_scores + j] = q_i . row_j for i < n_q, j < n. q_i at q + i * head_dim.
  virtual void Dot(int layer, int head, int n, const float* q, int n_q, float* scores,
                   int ld_scores) const = 0;
  // out_i = sum_j w[i * ld_w + j] * row_j for i < n_q, j < n; out_i at out + i * head_dim.
  virtual void Accumulate(int layer, int head, int n, const float* w, int ld_w, int n_q,
                          float* out) const = 0;

  // Row j as f32 (dequantized). Rows are encoded once, when appended: nothing re-encodes a row
  // (positions=cache rotates keys as they are read, see PolicyCache).
  virtual void Read(int layer, int head, int j, float* row) const = 0;

  // Bytes for this layer (all heads): logical = what the live rows need (payload + scales + mins
  // + full-precision residual); allocated = reserved capacity; peak = largest allocated so far.
  virtual KvMemory memory(int layer) const = 0;
};

}  // namespace kvbench

#endif  // KVBENCH_STORES_KV_STORE_H_
