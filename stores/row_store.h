// Row stores: every entry of a (layer, KV head) is one self-contained encoded row of head_dim
// values (f16, bf16, llama.cpp blocks, int8, fp8). A RowCodec defines the format; RowStore holds
// the rows and runs attention over them.
//
// Storage per (layer, head): one RowBuffer (row_buffer.h) of fixed-size rows, exactly like the f32
// store (dropping the oldest entries moves nothing; other compactions move the fewest rows;
// nothing is ever re-encoded by Compact). Attention runs the fused kernels (stores/quant_kernels.h)
// on the encoded rows when the codec describes them and the shape allows (CanFuse): each row is
// decoded in registers into the FMAs of all queries. Otherwise it decodes kTileRows rows at a time
// into thread-local f32 scratch and runs the f32 tile kernels; both give the same bits.
//
// A format with a store scale (fp8: x held as enc(x / scale)) derives from RowStore and supplies
// the scale of each (layer, head) and the bytes it costs (fp8_store.h); the rest pass scale 1.
#ifndef KVBENCH_STORES_ROW_STORE_H_
#define KVBENCH_STORES_ROW_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stores/kv_store.h"
#include "stores/quant_kernels.h"
#include "stores/row_buffer.h"

namespace kvbench {

class RowCodec {
 public:
  virtual ~RowCodec() = default;
  // The registry name, e.g. "q4_0".
  virtual std::string name() const = 0;
  virtual int head_dim() const = 0;
  // Bytes of one encoded row (payload + its own scales/mins).
  virtual size_t row_bytes() const = 0;
  // Encodes one row of head_dim values; `scale` is the store scale (1 for formats without one).
  virtual void Encode(const float* x, float scale, uint8_t* row) const = 0;
  // Scalar reference decoding of one row, straight from the format's definition.
  virtual void DecodeReference(const uint8_t* row, float scale, float* out) const = 0;
  // Decoding of n consecutive rows as attention uses it (vectorised where it matters). Must produce
  // exactly what DecodeReference produces. The default loops over DecodeReference.
  virtual void DecodeRows(const uint8_t* rows, int n, float scale, float* out) const;
  // Describes consecutive rows starting at `rows` for the fused kernels (quant_kernels.h), whose
  // decoders give exactly DecodeRows' values; false for a format they do not read. The default:
  // false.
  virtual bool Describe(const uint8_t* rows, float scale, EncodedRows* out) const { return false; }
};

class RowStore : public KvStore {
 public:
  // `name` is what name() reports; the codec's name when empty.
  RowStore(const CacheShape& shape, std::unique_ptr<RowCodec> codec, std::string name = "");

  // Logical bytes of one layer holding `entries` rows in each KV head: entries x row_bytes x heads.
  static uint64_t LayerBytes(size_t row_bytes, const CacheShape& shape, int64_t entries);

  std::string name() const override { return name_; }
  void Append(int layer, int head, const float* rows, int n, int ld) override;
  int size(int layer, int head) const override { return at(layer, head).size(); }
  void Compact(int layer, int head, absl::Span<const int> keep) override;
  void Dot(int layer, int head, int n, const float* q, int n_q, float* scores,
           int ld_scores) const override;
  void Accumulate(int layer, int head, int n, const float* w, int ld_w, int n_q,
                  float* out) const override;
  void Read(int layer, int head, int j, float* row) const override;
  KvMemory memory(int layer) const override;

 protected:
  // The store scale the rows of (layer, head) are encoded with: 1 for formats without one.
  virtual float scale(int layer, int head) const { return 1.0f; }
  // Called before Append encodes n > 0 rows of (layer, head); fp8 calibrates its scale here.
  virtual void BeforeEncode(int layer, int head, const float* rows, int n, int ld) {}
  // Bytes a layer holds besides its rows (fp8's scales); counted as logical, allocated and peak.
  virtual uint64_t scale_bytes(int layer) const { return 0; }

  int n_kv_heads() const { return n_kv_heads_; }
  int head_dim() const { return head_dim_; }

 private:
  const RowBuffer& at(int layer, int head) const { return rows_[layer * n_kv_heads_ + head]; }
  RowBuffer& at(int layer, int head) { return rows_[layer * n_kv_heads_ + head]; }

  std::unique_ptr<RowCodec> codec_;
  std::string name_;
  int n_kv_heads_;
  int head_dim_;
  size_t row_bytes_;
  std::vector<RowBuffer> rows_;      // (layers * kv_heads) encoded rows of row_bytes_
  std::vector<uint64_t> allocated_;  // (layers) bytes reserved now
  std::vector<uint64_t> peak_;       // (layers) largest allocated_ so far
};

}  // namespace kvbench

#endif  // KVBENCH_STORES_ROW_STORE_H_
