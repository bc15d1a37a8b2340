// kvbench synth: writes a GGUF with seeded random weights of a realistic shape (speed tests only;
// random weights say nothing about quality).
#include <cstdio>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "model/gguf_export.h"
#include "model/presets.h"
#include "model/synthetic.h"

namespace kvbench::cli {
namespace {

absl::StatusOr<ModelConfig> ParseDims(const std::string& text) {
  ModelConfig c;
  c.context_length = 2048;
  std::map<std::string, double> values;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, '=');
    double v;
    if (!absl::SimpleAtod(kv.second, &v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--dims: '", std::string(part), "' is not key=number"));
    }
    values[kv.first] = v;
  }
  const std::map<std::string, int*> ints = {{"dim", &c.dim},
                                            {"layers", &c.n_layers},
                                            {"heads", &c.n_heads},
                                            {"kv_heads", &c.n_kv_heads},
                                            {"ffn", &c.hidden_dim},
                                            {"vocab", &c.vocab_size},
                                            {"context", &c.context_length},
                                            {"head_dim", &c.head_dim}};
  for (const auto& [key, v] : values) {
    if (key == "theta") {
      c.rope_theta = static_cast<float>(v);
    } else if (auto it = ints.find(key); it != ints.end()) {
      *it->second = static_cast<int>(v);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--dims: unknown key '", key,
          "'; valid: dim, layers, heads, kv_heads, ffn, vocab, context, head_dim, theta"));
    }
  }
  if (c.n_kv_heads == 0) c.n_kv_heads = c.n_heads;
  if (c.head_dim == 0 && c.n_heads > 0) c.head_dim = c.dim / c.n_heads;
  c.rope_dims = c.head_dim;
  RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace

int Synth(int argc, char** argv) {
  std::string shape, dims, dtype_name = "f16", out;
  uint64_t seed = 0;
  bool list_shapes = false;
  CommandLine cl("synth", "(--shape NAME | --dims ...) [--dtype f16] [--seed S] -o FILE.gguf",
                 "write a GGUF with seeded random weights of a preset shape");
  cl.Flag("shape", &shape, "preset shape name (see --list-shapes)")
      .Flag("dims", &dims,
            "explicit shape: dim=,layers=,heads=,kv_heads=,ffn=,vocab=[,context=,head_dim=,theta=]")
      .Flag("dtype", &dtype_name, "weight type: f32, f16, bf16 or q8_0")
      .Flag("seed", &seed, "RNG seed of the weights")
      .Flag("o,output", &out, "the .gguf to write")
      .Switch("list_shapes", &list_shapes, "list the preset shapes and exit");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  if (list_shapes) {
    for (const ShapePreset& p : ShapePresets()) {
      const ModelConfig& c = p.config;
      std::printf("%-16s dim %5d  layers %3d  heads %3d  kv %2d  ffn %6d  vocab %6d   %s\n",
                  p.name.c_str(), c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.hidden_dim,
                  c.vocab_size, p.source.c_str());
    }
    return 0;
  }
  const std::map<std::string, DType> kDTypes = {
      {"f32", DType::kF32}, {"f16", DType::kF16}, {"bf16", DType::kBF16}, {"q8_0", DType::kQ8_0}};
  auto dtype = kDTypes.find(dtype_name);
  if (dtype == kDTypes.end()) {
    return ReportError("synth", absl::InvalidArgumentError(absl::StrCat(
                                    "--dtype ", dtype_name, ": valid are f32, f16, bf16, q8_0")));
  }
  if (shape.empty() == dims.empty()) {
    return ReportError("synth",
                       absl::InvalidArgumentError("give exactly one of --shape or --dims"));
  }
  ModelConfig config;
  std::string name = shape;
  if (!shape.empty()) {
    auto preset = FindShapePreset(shape);
    if (!preset.ok()) return ReportError("synth", preset.status());
    config = preset->config;
  } else {
    auto parsed = ParseDims(dims);
    if (!parsed.ok()) return ReportError("synth", parsed.status());
    config = *parsed;
    name = "custom";
  }
  if (out.empty())
    return ReportError("synth", absl::InvalidArgumentError("-o FILE.gguf is required"));
  auto model = MakeSyntheticModel(config, dtype->second, seed);
  if (!model.ok()) return ReportError("synth", model.status());
  const std::string label =
      absl::StrCat("kvbench-synthetic-", name, "-", dtype_name, "-seed", seed);
  if (absl::Status s = WriteModelAsGguf(**model, label, out); !s.ok())
    return ReportError("synth", s);
  std::fprintf(stderr, "wrote %s: %s, %s weights, %.1f MB of weights read per token\n", out.c_str(),
               name.c_str(), dtype_name.c_str(), (*model)->weights.bytes_per_token() / 1e6);
  return 0;
}

}  // namespace kvbench::cli
