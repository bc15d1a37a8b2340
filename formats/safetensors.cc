#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "formats/json.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {
namespace {

absl::Status Corrupt(const std::string& path, const std::string& tensor,
                     const std::string& problem) {
  if (tensor.empty()) return absl::DataLossError(absl::StrCat(path, ": ", problem));
  return absl::DataLossError(absl::StrCat(path, ": tensor '", tensor, "': ", problem));
}

// Real headers nest three levels; anything deeper is hostile.
constexpr int kMaxHeaderNesting = 16;

// JSON integers arrive as YAML scalars; quoted strings and fractions are refused by SimpleAtoi.
bool ParseU64(const YAML::Node& node, uint64_t* out) {
  return node.IsScalar() && !JsonIsString(node) && absl::SimpleAtoi(node.Scalar(), out);
}
bool ParseI64(const YAML::Node& node, int64_t* out) {
  return node.IsScalar() && !JsonIsString(node) && absl::SimpleAtoi(node.Scalar(), out);
}

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
absl::Status ParseTensorEntry(const std::string& path, const std::string& name,
                              const YAML::Node& entry, const std::byte* data, uint64_t data_size,
                              SafetensorsTensor* tensor, uint64_t* begin_out) {
  if (!entry.IsMap()) return Corrupt(path, name, "header entry is not a JSON object");
  const YAML::Node dtype_node = entry["dtype"];
  const YAML::Node shape_node = entry["shape"];
  const YAML::Node offsets_node = entry["data_offsets"];
  if (!dtype_node.IsDefined() || !dtype_node.IsScalar()) {
    return Corrupt(path, name, "missing or non-string \"dtype\"");
  }
  if (!shape_node.IsDefined() || !shape_node.IsSequence()) {
    return Corrupt(path, name, "missing or non-array \"shape\"");
  }
  if (!offsets_node.IsDefined() || !offsets_node.IsSequence() || offsets_node.size() != 2) {
    return Corrupt(path, name, "\"data_offsets\" is not an array of two integers [begin, end)");
  }

  DTypeInfo info;
  const std::string& dtype_name = dtype_node.Scalar();
  if (!LookupDType(dtype_name, &info)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": tensor '", name,
                                                   "': unsupported dtype \"", dtype_name,
                                                   "\" (supported: F32, F16, BF16)"));
  }

  // Element count, overflow-checked: each factor is < 2^63, the product must stay < 2^64 and its
  // byte size too.
  tensor->shape.clear();
  uint64_t elements = 1;
  for (size_t i = 0; i < shape_node.size(); ++i) {
    int64_t dim;
    if (!ParseI64(shape_node[i], &dim)) {
      return Corrupt(path, name, absl::StrCat("shape[", i, "] is not an integer"));
    }
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

  uint64_t begin, end;
  if (!ParseU64(offsets_node[0], &begin) || !ParseU64(offsets_node[1], &end)) {
    return Corrupt(path, name, "data_offsets are not non-negative integers");
  }
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

absl::StatusOr<SafetensorsContents> ParseHeader(const std::string& path, const YAML::Node& root,
                                                const std::byte* data, uint64_t data_size) {
  if (!root.IsMap()) return Corrupt(path, "", "header is not a JSON object");
  SafetensorsContents contents;
  std::vector<std::pair<uint64_t, size_t>> by_begin;  // (begin, index in contents.tensors)
  std::set<std::string> seen;
  bool seen_metadata = false;
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (!it->first.IsScalar()) return Corrupt(path, "", "header has a non-string key");
    const std::string name = it->first.Scalar();
    const YAML::Node value = it->second;
    if (name == "__metadata__") {
      if (seen_metadata) return Corrupt(path, "", "\"__metadata__\" appears twice");
      seen_metadata = true;
      if (value.IsNull()) continue;
      if (!value.IsMap()) return Corrupt(path, "", "\"__metadata__\" is not a JSON object");
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m->first.IsScalar() || !m->second.IsScalar()) {
          return Corrupt(path, "", "\"__metadata__\" must map strings to strings");
        }
        contents.metadata[m->first.Scalar()] = m->second.Scalar();
      }
      continue;
    }
    if (!seen.insert(name).second) return Corrupt(path, name, "tensor appears twice in the header");
    SafetensorsTensor tensor;
    uint64_t begin = 0;
    if (absl::Status s = ParseTensorEntry(path, name, value, data, data_size, &tensor, &begin);
        !s.ok()) {
      return s;
    }
    by_begin.emplace_back(begin, contents.tensors.size());
    contents.tensors.push_back(std::move(tensor));
  }

  // No two tensors may share bytes: sorted by start, each must start at or after the previous end.
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
    if (!ordered.empty() && begin < prev_end) {
      return Corrupt(path, t.name,
                     absl::StrCat("data_offsets [", begin, ", ", begin + t.bytes,
                                  ") overlap tensor '", prev_name, "' (ends at ", prev_end, ")"));
    }
    prev_end = begin + t.bytes;
    prev_name = t.name;
    ordered.push_back(std::move(t));
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
  absl::StatusOr<YAML::Node> root = ParseJson(header, path + " header", kMaxHeaderNesting);
  if (!root.ok()) return absl::DataLossError(root.status().message());
  const std::byte* data = file.data() + 8 + header_len;
  const uint64_t data_size = file.size() - 8 - header_len;
  try {
    return ParseHeader(path, *root, data, data_size);
  } catch (const YAML::Exception& e) {  // a node of an unexpected kind deep inside the header
    return Corrupt(path, "", absl::StrCat("malformed header: ", e.what()));
  }
}

absl::Status SafetensorsCheckpoint::AddFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<SafetensorsContents> contents =
      ParseSafetensors(absl::MakeConstSpan((*file)->data(), (*file)->size()), path);
  if (!contents.ok()) return contents.status();
  if (mappings_.empty()) metadata_ = contents->metadata;
  for (SafetensorsTensor& t : contents->tensors) {
    auto [it, inserted] = index_.emplace(t.name, tensors_.size());
    if (!inserted) {
      return absl::DataLossError(absl::StrCat("tensor '", t.name, "' appears in both ",
                                              tensors_[it->second].file, " and ", path));
    }
    tensors_.push_back(std::move(t));
  }
  mappings_.push_back(*std::move(file));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> SafetensorsCheckpoint::Open(
    const std::string& path) {
  std::unique_ptr<SafetensorsCheckpoint> checkpoint(new SafetensorsCheckpoint());
  if (!absl::EndsWith(path, ".json")) {
    if (absl::Status s = checkpoint->AddFile(path); !s.ok()) return s;
    return checkpoint;
  }

  // Sharded: the index names a shard for each tensor.
  // Same syntax check as for headers before yaml-cpp sees the text (see HeaderSyntaxCheck).
  absl::StatusOr<std::unique_ptr<MappedFile>> index_file = MappedFile::Open(path);
  if (!index_file.ok()) return index_file.status();
  const std::string_view index_text(reinterpret_cast<const char*>((*index_file)->data()),
                                    (*index_file)->size());
  absl::StatusOr<YAML::Node> index = ParseJson(index_text, path, kMaxHeaderNesting);
  if (!index.ok()) return index.status();
  const std::string dir = std::filesystem::path(path).parent_path().string();
  std::map<std::string, std::string> shard_of;  // tensor -> shard file name
  std::set<std::string> shards;
  try {
    const YAML::Node& root = *index;
    const YAML::Node weight_map = root.IsMap() ? root["weight_map"] : YAML::Node();
    if (!weight_map.IsDefined() || !weight_map.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": missing or non-object \"weight_map\""));
    }
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
      if (!it->first.IsScalar() || !it->second.IsScalar()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": \"weight_map\" must map tensor names to file names"));
      }
      const std::string& shard = it->second.Scalar();
      if (!IsSafeRelativePath(shard)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": shard \"", shard, "\" of tensor '", it->first.Scalar(),
                         "' is not a relative path inside the checkpoint folder"));
      }
      shard_of[it->first.Scalar()] = shard;
      shards.insert(shard);
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": malformed index: ", e.what()));
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
    if (absl::Status s = checkpoint->AddFile(shard_path); !s.ok()) return s;
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
