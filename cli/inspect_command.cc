// kvbench inspect: what a model file holds: architecture, dimensions, tokenizer, tensors.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace kvbench::cli {

int Inspect(int argc, char** argv) {
  ModelFlags model_flags;
  std::string positional_model;
  CommandLine cl("inspect", "MODEL | --model MODEL",
                 "print a model's architecture, tokenizer and tensors");
  cl.Positional("model_path", &positional_model, "the model (same as --model)", /*required=*/false);
  model_flags.AddTo(cl);
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  if (!positional_model.empty()) {
    if (cl.Given("model")) {
      return ReportError("inspect", absl::InvalidArgumentError("give the model once"));
    }
    model_flags.model = positional_model;
  }
  auto model_or = model_flags.Load();
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
  if (c.rope_freq_factors.empty()) {
    std::printf("rope         %s (no frequency scaling)\n", c.rope_type.c_str());
  } else {
    const auto [lo, hi] =
        std::minmax_element(c.rope_freq_factors.begin(), c.rope_freq_factors.end());
    std::printf("rope         %s: %zu pair frequencies divided by %g .. %g\n", c.rope_type.c_str(),
                c.rope_freq_factors.size(), *lo, *hi);
  }
  for (const std::string& line : ArchitectureFeatures(c)) std::printf("%s\n", line.c_str());
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
  // What a quantized file is made of (a Q4_K_M file mixes Q4_K, Q6_K, Q5_0, Q8_0 and F32).
  std::map<std::string, std::pair<int, uint64_t>> by_type;  // type -> (tensors, bytes)
  for (const TensorInfo& t : m.tensors) {
    by_type[t.type].first += 1;
    by_type[t.type].second += t.bytes;
  }
  for (const auto& [type, count] : by_type) {
    std::printf("  %-6s %4d tensors %12llu bytes (%5.1f%%)\n", type.c_str(), count.first,
                static_cast<unsigned long long>(count.second),
                total > 0 ? 100.0 * static_cast<double>(count.second) / total : 0.0);
  }
  return 0;
}

}  // namespace kvbench::cli
