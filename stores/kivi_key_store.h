// KIVI keys (kivi_store.h): quantized per channel. A group is G consecutive tokens; each channel
// of the group has its own (scale, min) over those G tokens, so an outlier channel gets its own
// range. Attention folds a group's params into the queries and reads the packed codes:
//   q . k_hat = (q * scale) . codes + q . min.
#ifndef KVBENCH_STORES_KIVI_KEY_STORE_H_
#define KVBENCH_STORES_KIVI_KEY_STORE_H_

#include <cstdint>
#include <vector>

#include "stores/kivi_quant.h"
#include "stores/kivi_store.h"

namespace kvbench {

class KiviKeyStore final : public KiviStore {
 public:
  KiviKeyStore(const CacheShape& shape, const KiviOptions& options);

  // Bytes of `n_groups` key groups holding `n_tokens` tokens in all: params and codes.
  static uint64_t GroupBytes(const KiviOptions& options, int head_dim, int64_t n_groups,
                             int64_t n_tokens);

  // Key groups of (layer, head) holding its quantized tokens (partly evicted ones included).
  int n_key_groups(int layer, int head) const { return static_cast<int>(at(layer, head).size()); }

 private:
  // Bytes of one key group's params: (scale, min) fp16 per channel.
  size_t group_param_bytes() const { return 4 * static_cast<size_t>(head_dim()); }
  struct KeyGroup {
    std::vector<uint16_t> params;  // (2, head_dim) fp16: scales, then mins
    std::vector<uint8_t> codes;    // (n, code_bytes)
    int n = 0;
  };
  using Groups = std::vector<KeyGroup>;  // one (layer, head)'s, oldest first

  const Groups& at(int layer, int head) const { return groups_[layer * n_kv_heads() + head]; }
  Groups& at(int layer, int head) { return groups_[layer * n_kv_heads() + head]; }

  void QuantizeRows(int layer, int head, const float* rows, int n) override;
  // One group of G tokens, rows (G, head_dim).
  void QuantizeGroup(int layer, int head, const float* rows);
  void CompactQuantized(int layer, int head, absl::Span<const int> keep) override;
  void DotQuantized(int layer, int head, int n, const float* q, int n_q, float* scores,
                    int ld_scores) const override;
  void AccumulateQuantized(int layer, int head, int n, const float* w, int ld_w, int n_q,
                           float* out) const override;
  void ReadQuantized(int layer, int head, int j, float* row) const override;
  uint64_t QuantizedBytes(int layer, int head) const override;
  uint64_t QuantizedCapacity(int layer, int head) const override;

  // scratch.bias[i] = q_i . min for i < n_q (scratch.qt holds the queries transposed when
  // n_q <= 16).
  void GroupBias(const float* q, int n_q, const float* min, KiviScratch& scratch) const;
  // Codes of row x with the group's per-channel params, clamped to the group's range.
  void EncodeRow(const float* x, const KeyGroup& group, uint8_t* codes) const;
  // Scalar reference decoding of row j of a group.
  void DecodeRow(const KeyGroup& group, int j, float* out) const;
  // Vectorised decoding of rows [j0, j0 + n) of a group (same values as DecodeRow).
  void DecodeRows(const KeyGroup& group, int j0, int n, float* out) const;

  std::vector<Groups> groups_;  // (layers * kv_heads)
};

}  // namespace kvbench

#endif  // KVBENCH_STORES_KIVI_KEY_STORE_H_
