// Row stores: every entry of a (layer, KV head) is one self-contained encoded row of head_dim values
// (f16, bf16, llama.cpp blocks, int8, fp8). A RowCodec defines the format; RowStore holds the rows
// and runs attention over them.
//
// Storage per (layer, head): one RowBuffer (row_buffer.h) of fixed-size rows, exactly like the f32
// store (dropping the oldest entries moves nothing; other compactions move the fewest rows;
// nothing is ever re-encoded by Compact). Attention decodes kTileRows rows at a time into
// thread-local f32 scratch and runs the f32 tile kernels (policies/quant_kernels.h) for all queries.
//
// Store scale (fp8 only): x is stored as enc(x / scale), one scale per (layer, KV head) or per
// layer. It is fixed (`amax` > 0: scale = amax / max_finite; `amax` = 0: scale = 1, vLLM's default
// without calibration) or, with `calibrate`, taken once from the first rows appended (scale = their
// amax / max_finite) and then frozen, so nothing is ever re-encoded. kPerHead calibrates each
// (layer, KV head) on its own first rows; kPerLayer calibrates a layer from the first Append call
// that reaches it (in PolicyCache: KV head 0's rows of the first step). Fed token by token, the
// first step is one token, and larger later values saturate: calibrate with a prompt block. Each
// scale is counted as 4 bytes once rows have been encoded with it (per head, or once per layer).
#ifndef KVBENCH_STORES_ROW_STORE_H_
#define KVBENCH_STORES_ROW_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stores/kv_store.h"
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
  // The largest magnitude the format holds at scale 1, for formats with a store scale; 0 otherwise.
  virtual float max_finite() const { return 0; }
};

enum class ScaleMode { kNone, kPerLayer, kPerHead };

struct RowStoreOptions {
  ScaleMode scale_mode = ScaleMode::kNone;
  float amax = 0;          // > 0: fixed scale amax / max_finite; 0: scale 1
  bool calibrate = false;  // take the scale from the first rows appended instead
  std::string name;  // the full name reported by name(); the codec's name when empty
};

class RowStore : public KvStore {
 public:
  RowStore(const CacheShape& shape, std::unique_ptr<RowCodec> codec, RowStoreOptions options = {});

  std::string name() const override { return name_; }
  void Append(int layer, int head, const float* rows, int n, int ld) override;
  int size(int layer, int head) const override { return at(layer, head).rows.size(); }
  void Compact(int layer, int head, absl::Span<const int> keep) override;
  void Dot(int layer, int head, const float* q, int n_q, float* scores, int ld_scores) const override;
  void Accumulate(int layer, int head, const float* w, int ld_w, int n_q, float* out) const override;
  void Read(int layer, int head, int j, float* row) const override;
  void Write(int layer, int head, int j, const float* row) override;
  KvMemory memory(int layer) const override;

  const RowCodec& codec() const { return *codec_; }
  // The store scale of (layer, head): 1 without one, 0 while not yet calibrated.
  float scale(int layer, int head) const { return at(layer, head).scale; }

 private:
  struct Rows {
    RowBuffer rows;          // encoded rows of row_bytes_
    float scale = 1.0f;      // store scale (fp8); 0 = not calibrated yet
    bool encoded = false;    // rows were encoded with `scale` (from then on it is held)
  };
  const Rows& at(int layer, int head) const { return rows_[layer * n_kv_heads_ + head]; }
  Rows& at(int layer, int head) { return rows_[layer * n_kv_heads_ + head]; }
  const uint8_t* row(const Rows& r, int j) const { return r.rows.row(j); }
  uint8_t* row(Rows& r, int j) { return r.rows.row(j); }
  void Calibrate(int layer, int head, const float* rows, int n, int ld);

  std::unique_ptr<RowCodec> codec_;
  RowStoreOptions options_;
  std::string name_;
  int n_kv_heads_;
  int head_dim_;
  size_t row_bytes_;
  std::vector<Rows> rows_;           // (layers * kv_heads)
  std::vector<uint64_t> allocated_;  // (layers) bytes reserved now
  std::vector<uint64_t> peak_;       // (layers) largest allocated_ so far
};

}  // namespace kvbench

#endif  // KVBENCH_STORES_ROW_STORE_H_
