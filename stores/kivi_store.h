// KIVI (Liu et al., 2402.02750): asymmetric min/max quantization with 2, 4 or 8 bits, keys per
// channel and values per token, the newest tokens kept in f32.
//
//   scale = (max - min) / (2^b - 1),  q = clamp(round((x - min) / scale), 0, 2^b - 1),
//   x_hat = q * scale + min,  |x - x_hat| <= scale / 2 (+ the fp16 rounding of scale and min).
//
// Keys: a group is G consecutive tokens; each channel c of the group has its own (scale, min) over
// those G tokens (outlier channels get their own range, the paper's point). Values: each token row
// is split into groups of g = min(G, head_dim) channels, each with its own (scale, min).
// Residual: new tokens enter an f32 residual. When it holds R + G tokens, its oldest G are quantized
// as one group, once; quantized codes are never re-quantized (unlike HF's QuantizedCache, which
// re-quantizes everything at each flush). So once warm the newest R .. R + G - 1 tokens are f32.
// (Paper defaults G = 32, R = 128; a sequence shorter than R + G is never quantized.)
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
// last token (memory therefore includes the params of partly evicted groups, honestly). Write (key
// re-rotation) re-quantizes just that row: a residual row is overwritten in f32, a value row gets
// fresh params, a key row in a group is re-encoded with the group's existing per-channel params,
// codes clamped to [0, 2^b - 1] (a rotated value outside the group's range saturates).
//
// Attention: keys are scored as q . k_hat = (q * scale) . codes + q . min per group, so the kernel
// reads the packed codes, never a dequantized key; values are decoded tile by tile.
//
// Bytes per token and head: keys b * head_dim / 8 + 4 * head_dim / G (group params amortised over
// full groups); values b * head_dim / 8 + 4 * head_dim / g; residual tokens 4 * head_dim.
#ifndef KVBENCH_STORES_KIVI_STORE_H_
#define KVBENCH_STORES_KIVI_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "stores/kv_store.h"

namespace kvbench {

struct KiviOptions {
  int bits = 2;        // 2, 4 or 8
  int group = 32;      // G
  int residual = 128;  // R
};

class KiviStore : public KvStore {
 public:
  // InvalidArgument unless bits in {2, 4, 8}, 1 <= group <= 65536, 0 <= residual <= 1 << 20,
  // head_dim % (8 / bits) == 0 and, for values, head_dim % min(group, head_dim) == 0.
  static absl::Status Validate(const KiviOptions& options, int head_dim, KvRole role);
  // Bytes per value of a quantized token (params amortised over a full group), residual excluded.
  static double BytesPerValue(const KiviOptions& options, int head_dim, KvRole role);

  KiviStore(const CacheShape& shape, KvRole role, KiviOptions options);

  std::string name() const override;
  void Append(int layer, int head, const float* rows, int n, int ld) override;
  int size(int layer, int head) const override { return at(layer, head).n_quant + at(layer, head).n_res; }
  void Compact(int layer, int head, absl::Span<const int> keep) override;
  void Dot(int layer, int head, const float* q, int n_q, float* scores, int ld_scores) const override;
  void Accumulate(int layer, int head, const float* w, int ld_w, int n_q, float* out) const override;
  void Read(int layer, int head, int j, float* row) const override;
  void Write(int layer, int head, int j, const float* row) override;
  KvMemory memory(int layer) const override;

  // For accounting checks: f32 residual rows, quantized rows, key groups holding them.
  int n_residual(int layer, int head) const { return at(layer, head).n_res; }
  int n_quantized(int layer, int head) const { return at(layer, head).n_quant; }
  int n_key_groups(int layer, int head) const { return static_cast<int>(at(layer, head).groups.size()); }
  // Bytes of one packed code row, of one key group's params, and of one value row (params + codes).
  size_t code_bytes() const { return code_bytes_; }
  size_t key_group_param_bytes() const { return 4 * static_cast<size_t>(head_dim_); }
  size_t value_row_bytes() const { return value_row_bytes_; }

 private:
  struct KeyGroup {
    std::vector<uint16_t> params;  // (2, head_dim) fp16: scales, then mins
    std::vector<uint8_t> codes;    // (n, code_bytes)
    int n = 0;
  };
  struct Head {
    std::vector<KeyGroup> groups;  // keys: quantized tokens, oldest group first
    std::vector<uint8_t> rows;     // values: (n_quant, value_row_bytes)
    int n_quant = 0;
    std::vector<float> residual;   // (n_res, head_dim), newest tokens
    int n_res = 0;
    uint64_t allocated = 0;        // bytes reserved by this head (cached)
  };
  const Head& at(int layer, int head) const { return heads_[layer * n_kv_heads_ + head]; }
  Head& at(int layer, int head) { return heads_[layer * n_kv_heads_ + head]; }

  void QuantizeKeyGroup(const float* rows, int n, KeyGroup* g) const;
  void EncodeKeyRow(const float* x, const KeyGroup& g, uint8_t* codes) const;
  void DecodeKeyRow(const KeyGroup& g, int j, float* out) const;  // scalar reference
  void EncodeValueRow(const float* x, uint8_t* row) const;
  void DecodeValueRow(const uint8_t* row, float* out) const;       // scalar reference
  void DecodeValueRowsFast(const uint8_t* rows, int n, float* out) const;
  void DecodeKeyRowsFast(const KeyGroup& g, int j0, int n, float* out) const;
  void Flush(Head& h);
  void UpdateAllocated(int layer, Head& h);

  KvRole role_;
  KiviOptions opt_;
  int n_kv_heads_;
  int head_dim_;
  int value_group_;          // channels per value group: min(G, head_dim)
  size_t code_bytes_;        // head_dim * bits / 8
  size_t value_row_bytes_;   // 4 * head_dim / value_group_ + code_bytes_
  std::vector<Head> heads_;  // (layers * kv_heads)
  std::vector<uint64_t> allocated_;  // (layers)
  std::vector<uint64_t> peak_;       // (layers)
};

}  // namespace kvbench

#endif  // KVBENCH_STORES_KIVI_STORE_H_
