// GGUF (v2/v3) container: a validating reader over a memory mapping, and a writer.
//
// Layout (little-endian; ggml's docs/gguf.md):
//   "GGUF" | u32 version | u64 tensor_count | u64 metadata_kv_count
//   metadata_kv_count x { gguf_string key | u32 value_type | value }
//   tensor_count x { gguf_string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   zero padding up to a multiple of `general.alignment` (default 32, a power of two)
//   data section: each tensor at data_start + offset (offset a multiple of the alignment)
// gguf_string = u64 length + bytes (no terminator). Value types 0..12: UINT8 INT8 UINT16 INT16
// UINT32 INT32 FLOAT32 BOOL STRING ARRAY UINT64 INT64 FLOAT64; ARRAY = u32 element type + u64 count
// + elements (arrays may nest). ne[0] is the contiguous dimension: a matrix of `rows` x `cols` is
// ne = [cols, rows]. v1 (u32 counts) is not supported; v2 and v3 share the layout above.
//
// The reader is the first thing to touch an untrusted file, so it checks every length, count and
// product against the bytes that remain before using it. Errors: DataLoss for truncated or corrupt
// data (spec violations), InvalidArgument for valid GGUF that kvbench does not support (version,
// tensor type); every message names the file. Tensor data is never copied: GgufTensor::data points
// into the mapping.
#ifndef KVBENCH_FORMATS_GGUF_H_
#define KVBENCH_FORMATS_GGUF_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "formats/dtype.h"
#include "formats/mapped_file.h"

namespace kvbench {

// Metadata value types, numbered as in the file.
enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
std::string_view GgufTypeName(GgufType type);  // "UINT8", ..., "FLOAT64"

// ggml tensor type ids that kvbench reads; the others are named by GgmlTypeName only.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kBF16 = 30,
};
// The ggml tensor type that holds `dtype` (every DType is a ggml type).
GgmlType ToGgmlType(DType dtype);
// The ggml name of a tensor type id ("Q4_K" for 12), or "" when the id is not a ggml type.
std::string_view GgmlTypeName(uint32_t type);
// "Q4_K (12)", or "unknown (99)".
std::string DescribeGgmlType(uint32_t type);

inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr int kGgufMaxDims = 4;
inline constexpr int kGgufMaxArrayDepth = 8;  // arrays of arrays nested deeper are rejected

// One metadata value. Strings and numeric array payloads point into the mapping.
struct GgufValue {
  GgufType type = GgufType::kUint8;
  // Scalars: unsigned integers and BOOL in `u`, signed integers in `i`, FLOAT32/64 in `f`.
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0.0;
  std::string_view str;  // STRING
  // ARRAY: `count` elements of `elem_type`.
  GgufType elem_type = GgufType::kUint8;
  uint64_t count = 0;
  const std::byte* raw = nullptr;         // numeric and BOOL elements, packed little-endian
  std::vector<std::string_view> strings;  // STRING elements
  std::vector<GgufValue> arrays;          // ARRAY elements

  bool is_integer() const;  // any of the 8 integer types (not BOOL)
  bool is_float() const { return type == GgufType::kFloat32 || type == GgufType::kFloat64; }
};

// "UINT32", "ARRAY<STRING>[512]", "ARRAY<ARRAY>[2]".
std::string DescribeGgufValueType(const GgufValue& value);
// The value as text for listings; arrays show at most `max_elements` elements then "...".
std::string FormatGgufValue(const GgufValue& value, size_t max_elements = 8);

struct GgufTensor {
  std::string name;
  uint32_t ggml_type = 0;
  DType dtype = DType::kF32;
  std::vector<uint64_t> ne;  // ne[0] contiguous; 1..4 dims, each > 0
  uint64_t n_elements = 0;
  uint64_t offset = 0;  // relative to the data section
  uint64_t bytes = 0;
  const std::byte* data = nullptr;  // into the mapping
};

class GgufFile {
 public:
  // Maps and parses `path`.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses an image already in memory; `data` must outlive the result. `path` is for messages.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Parse(const std::byte* data, size_t size,
                                                         std::string path);

  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the data section in the file
  size_t file_size() const { return size_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* Find(std::string_view key) const;
  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  // Typed getters. NotFound when the key is absent; InvalidArgument naming the key, the stored type
  // and the value when it has the wrong type or does not fit. Integer getters accept any integer
  // type whose value fits; GetFloat accepts FLOAT32/FLOAT64 (as double).
  absl::StatusOr<uint32_t> GetU32(std::string_view key) const;
  absl::StatusOr<int64_t> GetInt(std::string_view key) const;
  absl::StatusOr<double> GetFloat(std::string_view key) const;
  absl::StatusOr<bool> GetBool(std::string_view key) const;
  absl::StatusOr<std::string> GetString(std::string_view key) const;
  absl::StatusOr<std::vector<std::string>> GetStringArray(std::string_view key) const;
  absl::StatusOr<std::vector<float>> GetFloatArray(std::string_view key) const;  // FLOAT32/64
  absl::StatusOr<std::vector<int64_t>> GetIntArray(std::string_view key) const;  // any integer

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* FindTensor(std::string_view name) const;

  // Hands the mapping to the caller (e.g. a Model). String views and tensor data pointers stay
  // valid while the returned mapping lives. Null for Parse()d images.
  std::unique_ptr<MappedFile> TakeMapping() { return std::move(mapping_); }

 private:
  GgufFile() = default;
  class Parser;

  std::string path_;
  std::unique_ptr<MappedFile> mapping_;
  const std::byte* base_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  absl::flat_hash_map<std::string, size_t> metadata_index_;
  std::vector<GgufTensor> tensors_;
  absl::flat_hash_map<std::string, size_t> tensor_index_;
};

// An array value for GgufWriter, possibly holding arrays. Build with the factories.
class GgufArray {
 public:
  // Numeric elements; T is one of uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float,
  // uint64_t, int64_t, double.
  template <typename T>
  static GgufArray Of(absl::Span<const T> values);
  static GgufArray Bools(const std::vector<bool>& values);
  static GgufArray Strings(absl::Span<const std::string> values);
  static GgufArray Arrays(std::vector<GgufArray> values);

  GgufType elem_type() const { return elem_type_; }
  uint64_t count() const { return count_; }
  const std::string& payload() const { return payload_; }  // the encoded elements

 private:
  GgufArray(GgufType elem_type, uint64_t count, std::string payload)
      : elem_type_(elem_type), count_(count), payload_(std::move(payload)) {}
  GgufType elem_type_;
  uint64_t count_;
  std::string payload_;
};

// Builds a GGUF v3 file exactly as ggml's gguf_write does: metadata in insertion order, tensor
// infos in insertion order, each tensor's data padded to the alignment (the last one too).
class GgufWriter {
 public:
  struct Options {
    uint32_t alignment = kGgufDefaultAlignment;  // != 32 also writes general.alignment
    uint32_t version = 3;
  };
  GgufWriter() : GgufWriter(Options{}) {}
  explicit GgufWriter(Options options) : options_(options) {}

  // Setting a key that exists replaces its value (keeping its position).
  void SetUint8(std::string_view key, uint8_t v);
  void SetInt8(std::string_view key, int8_t v);
  void SetUint16(std::string_view key, uint16_t v);
  void SetInt16(std::string_view key, int16_t v);
  void SetUint32(std::string_view key, uint32_t v);
  void SetInt32(std::string_view key, int32_t v);
  void SetFloat32(std::string_view key, float v);
  void SetBool(std::string_view key, bool v);
  void SetString(std::string_view key, std::string_view v);
  void SetUint64(std::string_view key, uint64_t v);
  void SetInt64(std::string_view key, int64_t v);
  void SetFloat64(std::string_view key, double v);
  void SetArray(std::string_view key, const GgufArray& v);

  // Adds a tensor whose bytes are already in `type`'s format. `ne` is in ggml order (ne[0]
  // contiguous). Errors: duplicate name, unsupported type, bad dims, size mismatch.
  absl::Status AddTensor(std::string_view name, GgmlType type, std::vector<uint64_t> ne,
                         absl::Span<const std::byte> data);
  // Converts f32 values to `type` (F16/BF16 round to nearest even; Q8_0 as llama.cpp's
  // quantize_row_q8_0_ref) and adds the tensor. The other block types are an error: their blocks
  // are written with AddTensor.
  absl::Status AddTensorFromF32(std::string_view name, GgmlType type, std::vector<uint64_t> ne,
                                absl::Span<const float> values);

  // The whole file image.
  absl::StatusOr<std::string> Serialize() const;
  // Writes `path` atomically (a temporary file beside it, then rename).
  absl::Status WriteFile(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> ne;
    std::string data;
  };
  void SetEncoded(std::string_view key, GgufType type, std::string payload);

  Options options_;
  std::vector<std::pair<std::string, std::string>> metadata_;  // key -> u32 type + payload
  std::vector<Tensor> tensors_;
};

}  // namespace kvbench

#endif  // KVBENCH_FORMATS_GGUF_H_
