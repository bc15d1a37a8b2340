// KIVI (Liu et al., 2402.02750): asymmetric min/max quantization with 2, 4 or 8 bits, keys per
// channel and values per token, the newest tokens kept in f32.
//
//   scale = (max - min) / (2^b - 1),  q = clamp(round((x - min) / scale), 0, 2^b - 1),
//   x_hat = q * scale + min,  |x - x_hat| <= scale / 2 (+ the fp16 rounding of scale and min).
//
// Keys: a group is G consecutive tokens; each channel c of the group has its own (scale, min) over
// those G tokens (outlier channels get their own range, the paper's point). Values: each token row
// is split into groups of g = min(G, head_dim) channels, each with its own (scale, min).
// Residual: new tokens enter an f32 residual; quantized codes are never re-quantized (unlike HF's
// QuantizedCache, which re-quantizes everything at each flush). When tokens leave it is the rule:
//   residual_rule=kivi (default), the reference (github.com/jy-yuan/KIVI, models/llama_kivi.py,
//     LlamaAttention_KIVI.forward): keys: whenever the key residual holds R tokens, all R are
//     quantized (R / G groups), so it holds n mod R; a prefill of n tokens quantizes its first
//     n - n mod R at once (a 128-token prompt at R = 128 is all quantized). Values: exactly the
//     newest min(n, R) stay f32, each older token is quantized as it leaves (values are per token).
//     R must be a multiple of G; R = 0 quantizes every key group as soon as it is full and every
//     value at once.
//   residual_rule=kvbench (kvbench's earlier rule, both roles alike): when the residual holds
//     R + G tokens its oldest G are quantized as one group, so once warm the newest R .. R + G - 1
//     tokens of keys and values are f32 and a sequence shorter than R + G is never quantized.
// (Paper defaults G = 32, R = 128.)
//
// Layout per (layer, KV head), entries ordered: quantized tokens (oldest first), then the residual.
//   key group:  params (2, head_dim) fp16: scale per channel, then min per channel;
//               codes (n, head_dim * b / 8): one packed row per token (planes, see UnpackCodes)
//   value row:  params (head_dim / g, 2) fp16 (scale, min) per channel group; then packed codes
//   residual:   (n_res, head_dim) f32
// Scales and mins are fp16, as in the paper's fp16 implementation; codes use the rounded values.
//
// Eviction (Compact) never re-quantizes: a key group's per-channel (scale, min) stay valid for its
// remaining tokens, so dropping tokens drops their code rows; a group's params are freed with its
// last token (memory therefore includes the params of partly evicted groups, honestly).
//
// Attention: keys are scored as q . k_hat = (q * scale) . codes + q . min per group, so the kernel
// reads the packed codes, never a dequantized key; values are decoded tile by tile.
//
// Code: KiviStore is the part both roles share (the f32 residual, when a group is quantized, the
// byte accounting); KiviKeyStore (kivi_key_store.h) and KiviValueStore (kivi_value_store.h) hold
// the quantized tokens in their role's layout. MakeKiviStore picks the one for a role.
//
// Bytes per token and head: keys b * head_dim / 8 + 4 * head_dim / G (group params amortised over
// full groups); values b * head_dim / 8 + 4 * head_dim / g; residual tokens 4 * head_dim.
#ifndef KVBENCH_STORES_KIVI_STORE_H_
#define KVBENCH_STORES_KIVI_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "stores/kv_store.h"

namespace kvbench {

// When tokens leave the f32 residual (see above).
enum class KiviResidualRule { kKivi, kKvbench };

struct KiviOptions {
  int bits = 2;        // 2, 4 or 8
  int group = 32;      // G
  int residual = 128;  // R
  KiviResidualRule rule = KiviResidualRule::kKivi;
};

// InvalidArgument unless bits in {2, 4, 8}, 1 <= group <= 65536, 0 <= residual <= 1 << 20 and,
// under the kivi rule, residual % group == 0: what can be checked before the model (its head_dim)
// is known.
absl::Status ValidateKiviOptions(const KiviOptions& options);
// ValidateKiviOptions, and head_dim % (8 / bits) == 0 and, for values,
// head_dim % min(group, head_dim) == 0.
absl::Status ValidateKivi(const KiviOptions& options, int head_dim, KvRole role);
// Bytes per value of a quantized token (params amortised over a full group), residual excluded.
double KiviBytesPerValue(const KiviOptions& options, int head_dim, KvRole role);
// Logical bytes of one layer after `entries` tokens were appended to each KV head, none evicted,
// by the residual rule: how many of them are quantized (KiviQuantized), the rest f32.
uint64_t KiviLayerBytes(const KiviOptions& options, KvRole role, const CacheShape& shape,
                        int64_t entries);
// How many of `entries` tokens appended to an empty residual are quantized under the rule (keys
// at kivi: entries - entries mod max(R, G); values at kivi: max(0, entries - R); kvbench:
// (entries - R) / G groups once entries >= R + G).
int64_t KiviQuantized(const KiviOptions& options, KvRole role, int64_t entries);

class KiviStore : public KvStore {
 public:
  std::string name() const override;
  void Append(int layer, int head, const float* rows, int n, int ld) override;
  int size(int layer, int head) const override {
    return at(layer, head).n_quantized + at(layer, head).n_residual;
  }
  void Compact(int layer, int head, absl::Span<const int> keep) override;
  void Dot(int layer, int head, int n, const float* q, int n_q, float* scores,
           int ld_scores) const override;
  void Accumulate(int layer, int head, int n, const float* w, int ld_w, int n_q,
                  float* out) const override;
  void Read(int layer, int head, int j, float* row) const override;
  KvMemory memory(int layer) const override;

  // For accounting checks: f32 residual rows and quantized rows.
  int n_residual(int layer, int head) const { return at(layer, head).n_residual; }
  int n_quantized(int layer, int head) const { return at(layer, head).n_quantized; }

 protected:
  KiviStore(const CacheShape& shape, KvRole role, KiviOptions options);

  // The role's quantized tokens of (layer, head), entries [0, n_quantized), oldest first.
  // Appends n tokens, rows (n, head_dim) f32; for keys n is a multiple of G (n / G groups).
  virtual void QuantizeRows(int layer, int head, const float* rows, int n) = 0;
  // Keeps the quantized entries at `keep` (strictly increasing, all < n_quantized).
  virtual void CompactQuantized(int layer, int head, absl::Span<const int> keep) = 0;
  // Dot and Accumulate over the quantized entries j < min(n, n_quantized) (the residual follows
  // them in scores / w).
  virtual void DotQuantized(int layer, int head, int n, const float* q, int n_q, float* scores,
                            int ld_scores) const = 0;
  virtual void AccumulateQuantized(int layer, int head, int n, const float* w, int ld_w, int n_q,
                                   float* out) const = 0;
  // Scalar reference decoding of quantized entry j.
  virtual void ReadQuantized(int layer, int head, int j, float* row) const = 0;
  // Bytes the quantized entries need (logical) and reserve (capacity).
  virtual uint64_t QuantizedBytes(int layer, int head) const = 0;
  virtual uint64_t QuantizedCapacity(int layer, int head) const = 0;

  const KiviOptions& options() const { return options_; }
  int n_kv_heads() const { return n_kv_heads_; }
  int head_dim() const { return head_dim_; }
  // Bytes of one packed code row: head_dim * bits / 8.
  size_t code_bytes() const { return code_bytes_; }

 private:
  // The f32 residual of one (layer, KV head) and how many tokens precede it, quantized.
  struct Residual {
    std::vector<float> rows;  // (n_residual, head_dim), newest tokens
    int n_residual = 0;
    int n_quantized = 0;
    uint64_t allocated = 0;  // bytes this head reserves, residual and quantized (cached)
  };
  const Residual& at(int layer, int head) const { return heads_[layer * n_kv_heads_ + head]; }
  Residual& at(int layer, int head) { return heads_[layer * n_kv_heads_ + head]; }
  // Quantizes the residual's oldest tokens that the residual rule lets go.
  void QuantizeLeaving(int layer, int head);
  void UpdateAllocated(int layer, int head);

  KiviOptions options_;
  KvRole role_;
  int n_kv_heads_;
  int head_dim_;
  size_t code_bytes_;                // head_dim * bits / 8
  std::vector<Residual> heads_;      // (layers * kv_heads)
  std::vector<uint64_t> allocated_;  // (layers)
  std::vector<uint64_t> peak_;       // (layers)
};

// The KIVI store for `role` (keys per channel, values per token). `options` must pass
// ValidateKivi.
std::unique_ptr<KiviStore> MakeKiviStore(const CacheShape& shape, KvRole role,
                                         const KiviOptions& options);

}  // namespace kvbench

#endif  // KVBENCH_STORES_KIVI_STORE_H_
