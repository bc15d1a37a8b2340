// kvbench inspect: what a model file holds: architecture, dimensions, tokenizer, tensors.
#include <cstdio>
#include <string>

#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace kvbench::cli {

int Inspect(int argc, char** argv) {
  std::vector<std::string> args = ParseFlags("inspect", "[--model] MODEL", argc, argv);
  if (args.size() > 1) return ReportError("inspect", absl::InvalidArgumentError("give one model"));
  if (args.size() == 1) absl::SetFlag(&FLAGS_model, args[0]);
  auto model_or = LoadModelFromFlags();
  if (!model_or.ok()) return ReportError("inspect", model_or.status());
  const Model& m = **model_or;
  const ModelConfig& c = m.config;
  std::printf("model        %s\nformat       %s\narchitecture %s\n", m.path.c_str(),
              m.format.c_str(), c.architecture.c_str());
  std::printf(
      "dim %d, layers %d, heads %d, kv heads %d (group %d), head_dim %d, ffn %d, vocab %d\n", c.dim,
      c.n_layers, c.n_heads, c.n_kv_heads, c.group_size(), c.head_dim, c.hidden_dim, c.vocab_size);
  std::printf("context %d, rope dims %d, rope theta %g, rms eps %g\n", c.context_length,
              c.rope_dims, c.rope_theta, c.rms_eps);
  std::printf("KV cache per token (f32): %d bytes\n", 2 * c.n_layers * c.kv_dim() * 4);
  std::printf("tokenizer    %s\n\n", m.tokenizer ? m.tokenizer->Summary().c_str() : "(none)");
  std::printf("%-40s %-6s %-18s %12s\n", "tensor", "type", "shape", "bytes");
  uint64_t total = 0;
  for (const TensorInfo& t : m.tensors) {
    std::printf("%-40s %-6s %-18s %12llu\n", t.name.c_str(), t.type.c_str(),
                absl::StrJoin(t.shape, " x ").c_str(), static_cast<unsigned long long>(t.bytes));
    total += t.bytes;
  }
  std::printf("%zu tensors, %llu bytes\n", m.tensors.size(),
              static_cast<unsigned long long>(total));
  return 0;
}

}  // namespace kvbench::cli
