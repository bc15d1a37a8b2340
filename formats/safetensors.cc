#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "formats/json.h"

namespace kvbench {
namespace {

absl::Status Corrupt(const std::string& path, const std::string& tensor,
                     const std::string& problem) {
  if (tensor.empty()) return absl::DataLossError(absl::StrCat(path, ": ", problem));
  return absl::DataLossError(absl::StrCat(path, ": tensor '", tensor, "': ", problem));
}

// Real headers nest three levels; anything deeper is hostile.
constexpr int kMaxHeaderNesting = 16;

struct DTypeInfo {
  DType dtype;
  uint64_t size;
};

bool LookupDType(const std::string& name, DTypeInfo* info) {
  if (name == "F32")
    *info = {DType::kF32, 4};
  else if (name == "F16")
    *info = {DType::kF16, 2};
  else if (name == "BF16")
    *info = {DType::kBF16, 2};
  else
    return false;
  return true;
}

// Parses one tensor entry of the header. `data_size` is the number of bytes after the header.
absl::Status ParseTensorEntry(const std::string& path, const std::string& name, const Json& entry,
                              const std::byte* data, uint64_t data_size, SafetensorsTensor* tensor,
                              uint64_t* begin_out) {
  if (!entry.is_object()) return Corrupt(path, name, "header entry is not a JSON object");
  const Json* dtype_node = JsonMember(entry, "dtype");
  const Json* shape_node = JsonMember(entry, "shape");
  const Json* offsets_node = JsonMember(entry, "data_offsets");
  if (dtype_node == nullptr || !dtype_node->is_string()) {
    return Corrupt(path, name, "missing or non-string \"dtype\"");
  }
  if (shape_node == nullptr || !shape_node->is_array()) {
    return Corrupt(path, name, "missing or non-array \"shape\"");
  }
  if (offsets_node == nullptr || !offsets_node->is_array() || offsets_node->size() != 2) {
    return Corrupt(path, name, "\"data_offsets\" is not an array of two integers [begin, end)");
  }

  DTypeInfo info;
  const std::string& dtype_name = dtype_node->get_ref<const std::string&>();
  if (!LookupDType(dtype_name, &info)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": tensor '", name,
                                                   "': unsupported dtype \"", dtype_name,
                                                   "\" (supported: F32, F16, BF16)"));
  }

  // Element count, overflow-checked: each factor is < 2^63, the product must stay < 2^64 and its
  // byte size too.
  tensor->shape.clear();
  uint64_t elements = 1;
  for (size_t i = 0; i < shape_node->size(); ++i) {
    const std::optional<int64_t> parsed = JsonInteger<int64_t>((*shape_node)[i]);
    if (!parsed.has_value()) {
      return Corrupt(path, name, absl::StrCat("shape[", i, "] is not an integer"));
    }
    const int64_t dim = *parsed;
    if (dim < 0) return Corrupt(path, name, absl::StrCat("shape[", i, "] = ", dim, " is negative"));
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dim), &elements)) {
      return Corrupt(path, name, "shape's element count overflows 64 bits");
    }
    tensor->shape.push_back(dim);
  }
  uint64_t expected_bytes;
  if (__builtin_mul_overflow(elements, info.size, &expected_bytes)) {
    return Corrupt(path, name, "shape's byte size overflows 64 bits");
  }

  const std::optional<uint64_t> begin_or = JsonInteger<uint64_t>((*offsets_node)[0]);
  const std::optional<uint64_t> end_or = JsonInteger<uint64_t>((*offsets_node)[1]);
  if (!begin_or.has_value() || !end_or.has_value()) {
    return Corrupt(path, name, "data_offsets are not non-negative integers");
  }
  const uint64_t begin = *begin_or, end = *end_or;
  if (end < begin) {
    return Corrupt(path, name, absl::StrCat("data_offsets end ", end, " < begin ", begin));
  }
  if (end > data_size) {
    return Corrupt(
        path, name,
        absl::StrCat("data_offsets [", begin, ", ", end, ") run past the end of the data (",
                     data_size, " bytes; file truncated?)"));
  }
  if (end - begin != expected_bytes) {
    return Corrupt(path, name,
                   absl::StrCat("data_offsets span ", end - begin, " bytes but shape [",
                                absl::StrJoin(tensor->shape, ", "), "] of ", dtype_name, " needs ",
                                expected_bytes));
  }
  tensor->name = name;
  tensor->dtype = info.dtype;
  tensor->data = data + begin;
  tensor->bytes = expected_bytes;
  tensor->file = path;
  *begin_out = begin;
  return absl::OkStatus();
}

// Repeated keys never get here: ParseJson refuses them.
absl::StatusOr<SafetensorsContents> ParseHeader(const std::string& path, const Json& root,
                                                const std::byte* data, uint64_t data_size) {
  if (!root.is_object()) return Corrupt(path, "", "header is not a JSON object");
  SafetensorsContents contents;
  std::vector<std::pair<uint64_t, size_t>> by_begin;  // (begin, index in contents.tensors)
  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      if (value.is_null()) continue;
      if (!value.is_object()) return Corrupt(path, "", "\"__metadata__\" is not a JSON object");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string()) {
          return Corrupt(path, "", "\"__metadata__\" must map strings to strings");
        }
        contents.metadata[key] = text.get_ref<const std::string&>();
      }
      continue;
    }
    SafetensorsTensor tensor;
    uint64_t begin = 0;
    RETURN_IF_ERROR(ParseTensorEntry(path, name, value, data, data_size, &tensor, &begin));
    by_begin.emplace_back(begin, contents.tensors.size());
    contents.tensors.push_back(std::move(tensor));
  }

  // The tensors must tile the data section exactly, as Hugging Face's safetensors library requires
  // (sorted by start, each begins where the previous ended, the last ends at the end of the file).
  // Overlaps, gaps and bytes left over are not harmless slack: a header length off by a few bytes
  // (a padded header cut short) shifts every tensor, and only the coverage check notices that the
  // weights are now garbage.
  std::sort(by_begin.begin(), by_begin.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return contents.tensors[a.second].bytes < contents.tensors[b.second].bytes;
  });
  std::vector<SafetensorsTensor> ordered;
  ordered.reserve(by_begin.size());
  uint64_t prev_end = 0;
  std::string prev_name;
  for (const auto& [begin, index] : by_begin) {
    SafetensorsTensor& t = contents.tensors[index];
    const std::string range = absl::StrCat("data_offsets [", begin, ", ", begin + t.bytes, ")");
    if (begin < prev_end) {
      return Corrupt(
          path, t.name,
          absl::StrCat(range, " overlap tensor '", prev_name, "' (ends at ", prev_end, ")"));
    }
    if (begin > prev_end) {
      return Corrupt(path, t.name,
                     absl::StrCat(range, " leave a gap of ", begin - prev_end, " bytes [", prev_end,
                                  ", ", begin, ") ",
                                  ordered.empty() ? "at the start of the data"
                                                  : absl::StrCat("after tensor '", prev_name, "'"),
                                  " (tensors must be contiguous)"));
    }
    prev_end = begin + t.bytes;
    prev_name = t.name;
    ordered.push_back(std::move(t));
  }
  if (prev_end != data_size) {  // never more: ParseTensorEntry refused an end past the data
    return Corrupt(
        path, "",
        absl::StrCat("the tensors' data_offsets cover ", prev_end, " bytes but ", data_size,
                     " bytes of data follow the header: the last ", data_size - prev_end,
                     " belong to no tensor (header length wrong, or bytes appended?)"));
  }
  contents.tensors = std::move(ordered);
  return contents;
}

// A shard name from an index must stay inside the index's folder.
bool IsSafeRelativePath(const std::string& name) {
  if (name.empty() || name[0] == '/') return false;
  for (const auto& part : std::filesystem::path(name)) {
    if (part == "..") return false;
  }
  return true;
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

}  // namespace

int64_t SafetensorsTensor::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<SafetensorsContents> ParseSafetensors(absl::Span<const std::byte> file,
                                                     const std::string& path) {
  if (file.size() < 8) {
    return Corrupt(path, "",
                   absl::StrCat("file is ", file.size(),
                                " bytes, too short for the 8-byte header length (truncated?)"));
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | static_cast<uint8_t>(file[i]);
  if (header_len > kMaxSafetensorsHeaderBytes) {
    return Corrupt(path, "",
                   absl::StrCat("header length ", header_len, " exceeds the limit of ",
                                kMaxSafetensorsHeaderBytes, " bytes (not a safetensors file?)"));
  }
  if (header_len > file.size() - 8) {
    return Corrupt(path, "",
                   absl::StrCat("header length ", header_len, " exceeds the ", file.size() - 8,
                                " bytes after the length field (truncated?)"));
  }
  const std::string_view header(reinterpret_cast<const char*>(file.data()) + 8, header_len);
  absl::StatusOr<Json> root = ParseJson(header, path + " header", kMaxHeaderNesting);
  if (!root.ok()) return absl::DataLossError(root.status().message());
  const std::byte* data = file.data() + 8 + header_len;
  const uint64_t data_size = file.size() - 8 - header_len;
  return ParseHeader(path, *root, data, data_size);
}

absl::Status SafetensorsCheckpoint::AddFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::Open(path));
  ASSIGN_OR_RETURN(SafetensorsContents contents,
                   ParseSafetensors(absl::MakeConstSpan(file->data(), file->size()), path));
  if (mappings_.empty()) metadata_ = contents.metadata;
  for (SafetensorsTensor& t : contents.tensors) {
    auto [it, inserted] = index_.emplace(t.name, tensors_.size());
    if (!inserted) {
      return absl::DataLossError(absl::StrCat("tensor '", t.name, "' appears in both ",
                                              tensors_[it->second].file, " and ", path));
    }
    tensors_.push_back(std::move(t));
  }
  mappings_.push_back(std::move(file));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> SafetensorsCheckpoint::Open(
    const std::string& path) {
  std::unique_ptr<SafetensorsCheckpoint> checkpoint(new SafetensorsCheckpoint());
  if (!absl::EndsWith(path, ".json")) {
    RETURN_IF_ERROR(checkpoint->AddFile(path));
    return checkpoint;
  }

  // Sharded: the index names a shard for each tensor.
  ASSIGN_OR_RETURN(const Json index, ParseJsonFile(path));
  const std::string dir = std::filesystem::path(path).parent_path().string();
  std::map<std::string, std::string> shard_of;  // tensor -> shard file name
  std::set<std::string> shards;
  const Json* weight_map = JsonMember(index, "weight_map");
  if (weight_map == nullptr || !weight_map->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": missing or non-object \"weight_map\""));
  }
  for (const auto& [tensor, shard_node] : weight_map->items()) {
    if (!shard_node.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": \"weight_map\" must map tensor names to file names"));
    }
    const std::string& shard = shard_node.get_ref<const std::string&>();
    if (!IsSafeRelativePath(shard)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": shard \"", shard, "\" of tensor '", tensor,
                       "' is not a relative path inside the checkpoint folder"));
    }
    shard_of[tensor] = shard;
    shards.insert(shard);
  }
  if (shards.empty())
    return absl::InvalidArgumentError(absl::StrCat(path, ": \"weight_map\" is empty"));

  for (const std::string& shard : shards) {  // each shard once
    const std::string shard_path = JoinPath(dir, shard);
    if (!std::filesystem::exists(shard_path)) {
      std::string user;
      for (const auto& [tensor, s] : shard_of) {
        if (s == shard) {
          user = tensor;
          break;
        }
      }
      return absl::NotFoundError(absl::StrCat(path, ": shard ", shard_path, " (holding tensor '",
                                              user, "') does not exist"));
    }
    RETURN_IF_ERROR(checkpoint->AddFile(shard_path));
  }
  for (const auto& [tensor, shard] : shard_of) {
    const SafetensorsTensor* t = checkpoint->Find(tensor);
    const std::string shard_path = JoinPath(dir, shard);
    if (t == nullptr || t->file != shard_path) {
      return absl::DataLossError(absl::StrCat(path, ": tensor '", tensor, "' is mapped to ",
                                              shard_path, " but that file does not contain it"));
    }
  }
  return checkpoint;
}

absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> SafetensorsCheckpoint::OpenDir(
    const std::string& dir) {
  const std::string index = JoinPath(dir, "model.safetensors.index.json");
  if (std::filesystem::exists(index)) return Open(index);
  const std::string single = JoinPath(dir, "model.safetensors");
  if (std::filesystem::exists(single)) return Open(single);
  return absl::NotFoundError(
      absl::StrCat("no safetensors checkpoint in ", dir, ": looked for ", single, " and ", index));
}

const SafetensorsTensor* SafetensorsCheckpoint::Find(std::string_view name) const {
  auto it = index_.find(absl::string_view(name.data(), name.size()));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace kvbench
