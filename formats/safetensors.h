// Reader for Hugging Face safetensors checkpoints, single-file or sharded.
//
// File layout (https://github.com/huggingface/safetensors):
//   u64 little-endian N | N bytes of UTF-8 JSON header | data
// The header maps each tensor name to {"dtype": "F32", "shape": [rows, cols],
// "data_offsets": [begin, end)}, offsets relative to the first byte after the header; an optional
// "__metadata__" entry maps strings to strings. Tensors are row-major and little-endian. As in
// Hugging Face's own reader, the tensors' byte ranges must tile the data exactly: no overlap, no
// gap, the last ending at the end of the file.
//
// A sharded checkpoint is a model.safetensors.index.json beside its shards:
//   {"metadata": {...}, "weight_map": {"model.norm.weight": "model-00002-of-00002.safetensors",
//   ...}}
//
// The files are memory-mapped and tensors point into the mappings: nothing is copied. Only F32,
// F16 and BF16 are accepted (the formats the decoder computes in). Every header field is checked
// against the file before use: a hostile or truncated file yields DataLoss naming the file, the
// tensor and the problem, never a crash.
#ifndef KVBENCH_FORMATS_SAFETENSORS_H_
#define KVBENCH_FORMATS_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "formats/dtype.h"
#include "formats/mapped_file.h"

namespace kvbench {

// Headers larger than this are refused before they are read: real ones are a few hundred KB.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;

// One tensor, pointing into the memory of the file that holds it.
struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;       // outermost first, as PyTorch prints it
  const std::byte* data = nullptr;  // `bytes` bytes inside the file's mapping
  uint64_t bytes = 0;
  std::string file;  // path of the file holding it, for error messages

  int64_t num_elements() const;  // product of shape (1 for a scalar)
};

// The parsed contents of one safetensors file.
struct SafetensorsContents {
  std::vector<SafetensorsTensor> tensors;       // in order of data offset
  std::map<std::string, std::string> metadata;  // "__metadata__", empty when absent
};

// Parses a whole safetensors file held in memory. `path` is used in error messages only.
// Tensors point into `file`, which must outlive them.
absl::StatusOr<SafetensorsContents> ParseSafetensors(absl::Span<const std::byte> file,
                                                     const std::string& path);

// A checkpoint of one or more memory-mapped safetensors files, looked up by tensor name.
class SafetensorsCheckpoint {
 public:
  // `path` is a .safetensors file or a *.safetensors.index.json naming shards (opened once each,
  // relative to the index's folder).
  static absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> Open(const std::string& path);
  // A Hugging Face model folder: `dir`/model.safetensors.index.json if present, else
  // `dir`/model.safetensors.
  static absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> OpenDir(const std::string& dir);

  // nullptr when absent.
  const SafetensorsTensor* Find(std::string_view name) const;
  // Every tensor of every shard: shards in name order, tensors in file order within a shard.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  // "__metadata__" of the (first) file.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::vector<std::unique_ptr<MappedFile>>& mappings() const { return mappings_; }

  // Hands the mappings to a new owner (a Model). Tensor pointers stay valid as long as the new
  // owner keeps them; this checkpoint must not be used to read tensor data afterwards.
  std::vector<std::unique_ptr<MappedFile>> TakeMappings() { return std::move(mappings_); }

 private:
  SafetensorsCheckpoint() = default;
  // Maps `path`, parses it, and adds its tensors; a name already present is an error.
  absl::Status AddFile(const std::string& path);

  std::vector<std::unique_ptr<MappedFile>> mappings_;
  std::vector<SafetensorsTensor> tensors_;
  absl::flat_hash_map<std::string, size_t> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

}  // namespace kvbench

#endif  // KVBENCH_FORMATS_SAFETENSORS_H_
