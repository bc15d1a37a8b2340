// The decoder's only view of a KV cache: a few hooks called in this order for every forward step
//
//   BeginStep(pos0, n)                  n new tokens at absolute positions pos0 .. pos0+n-1
//   for each layer: Append(layer, k, v)  their keys (RoPE applied) and values
//                   Attend(layer, q, out) causal attention of their queries over the cache
//                   (AttendMirror for a lockstep mirror, whose output is not needed)
//   EndStep()                           the policy evicts here (plan, then apply)
//
// Implementations (policies/) own K/V storage and the attention kernel over it, so a policy can
// keep whatever subset of positions it likes in whatever number format its store uses. The decoder
// always applies RoPE at absolute positions; a cache that re-assigns positions within the cache
// (StreamingLLM) re-rotates its own stored keys.
#ifndef KVBENCH_MODEL_KV_CACHE_H_
#define KVBENCH_MODEL_KV_CACHE_H_

#include <cstdint>
#include <vector>

namespace kvbench {

// Bytes a cache holds for one layer (and, summed, for all).
struct KvMemory {
  uint64_t logical = 0;    // what the kept entries need: payload + index + policy metadata
  uint64_t allocated = 0;  // what is reserved right now (capacity, residual buffers)
  uint64_t peak = 0;       // the largest `allocated` seen so far
  // The parts of `logical` a model's K/V cache has in any runtime, apart from kvbench's own
  // bookkeeping: the K and V stores' bytes (codes plus quantization scales, zeros and residuals),
  // and the 4-byte position index of every entry. logical - payload - index is policy state.
  uint64_t payload = 0;
  uint64_t index = 0;
  uint64_t entries = 0;  // entries kept, summed over KV heads (and layers, when summed)
};

class KvCache {
 public:
  virtual ~KvCache() = default;

  virtual void BeginStep(int pos0, int n_tokens) = 0;
  // k, v: (n_tokens, n_kv_heads * head_dim), row-major, for the tokens of this step.
  virtual void Append(int layer, const float* k, const float* v) = 0;
  // q: (n_tokens, n_heads * head_dim); out: same shape. Token t of the step attends to every cached
  // entry with position <= pos0 + t.
  virtual void Attend(int layer, const float* q, float* out) = 0;
  // Attend for a lockstep mirror (StepInput::mirrors): its output would equal the primary cache's
  // and is discarded, so a cache needs to do only what it observes itself (a policy's attention
  // scores, of the query rows it reads). `scratch` has Attend's `out` shape, for a cache that just
  // attends.
  virtual void AttendMirror(int layer, const float* q, float* scratch) {
    Attend(layer, q, scratch);
  }
  virtual void EndStep() = 0;

  // False for a "cache" that keeps nothing between steps (the `none` policy): the caller must then
  // recompute the whole prefix every step.
  virtual bool retains_entries() const { return true; }
  // Number of tokens this cache has seen (the next absolute position).
  virtual int n_past() const = 0;

  virtual KvMemory memory(int layer) const = 0;
  KvMemory total_memory(int n_layers) const {
    KvMemory m;
    for (int l = 0; l < n_layers; ++l) {
      const KvMemory x = memory(l);
      m.logical += x.logical;
      m.allocated += x.allocated;
      m.peak += x.peak;
      m.payload += x.payload;
      m.index += x.index;
      m.entries += x.entries;
    }
    return m;
  }
  // How many of the n_past() tokens seen the cache no longer holds, averaged over the layers and
  // KV heads (policies may keep a different number per head): 0 when nothing was evicted.
  double evicted_tokens(int n_layers, int n_kv_heads) const {
    const double kept = static_cast<double>(total_memory(n_layers).entries) / n_layers / n_kv_heads;
    return n_past() - kept;
  }
};

}  // namespace kvbench

#endif  // KVBENCH_MODEL_KV_CACHE_H_
