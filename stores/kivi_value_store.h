// KIVI values (kivi_store.h): quantized per token. Each token row is split into groups of
// g = min(G, head_dim) channels, each with its own (scale, min), stored in front of the row's
// codes, so a row is self-contained and attention decodes values tile by tile.
#ifndef KVBENCH_STORES_KIVI_VALUE_STORE_H_
#define KVBENCH_STORES_KIVI_VALUE_STORE_H_

#include <cstdint>
#include <vector>

#include "stores/kivi_store.h"
#include "stores/quant_kernels.h"

namespace kvbench {

class KiviValueStore final : public KiviStore {
 public:
  KiviValueStore(const CacheShape& shape, const KiviOptions& options);

  // Bytes of one value row: (scale, min) fp16 per channel group, then the packed codes.
  static size_t RowBytes(const KiviOptions& options, int head_dim);

 private:
  // One (layer, head)'s quantized rows: (n_quantized, row_bytes_), each
  // [(head_dim / g, 2) fp16 (scale, min)][packed codes].
  using Rows = std::vector<uint8_t>;

  const Rows& at(int layer, int head) const { return rows_[layer * n_kv_heads() + head]; }
  Rows& at(int layer, int head) { return rows_[layer * n_kv_heads() + head]; }

  void QuantizeRows(int layer, int head, const float* rows, int n) override;
  void CompactQuantized(int layer, int head, absl::Span<const int> keep) override;
  void DotQuantized(int layer, int head, int n, const float* q, int n_q, float* scores,
                    int ld_scores) const override;
  void AccumulateQuantized(int layer, int head, int n, const float* w, int ld_w, int n_q,
                           float* out) const override;
  void ReadQuantized(int layer, int head, int j, float* row) const override;
  uint64_t QuantizedBytes(int layer, int head) const override;
  uint64_t QuantizedCapacity(int layer, int head) const override;

  // One row of head_dim values, with fresh params per channel group.
  void EncodeRow(const float* x, uint8_t* row) const;
  // Scalar reference decoding of one row.
  void DecodeRow(const uint8_t* row, float* out) const;
  // Vectorised decoding of n consecutive rows (same values as DecodeRow).
  void DecodeRows(const uint8_t* rows, int n, float* out) const;
  // The rows for the fused kernels (quant_kernels.h), which decode them as DecodeRows does.
  EncodedRows Encoded(const Rows& quantized) const;

  int channel_group_;       // g = min(G, head_dim)
  size_t row_bytes_;        // 4 * head_dim / g + code_bytes
  std::vector<Rows> rows_;  // (layers * kv_heads)
};

}  // namespace kvbench

#endif  // KVBENCH_STORES_KIVI_VALUE_STORE_H_
