#include "formats/gguf.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <type_traits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "formats/atomic_file.h"
#include "formats/half.h"

namespace kvbench {
namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};

// Concatenates strings and std::string_views (Debian's Abseil does not alias absl::string_view to
// std::string_view, so absl::StrCat rejects the latter).
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::string s;
  (s.append(parts), ...);
  return s;
}

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Encoded size of a scalar element type; 0 for STRING and ARRAY (variable) or unknown ids.
size_t ScalarSize(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kString:
    case GgufType::kArray:
      return 0;
  }
  return 0;
}

bool IsValidType(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kFloat64); }

// Smallest encoding of one element of `type`: bounds array counts by the bytes that remain.
size_t MinEncodedSize(GgufType type) {
  if (type == GgufType::kString) return 8;     // u64 length
  if (type == GgufType::kArray) return 4 + 8;  // u32 type + u64 count
  return ScalarSize(type);
}

template <typename T>
T LoadLE(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // the file is little-endian, as are the hosts kvbench targets
  return v;
}

// Decodes element `i` of a packed numeric array (or a scalar at `p`) into the value fields.
void DecodeScalar(GgufType type, const std::byte* p, GgufValue* v) {
  v->type = type;
  switch (type) {
    case GgufType::kUint8:
      v->u = LoadLE<uint8_t>(p);
      break;
    case GgufType::kInt8:
      v->i = LoadLE<int8_t>(p);
      break;
    case GgufType::kUint16:
      v->u = LoadLE<uint16_t>(p);
      break;
    case GgufType::kInt16:
      v->i = LoadLE<int16_t>(p);
      break;
    case GgufType::kUint32:
      v->u = LoadLE<uint32_t>(p);
      break;
    case GgufType::kInt32:
      v->i = LoadLE<int32_t>(p);
      break;
    case GgufType::kFloat32:
      v->f = LoadLE<float>(p);
      break;
    case GgufType::kBool:
      v->u = LoadLE<uint8_t>(p);
      break;
    case GgufType::kUint64:
      v->u = LoadLE<uint64_t>(p);
      break;
    case GgufType::kInt64:
      v->i = LoadLE<int64_t>(p);
      break;
    case GgufType::kFloat64:
      v->f = LoadLE<double>(p);
      break;
    case GgufType::kString:
    case GgufType::kArray:
      break;
  }
}

bool IsUnsigned(GgufType t) {
  return t == GgufType::kUint8 || t == GgufType::kUint16 || t == GgufType::kUint32 ||
         t == GgufType::kUint64;
}

// The integer in `v` as int64, if it is an integer that fits.
bool IntValue(const GgufValue& v, int64_t* out) {
  if (!v.is_integer()) return false;
  if (IsUnsigned(v.type)) {
    if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(v.u);
  } else {
    *out = v.i;
  }
  return true;
}

// Bytes of `n` elements of a supported ggml type, or false on overflow / a row (ne[0]) that is not
// whole blocks.
bool TensorBytes(DType dtype, uint64_t ne0, uint64_t n, uint64_t* bytes) {
  const uint64_t block_values = BlockValues(dtype), block_bytes = BlockBytes(dtype);
  if (ne0 % block_values != 0) return false;
  if (n / block_values > std::numeric_limits<uint64_t>::max() / block_bytes) return false;
  *bytes = n / block_values * block_bytes;
  return true;
}

bool ToDType(uint32_t ggml_type, DType* out) {
  switch (static_cast<GgmlType>(ggml_type)) {
    case GgmlType::kF32:
      *out = DType::kF32;
      return true;
    case GgmlType::kF16:
      *out = DType::kF16;
      return true;
    case GgmlType::kQ4_0:
      *out = DType::kQ4_0;
      return true;
    case GgmlType::kQ4_1:
      *out = DType::kQ4_1;
      return true;
    case GgmlType::kQ5_0:
      *out = DType::kQ5_0;
      return true;
    case GgmlType::kQ5_1:
      *out = DType::kQ5_1;
      return true;
    case GgmlType::kQ8_0:
      *out = DType::kQ8_0;
      return true;
    case GgmlType::kQ4_K:
      *out = DType::kQ4_K;
      return true;
    case GgmlType::kQ5_K:
      *out = DType::kQ5_K;
      return true;
    case GgmlType::kQ6_K:
      *out = DType::kQ6_K;
      return true;
    case GgmlType::kBF16:
      *out = DType::kBF16;
      return true;
  }
  return false;
}

}  // namespace

GgmlType ToGgmlType(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return GgmlType::kF32;
    case DType::kF16:
      return GgmlType::kF16;
    case DType::kBF16:
      return GgmlType::kBF16;
    case DType::kQ8_0:
      return GgmlType::kQ8_0;
    case DType::kQ4_0:
      return GgmlType::kQ4_0;
    case DType::kQ4_1:
      return GgmlType::kQ4_1;
    case DType::kQ5_0:
      return GgmlType::kQ5_0;
    case DType::kQ5_1:
      return GgmlType::kQ5_1;
    case DType::kQ4_K:
      return GgmlType::kQ4_K;
    case DType::kQ5_K:
      return GgmlType::kQ5_K;
    case DType::kQ6_K:
      return GgmlType::kQ6_K;
  }
  return GgmlType::kF32;  // unreachable: the switch covers every DType
}

std::string_view GgufTypeName(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
      return "UINT8";
    case GgufType::kInt8:
      return "INT8";
    case GgufType::kUint16:
      return "UINT16";
    case GgufType::kInt16:
      return "INT16";
    case GgufType::kUint32:
      return "UINT32";
    case GgufType::kInt32:
      return "INT32";
    case GgufType::kFloat32:
      return "FLOAT32";
    case GgufType::kBool:
      return "BOOL";
    case GgufType::kString:
      return "STRING";
    case GgufType::kArray:
      return "ARRAY";
    case GgufType::kUint64:
      return "UINT64";
    case GgufType::kInt64:
      return "INT64";
    case GgufType::kFloat64:
      return "FLOAT64";
  }
  return "?";
}

std::string_view GgmlTypeName(uint32_t type) {
  // ggml.h's enum ggml_type; ids 4, 5 and 31..33, 36..38 were removed upstream.
  static constexpr std::string_view kNames[] = {
      "F32",     "F16",    "Q4_0",    "Q4_1",  "",       "",      "Q5_0",  "Q5_1",
      "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",  "Q4_K",   "Q5_K",  "Q6_K",  "Q8_K",
      "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
      "I8",      "I16",    "I32",     "I64",   "F64",    "IQ1_M", "BF16",  "",
      "",        "",       "TQ1_0",   "TQ2_0", "",       "",      "",      "MXFP4"};
  if (type >= std::size(kNames)) return "";
  return kNames[type];
}

std::string DescribeGgmlType(uint32_t type) {
  const std::string_view name = GgmlTypeName(type);
  return absl::StrFormat("%s (%d)", name.empty() ? "unknown" : name, type);
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kUint16:
    case GgufType::kInt16:
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kUint64:
    case GgufType::kInt64:
      return true;
    default:
      return false;
  }
}

std::string DescribeGgufValueType(const GgufValue& value) {
  if (value.type != GgufType::kArray) return std::string(GgufTypeName(value.type));
  return absl::StrFormat("ARRAY<%s>[%d]", GgufTypeName(value.elem_type), value.count);
}

namespace {

std::string FormatScalar(const GgufValue& v) {
  switch (v.type) {
    case GgufType::kBool:
      return v.u ? "true" : "false";
    case GgufType::kFloat32:
    case GgufType::kFloat64:
      return absl::StrFormat("%g", v.f);
    case GgufType::kString:
      return absl::StrCat("\"", absl::CEscape(absl::string_view(v.str.data(), v.str.size())), "\"");
    default:
      return IsUnsigned(v.type) ? absl::StrCat(v.u) : absl::StrCat(v.i);
  }
}

}  // namespace

std::string FormatGgufValue(const GgufValue& value, size_t max_elements) {
  if (value.type != GgufType::kArray) return FormatScalar(value);
  std::vector<std::string> parts;
  const uint64_t shown = std::min<uint64_t>(value.count, max_elements);
  for (uint64_t k = 0; k < shown; ++k) {
    if (value.elem_type == GgufType::kString) {
      GgufValue s;
      s.type = GgufType::kString;
      s.str = value.strings[k];
      parts.push_back(FormatScalar(s));
    } else if (value.elem_type == GgufType::kArray) {
      parts.push_back(FormatGgufValue(value.arrays[k], max_elements));
    } else {
      GgufValue e;
      DecodeScalar(value.elem_type, value.raw + k * ScalarSize(value.elem_type), &e);
      parts.push_back(FormatScalar(e));
    }
  }
  if (shown < value.count) parts.push_back(absl::StrFormat("... (%d total)", value.count));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

// ---------------------------------------------------------------------------------------------
// Reader

class GgufFile::Parser {
 public:
  explicit Parser(GgufFile* file) : f_(file) {}

  absl::Status Run() {
    RETURN_IF_ERROR(ParseHeader());
    for (uint64_t k = 0; k < n_kv_; ++k) RETURN_IF_ERROR(ParseKv(k));
    RETURN_IF_ERROR(ReadAlignment());
    for (uint64_t k = 0; k < n_tensors_; ++k) RETURN_IF_ERROR(ParseTensorInfo(k));
    return PlaceTensors();
  }

 private:
  size_t remaining() const { return f_->size_ - pos_; }

  absl::Status Corrupt(std::string_view what) const {
    return absl::DataLossError(Cat(f_->path_, ": corrupt GGUF: ", what));
  }

  // Every read goes through Need(): nothing is touched before its bytes are known to exist.
  absl::Status Need(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      return absl::DataLossError(absl::StrFormat(
          "%s: truncated GGUF: %s needs %d bytes at offset %d, but the file has %d bytes",
          f_->path_, what, n, pos_, f_->size_));
    }
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status Read(T* out, std::string_view what) {
    RETURN_IF_ERROR(Need(sizeof(T), what));
    *out = LoadLE<T>(f_->base_ + pos_);
    pos_ += sizeof(T);
    return absl::OkStatus();
  }

  absl::Status ReadString(std::string_view* out, std::string_view what) {
    uint64_t len;
    RETURN_IF_ERROR(Read(&len, Cat("the length of ", what)));
    if (len > remaining()) {
      return absl::DataLossError(
          absl::StrFormat("%s: corrupt GGUF: %s at offset %d claims %d bytes, but only %d remain",
                          f_->path_, what, pos_ - 8, len, remaining()));
    }
    *out = std::string_view(reinterpret_cast<const char*>(f_->base_ + pos_), len);
    pos_ += len;
    return absl::OkStatus();
  }

  absl::Status ParseHeader() {
    if (f_->size_ < 4) {
      return absl::DataLossError(
          absl::StrFormat("%s: truncated GGUF: the file has %d bytes, too few for the magic",
                          f_->path_, f_->size_));
    }
    if (std::memcmp(f_->base_, kMagic, 4) != 0) {
      std::string got(reinterpret_cast<const char*>(f_->base_), 4);
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: not a GGUF file (first bytes \"%s\", expected \"GGUF\")", f_->path_,
                          absl::CEscape(got)));
    }
    pos_ = 4;
    RETURN_IF_ERROR(Read(&f_->version_, "the version"));
    if (f_->version_ != 2 && f_->version_ != 3) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: GGUF version %d is not supported (only 2 and 3)", f_->path_, f_->version_));
    }
    RETURN_IF_ERROR(Read(&n_tensors_, "the tensor count"));
    RETURN_IF_ERROR(Read(&n_kv_, "the metadata count"));
    // Each entry needs at least its fixed-size fields; larger counts cannot be genuine.
    constexpr uint64_t kMinKv = 8 + 4 + 1;              // key length, type, 1-byte value
    constexpr uint64_t kMinTensor = 8 + 4 + 8 + 4 + 8;  // name length, n_dims, ne[0], type, offset
    if (n_kv_ > remaining() / kMinKv) {
      return Corrupt(
          absl::StrFormat("metadata count %d cannot fit in a %d-byte file", n_kv_, f_->size_));
    }
    if (n_tensors_ > remaining() / kMinTensor) {
      return Corrupt(
          absl::StrFormat("tensor count %d cannot fit in a %d-byte file", n_tensors_, f_->size_));
    }
    return absl::OkStatus();
  }

  absl::Status ParseKv(uint64_t k) {
    std::string_view key;
    RETURN_IF_ERROR(ReadString(&key, absl::StrFormat("metadata key #%d", k)));
    uint32_t type;
    RETURN_IF_ERROR(Read(&type, Cat("the type of metadata '", key, "'")));
    if (!IsValidType(type)) {
      return Corrupt(absl::StrFormat("metadata '%s' has invalid value type %d", key, type));
    }
    GgufValue value;
    RETURN_IF_ERROR(ParseValue(static_cast<GgufType>(type), key, 0, &value));
    std::string key_str(key);
    if (!f_->metadata_index_.emplace(key_str, f_->metadata_.size()).second) {
      return Corrupt(absl::StrFormat("duplicate metadata key '%s'", key));
    }
    f_->metadata_.emplace_back(std::move(key_str), std::move(value));
    return absl::OkStatus();
  }

  absl::Status ParseValue(GgufType type, std::string_view key, int depth, GgufValue* v) {
    v->type = type;
    if (type == GgufType::kString) {
      return ReadString(&v->str, Cat("the string value of '", key, "'"));
    }
    if (type != GgufType::kArray) {
      const size_t n = ScalarSize(type);
      RETURN_IF_ERROR(Need(n, Cat("the value of '", key, "'")));
      DecodeScalar(type, f_->base_ + pos_, v);
      v->type = type;
      pos_ += n;
      return absl::OkStatus();
    }
    if (depth >= kGgufMaxArrayDepth) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: metadata '%s' nests arrays deeper than %d levels", f_->path_, key,
                          kGgufMaxArrayDepth));
    }
    uint32_t elem;
    RETURN_IF_ERROR(Read(&elem, Cat("the element type of array '", key, "'")));
    if (!IsValidType(elem)) {
      return Corrupt(absl::StrFormat("array '%s' has invalid element type %d", key, elem));
    }
    v->elem_type = static_cast<GgufType>(elem);
    RETURN_IF_ERROR(Read(&v->count, Cat("the count of array '", key, "'")));
    const size_t min_size = MinEncodedSize(v->elem_type);
    if (v->count > remaining() / min_size) {
      return Corrupt(absl::StrFormat(
          "array '%s' claims %d %s elements (at least %d bytes each), but only %d bytes remain",
          key, v->count, GgufTypeName(v->elem_type), min_size, remaining()));
    }
    if (v->elem_type == GgufType::kString) {
      v->strings.resize(v->count);
      for (uint64_t k = 0; k < v->count; ++k) {
        RETURN_IF_ERROR(
            ReadString(&v->strings[k], absl::StrFormat("element %d of array '%s'", k, key)));
      }
    } else if (v->elem_type == GgufType::kArray) {
      v->arrays.resize(v->count);
      for (uint64_t k = 0; k < v->count; ++k) {
        RETURN_IF_ERROR(ParseValue(GgufType::kArray, key, depth + 1, &v->arrays[k]));
      }
    } else {
      v->raw = f_->base_ + pos_;
      pos_ += v->count * min_size;  // checked above
    }
    return absl::OkStatus();
  }

  absl::Status ReadAlignment() {
    const GgufValue* a = f_->Find("general.alignment");
    if (a == nullptr) return absl::OkStatus();
    int64_t align;
    if (!IntValue(*a, &align) || align <= 0 || align > (int64_t{1} << 30) ||
        (align & (align - 1)) != 0) {
      return Corrupt(
          absl::StrFormat("general.alignment = %s (%s) is not a power of two in [1, 2^30]",
                          FormatGgufValue(*a), DescribeGgufValueType(*a)));
    }
    f_->alignment_ = static_cast<uint32_t>(align);
    return absl::OkStatus();
  }

  absl::Status ParseTensorInfo(uint64_t k) {
    GgufTensor t;
    std::string_view name;
    RETURN_IF_ERROR(ReadString(&name, absl::StrFormat("the name of tensor #%d", k)));
    t.name = std::string(name);
    uint32_t n_dims;
    RETURN_IF_ERROR(Read(&n_dims, Cat("n_dims of tensor '", name, "'")));
    if (n_dims < 1 || n_dims > kGgufMaxDims) {
      return Corrupt(absl::StrFormat("tensor '%s' has n_dims = %d (must be 1..%d)", name, n_dims,
                                     kGgufMaxDims));
    }
    t.ne.resize(n_dims);
    t.n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      RETURN_IF_ERROR(Read(&t.ne[d], absl::StrFormat("ne[%d] of tensor '%s'", d, name)));
      // ggml keeps ne as int64: larger values are negative there.
      if (t.ne[d] == 0 || t.ne[d] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Corrupt(absl::StrFormat("tensor '%s' has ne[%d] = %d", name, d, t.ne[d]));
      }
      if (t.n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / t.ne[d]) {
        return Corrupt(
            absl::StrFormat("tensor '%s' has an element count that overflows (ne = [%s])", name,
                            absl::StrJoin(t.ne.begin(), t.ne.begin() + d + 1, ", ")));
      }
      t.n_elements *= t.ne[d];
    }
    RETURN_IF_ERROR(Read(&t.ggml_type, Cat("the type of tensor '", name, "'")));
    RETURN_IF_ERROR(Read(&t.offset, Cat("the offset of tensor '", name, "'")));
    if (!ToDType(t.ggml_type, &t.dtype)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: tensor '%s' has type %s, which kvbench does not support (F32, F16, BF16, Q8_0, "
          "Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)",
          f_->path_, name, DescribeGgmlType(t.ggml_type)));
    }
    if (!TensorBytes(t.dtype, t.ne[0], t.n_elements, &t.bytes)) {
      return Corrupt(
          absl::StrFormat("tensor '%s' (%s, ne = [%s]) has no valid byte size%s", name,
                          DTypeName(t.dtype), absl::StrJoin(t.ne, ", "),
                          BlockValues(t.dtype) > 1 && t.ne[0] % BlockValues(t.dtype) != 0
                              ? absl::StrFormat(": ne[0] is not a multiple of %s's block of %d",
                                                DTypeName(t.dtype), BlockValues(t.dtype))
                              : ""));
    }
    if (!f_->tensor_index_.emplace(t.name, f_->tensors_.size()).second) {
      return Corrupt(absl::StrFormat("duplicate tensor name '%s'", name));
    }
    f_->tensors_.push_back(std::move(t));
    return absl::OkStatus();
  }

  absl::Status PlaceTensors() {
    const uint64_t align = f_->alignment_;
    // pos_ <= size, align <= 2^30: no overflow.
    f_->data_offset_ = (pos_ + align - 1) / align * align;
    for (GgufTensor& t : f_->tensors_) {
      if (t.offset % align != 0) {
        return Corrupt(
            absl::StrFormat("tensor '%s' has offset %d, not a multiple of the alignment %d", t.name,
                            t.offset, align));
      }
      const uint64_t avail = f_->size_ > f_->data_offset_ ? f_->size_ - f_->data_offset_ : 0;
      if (t.offset > avail || t.bytes > avail - t.offset) {
        return absl::DataLossError(absl::StrFormat(
            "%s: truncated GGUF: tensor '%s' (%d bytes at data offset %d) ends past the end of the "
            "file (data section starts at %d, file has %d bytes)",
            f_->path_, t.name, t.bytes, t.offset, f_->data_offset_, f_->size_));
      }
      t.data = f_->base_ + f_->data_offset_ + t.offset;
    }
    return absl::OkStatus();
  }

  GgufFile* f_;
  size_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
};

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapping, MappedFile::Open(path));
  ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, Parse(mapping->data(), mapping->size(), path));
  file->mapping_ = std::move(mapping);
  return file;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Parse(const std::byte* data, size_t size,
                                                          std::string path) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = std::move(path);
  file->base_ = data;
  file->size_ = size;
  Parser parser(file.get());
  RETURN_IF_ERROR(parser.Run());
  return file;
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = metadata_index_.find(AbslView(key));
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufTensor* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(AbslView(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

absl::Status MissingKey(const std::string& path, std::string_view key) {
  return absl::NotFoundError(absl::StrFormat("%s: metadata key '%s' not found", path, key));
}

absl::Status WrongType(const std::string& path, std::string_view key, const GgufValue& v,
                       std::string_view expected) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: metadata '%s' is %s = %s, expected %s",
                                                    path, key, DescribeGgufValueType(v),
                                                    FormatGgufValue(v, 4), expected));
}

}  // namespace

absl::StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return MissingKey(path_, key);
  int64_t out;
  if (!IntValue(*v, &out)) return WrongType(path_, key, *v, "an integer that fits int64");
  return out;
}

absl::StatusOr<uint32_t> GgufFile::GetU32(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return MissingKey(path_, key);
  int64_t out;
  if (!IntValue(*v, &out) || out < 0 || out > std::numeric_limits<uint32_t>::max()) {
    return WrongType(path_, key, *v, "an integer in [0, 2^32)");
  }
  return static_cast<uint32_t>(out);
}

absl::StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return MissingKey(path_, key);
  if (!v->is_float()) return WrongType(path_, key, *v, "FLOAT32 or FLOAT64");
  return v->f;
}

absl::StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return MissingKey(path_, key);
  if (v->type != GgufType::kBool) return WrongType(path_, key, *v, "BOOL");
  return v->u != 0;
}

absl::StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return MissingKey(path_, key);
  if (v->type != GgufType::kString) return WrongType(path_, key, *v, "STRING");
  return std::string(v->str);
}

absl::StatusOr<std::vector<std::string>> GgufFile::GetStringArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return MissingKey(path_, key);
  if (v->type != GgufType::kArray || v->elem_type != GgufType::kString) {
    return WrongType(path_, key, *v, "ARRAY<STRING>");
  }
  return std::vector<std::string>(v->strings.begin(), v->strings.end());
}

absl::StatusOr<std::vector<float>> GgufFile::GetFloatArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return MissingKey(path_, key);
  if (v->type != GgufType::kArray ||
      (v->elem_type != GgufType::kFloat32 && v->elem_type != GgufType::kFloat64)) {
    return WrongType(path_, key, *v, "ARRAY<FLOAT32> or ARRAY<FLOAT64>");
  }
  std::vector<float> out(v->count);
  const size_t size = ScalarSize(v->elem_type);
  for (uint64_t k = 0; k < v->count; ++k) {
    GgufValue e;
    DecodeScalar(v->elem_type, v->raw + k * size, &e);
    out[k] = static_cast<float>(e.f);
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return MissingKey(path_, key);
  GgufValue probe;
  probe.type = v->elem_type;
  if (v->type != GgufType::kArray || !probe.is_integer()) {
    return WrongType(path_, key, *v, "an ARRAY of integers");
  }
  std::vector<int64_t> out(v->count);
  const size_t size = ScalarSize(v->elem_type);
  for (uint64_t k = 0; k < v->count; ++k) {
    GgufValue e;
    DecodeScalar(v->elem_type, v->raw + k * size, &e);
    if (!IntValue(e, &out[k])) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: element %d of metadata '%s' (%d) does not fit int64", path_, k, key, e.u));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writer

namespace {

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out->append(buf, sizeof(T));
}

void PutString(std::string* out, std::string_view s) {
  Put<uint64_t>(out, s.size());
  out->append(s);
}

template <typename T>
constexpr GgufType TypeOf() {
  if constexpr (std::is_same_v<T, uint8_t>) return GgufType::kUint8;
  if constexpr (std::is_same_v<T, int8_t>) return GgufType::kInt8;
  if constexpr (std::is_same_v<T, uint16_t>) return GgufType::kUint16;
  if constexpr (std::is_same_v<T, int16_t>) return GgufType::kInt16;
  if constexpr (std::is_same_v<T, uint32_t>) return GgufType::kUint32;
  if constexpr (std::is_same_v<T, int32_t>) return GgufType::kInt32;
  if constexpr (std::is_same_v<T, float>) return GgufType::kFloat32;
  if constexpr (std::is_same_v<T, uint64_t>) return GgufType::kUint64;
  if constexpr (std::is_same_v<T, int64_t>) return GgufType::kInt64;
  if constexpr (std::is_same_v<T, double>) return GgufType::kFloat64;
}

template <typename T>
std::string Scalar(T v) {
  std::string s;
  Put<T>(&s, v);
  return s;
}

}  // namespace

template <typename T>
GgufArray GgufArray::Of(absl::Span<const T> values) {
  std::string payload;
  for (const T& v : values) Put<T>(&payload, v);
  return GgufArray(TypeOf<T>(), values.size(), std::move(payload));
}

template GgufArray GgufArray::Of<uint8_t>(absl::Span<const uint8_t>);
template GgufArray GgufArray::Of<int8_t>(absl::Span<const int8_t>);
template GgufArray GgufArray::Of<uint16_t>(absl::Span<const uint16_t>);
template GgufArray GgufArray::Of<int16_t>(absl::Span<const int16_t>);
template GgufArray GgufArray::Of<uint32_t>(absl::Span<const uint32_t>);
template GgufArray GgufArray::Of<int32_t>(absl::Span<const int32_t>);
template GgufArray GgufArray::Of<float>(absl::Span<const float>);
template GgufArray GgufArray::Of<uint64_t>(absl::Span<const uint64_t>);
template GgufArray GgufArray::Of<int64_t>(absl::Span<const int64_t>);
template GgufArray GgufArray::Of<double>(absl::Span<const double>);

GgufArray GgufArray::Bools(const std::vector<bool>& values) {
  std::string payload;
  for (bool b : values) Put<uint8_t>(&payload, b ? 1 : 0);
  return GgufArray(GgufType::kBool, values.size(), std::move(payload));
}

GgufArray GgufArray::Strings(absl::Span<const std::string> values) {
  std::string payload;
  for (const std::string& s : values) PutString(&payload, s);
  return GgufArray(GgufType::kString, values.size(), std::move(payload));
}

GgufArray GgufArray::Arrays(std::vector<GgufArray> values) {
  std::string payload;
  for (const GgufArray& a : values) {
    Put<uint32_t>(&payload, static_cast<uint32_t>(a.elem_type()));
    Put<uint64_t>(&payload, a.count());
    payload += a.payload();
  }
  return GgufArray(GgufType::kArray, values.size(), std::move(payload));
}

void GgufWriter::SetEncoded(std::string_view key, GgufType type, std::string payload) {
  std::string encoded = Scalar<uint32_t>(static_cast<uint32_t>(type)) + payload;
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(encoded);
      return;
    }
  }
  metadata_.emplace_back(std::string(key), std::move(encoded));
}

void GgufWriter::SetUint8(std::string_view key, uint8_t v) {
  SetEncoded(key, GgufType::kUint8, Scalar(v));
}
void GgufWriter::SetInt8(std::string_view key, int8_t v) {
  SetEncoded(key, GgufType::kInt8, Scalar(v));
}
void GgufWriter::SetUint16(std::string_view key, uint16_t v) {
  SetEncoded(key, GgufType::kUint16, Scalar(v));
}
void GgufWriter::SetInt16(std::string_view key, int16_t v) {
  SetEncoded(key, GgufType::kInt16, Scalar(v));
}
void GgufWriter::SetUint32(std::string_view key, uint32_t v) {
  SetEncoded(key, GgufType::kUint32, Scalar(v));
}
void GgufWriter::SetInt32(std::string_view key, int32_t v) {
  SetEncoded(key, GgufType::kInt32, Scalar(v));
}
void GgufWriter::SetFloat32(std::string_view key, float v) {
  SetEncoded(key, GgufType::kFloat32, Scalar(v));
}
void GgufWriter::SetBool(std::string_view key, bool v) {
  SetEncoded(key, GgufType::kBool, Scalar<uint8_t>(v ? 1 : 0));
}
void GgufWriter::SetString(std::string_view key, std::string_view v) {
  std::string s;
  PutString(&s, v);
  SetEncoded(key, GgufType::kString, std::move(s));
}
void GgufWriter::SetUint64(std::string_view key, uint64_t v) {
  SetEncoded(key, GgufType::kUint64, Scalar(v));
}
void GgufWriter::SetInt64(std::string_view key, int64_t v) {
  SetEncoded(key, GgufType::kInt64, Scalar(v));
}
void GgufWriter::SetFloat64(std::string_view key, double v) {
  SetEncoded(key, GgufType::kFloat64, Scalar(v));
}
void GgufWriter::SetArray(std::string_view key, const GgufArray& v) {
  std::string s = Scalar<uint32_t>(static_cast<uint32_t>(v.elem_type()));
  Put<uint64_t>(&s, v.count());
  s += v.payload();
  SetEncoded(key, GgufType::kArray, std::move(s));
}

absl::Status GgufWriter::AddTensor(std::string_view name, GgmlType type, std::vector<uint64_t> ne,
                                   absl::Span<const std::byte> data) {
  DType dtype;
  if (!ToDType(static_cast<uint32_t>(type), &dtype)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("GGUF writer: tensor '%s' has unsupported type %s", name,
                        DescribeGgmlType(static_cast<uint32_t>(type))));
  }
  for (const Tensor& t : tensors_) {
    if (t.name == name) {
      return absl::InvalidArgumentError(
          absl::StrFormat("GGUF writer: duplicate tensor '%s'", name));
    }
  }
  if (ne.empty() || ne.size() > kGgufMaxDims) {
    return absl::InvalidArgumentError(
        absl::StrFormat("GGUF writer: tensor '%s' has %d dims (must be 1..4)", name, ne.size()));
  }
  uint64_t n = 1;
  for (uint64_t d : ne) {
    if (d == 0 || d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / d) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "GGUF writer: tensor '%s' has invalid ne = [%s]", name, absl::StrJoin(ne, ", ")));
    }
    n *= d;
  }
  uint64_t bytes;
  if (!TensorBytes(dtype, ne[0], n, &bytes)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("GGUF writer: tensor '%s' (%s) ne[0] = %d is not a multiple of %d", name,
                        DTypeName(dtype), ne[0], BlockValues(dtype)));
  }
  if (bytes != data.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("GGUF writer: tensor '%s' (%s, ne = [%s]) needs %d bytes, got %d", name,
                        DTypeName(dtype), absl::StrJoin(ne, ", "), bytes, data.size()));
  }
  tensors_.push_back(Tensor{std::string(name), type, std::move(ne),
                            std::string(reinterpret_cast<const char*>(data.data()), data.size())});
  return absl::OkStatus();
}

absl::Status GgufWriter::AddTensorFromF32(std::string_view name, GgmlType type,
                                          std::vector<uint64_t> ne,
                                          absl::Span<const float> values) {
  std::string bytes;
  switch (type) {
    case GgmlType::kF32:
      bytes.assign(reinterpret_cast<const char*>(values.data()), values.size() * 4);
      break;
    case GgmlType::kF16:
      for (float v : values) Put<uint16_t>(&bytes, F32ToFp16(v));
      break;
    case GgmlType::kBF16:
      for (float v : values) Put<uint16_t>(&bytes, F32ToBf16(v));
      break;
    case GgmlType::kQ8_0: {
      if (ne.empty() || ne[0] % kQ8_0BlockSize != 0 || values.size() % kQ8_0BlockSize != 0) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "GGUF writer: Q8_0 tensor '%s' needs ne[0] and its size to be multiples of 32", name));
      }
      for (size_t b = 0; b < values.size(); b += kQ8_0BlockSize) {
        float amax = 0.0f;
        for (int k = 0; k < kQ8_0BlockSize; ++k) amax = std::max(amax, std::fabs(values[b + k]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        Put<uint16_t>(&bytes, F32ToFp16(d));
        for (int k = 0; k < kQ8_0BlockSize; ++k) {
          Put<int8_t>(&bytes, static_cast<int8_t>(std::lround(values[b + k] * id)));
        }
      }
      break;
    }
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
      return absl::InvalidArgumentError(absl::StrFormat(
          "GGUF writer: tensor '%s': %s is not quantized from f32 here (write its blocks with "
          "AddTensor)",
          name, DescribeGgmlType(static_cast<uint32_t>(type))));
  }
  return AddTensor(
      name, type, std::move(ne),
      absl::MakeConstSpan(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
}

absl::StatusOr<std::string> GgufWriter::Serialize() const {
  const uint64_t align = options_.alignment;
  if (align == 0 || (align & (align - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("GGUF writer: alignment %d is not a power of two", align));
  }
  if (options_.version != 2 && options_.version != 3) {
    return absl::InvalidArgumentError(
        absl::StrFormat("GGUF writer: version %d is not 2 or 3", options_.version));
  }
  std::vector<std::pair<std::string, std::string>> metadata = metadata_;
  const bool has_alignment_key = std::any_of(metadata.begin(), metadata.end(), [](const auto& kv) {
    return kv.first == "general.alignment";
  });
  if (align != kGgufDefaultAlignment && !has_alignment_key) {
    metadata.emplace_back("general.alignment",
                          Scalar<uint32_t>(static_cast<uint32_t>(GgufType::kUint32)) +
                              Scalar<uint32_t>(static_cast<uint32_t>(align)));
  }
  std::string out(kMagic, 4);
  Put<uint32_t>(&out, options_.version);
  Put<uint64_t>(&out, tensors_.size());
  Put<uint64_t>(&out, metadata.size());
  for (const auto& [key, value] : metadata) {
    PutString(&out, key);
    out += value;
  }
  auto pad = [align](uint64_t n) { return (n + align - 1) / align * align; };
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    PutString(&out, t.name);
    Put<uint32_t>(&out, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) Put<uint64_t>(&out, d);
    Put<uint32_t>(&out, static_cast<uint32_t>(t.type));
    Put<uint64_t>(&out, offset);
    offset += pad(t.data.size());
  }
  out.resize(pad(out.size()), '\0');
  for (const Tensor& t : tensors_) {
    out += t.data;
    out.resize(pad(out.size()), '\0');
  }
  return out;
}

absl::Status GgufWriter::WriteFile(const std::string& path) const {
  ASSIGN_OR_RETURN(const std::string image, Serialize());
  return WriteFileAtomically(path, image);
}

}  // namespace kvbench
