#include "model/presets.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kvbench {
namespace {

ModelConfig Shape(int dim, int layers, int heads, int kv_heads, int ffn, int vocab, int context,
                  float theta, float eps, int head_dim = 0) {
  ModelConfig c;
  c.dim = dim;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = head_dim > 0 ? head_dim : dim / heads;
  c.hidden_dim = ffn;
  c.vocab_size = vocab;
  c.context_length = context;
  c.rope_dims = c.head_dim;
  c.rope_theta = theta;
  c.rms_eps = eps;
  return c;
}

}  // namespace

const std::vector<ShapePreset>& ShapePresets() {
  static const auto* const kPresets = new std::vector<ShapePreset>{
      {"stories110M", "karpathy/tinyllamas stories110M (llama2.c README)",
       Shape(768, 12, 12, 12, 2048, 32000, 1024, 10000, 1e-5f)},
      {"smollm-135m", "HuggingFaceTB/SmolLM-135M config.json",
       Shape(576, 30, 9, 3, 1536, 49152, 2048, 10000, 1e-5f)},
      {"tinyllama-1.1b", "TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T config.json",
       Shape(2048, 22, 32, 4, 5632, 32000, 2048, 10000, 1e-5f)},
      {"llama-3.2-1b", "meta-llama/Llama-3.2-1B config.json (rope scaling not modelled)",
       Shape(2048, 16, 32, 8, 8192, 128256, 131072, 500000, 1e-5f, 64)},
      {"llama-3-8b", "meta-llama/Meta-Llama-3-8B config.json",
       Shape(4096, 32, 32, 8, 14336, 128256, 8192, 500000, 1e-5f)},
      {"llama-3-70b", "meta-llama/Meta-Llama-3-70B config.json",
       Shape(8192, 80, 64, 8, 28672, 128256, 8192, 500000, 1e-5f)},
      {"mistral-7b", "mistralai/Mistral-7B-v0.1 config.json (sliding window not modelled)",
       Shape(4096, 32, 32, 8, 14336, 32000, 32768, 10000, 1e-5f)},
      {"qwen2.5-7b", "Qwen/Qwen2.5-7B config.json (qkv biases not modelled)",
       Shape(3584, 28, 28, 4, 18944, 152064, 131072, 1000000, 1e-6f)},
  };
  return *kPresets;
}

absl::StatusOr<ShapePreset> FindShapePreset(std::string_view name) {
  std::vector<std::string> names;
  for (const ShapePreset& p : ShapePresets()) {
    if (p.name == name) return p;
    names.push_back(p.name);
  }
  return absl::NotFoundError(absl::StrCat("unknown shape preset '", std::string(name),
                                          "'; valid: ", absl::StrJoin(names, ", ")));
}

}  // namespace kvbench
