// A loaded model: configuration, weight views, tokenizer, and the storage that backs the views.
#ifndef KVBENCH_MODEL_MODEL_H_
#define KVBENCH_MODEL_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/dtype.h"
#include "model/mapped_file.h"
#include "model/tokenizer.h"
#include "model/weights.h"

namespace kvbench {

// One tensor as the file describes it, for `kvbench inspect`.
struct TensorInfo {
  std::string name;
  std::string type;            // "F32", "F16", "BF16", "Q8_0"
  std::vector<int64_t> shape;  // outermost first (rows, cols), as PyTorch prints it
  uint64_t bytes = 0;
};

class Model {
 public:
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  ModelConfig config;
  ModelWeights weights;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string format;  // "gguf", "llama2c", "huggingface", "synthetic"
  std::string path;
  std::vector<TensorInfo> tensors;

  // Storage owned by the model. Weight views point into these.
  std::vector<std::unique_ptr<MappedFile>> mappings;
  // Buffers the loader had to create: converted norms, re-permuted q/k, synthetic weights.
  std::vector<std::vector<std::byte>> owned;

  // Allocates an owned buffer of `n` bytes (64-byte aligned start not guaranteed beyond malloc's).
  std::byte* Allocate(size_t n) {
    owned.emplace_back(n);
    return owned.back().data();
  }
};

}  // namespace kvbench

#endif  // KVBENCH_MODEL_MODEL_H_
