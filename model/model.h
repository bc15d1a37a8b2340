// A loaded model: configuration, weight views, tokenizer, and the storage that backs the views.
#ifndef KVBENCH_MODEL_MODEL_H_
#define KVBENCH_MODEL_MODEL_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "formats/dtype.h"
#include "formats/mapped_file.h"
#include "model/config.h"
#include "model/weights.h"
#include "text/tokenizer.h"

namespace kvbench {

// One tensor as the file describes it, for `kvbench inspect`.
struct TensorInfo {
  std::string name;
  std::string type;            // the DType name: "F32", "BF16", "Q8_0", "Q4_K", ...
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
  struct FreeDeleter {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::vector<std::unique_ptr<std::byte[], FreeDeleter>> owned;

  // A zeroed buffer of `n` bytes owned by the model, 64-byte aligned so vector loads never split a
  // cache line; large ones are 2 MiB aligned and asked to use huge pages, which spares the TLB
  // when a decode step streams gigabytes of weights.
  std::byte* Allocate(size_t n);
};

}  // namespace kvbench

#endif  // KVBENCH_MODEL_MODEL_H_
