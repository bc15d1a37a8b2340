#include "stores/store_registry.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "stores/block_store.h"
#include "stores/f32_store.h"
#include "stores/fp8_store.h"
#include "stores/half_store.h"
#include "stores/int8_store.h"
#include "stores/kivi_store.h"
#include "stores/row_store.h"

namespace kvbench {
namespace {

using StoreOr = absl::StatusOr<std::unique_ptr<KvStore>>;

absl::Status CheckHeadDim(const std::string& store, int head_dim, int multiple) {
  if (head_dim <= 0 || head_dim % multiple != 0) {
    return absl::InvalidArgumentError(absl::StrCat("store ", store, ": head_dim ", head_dim,
                                                   " is not a positive multiple of ", multiple));
  }
  return absl::OkStatus();
}

// A store whose every entry is one encoded row of the codec's row_bytes.
StoreInfo RowFormat(std::string name, std::string description, int multiple,
                    std::function<std::unique_ptr<RowCodec>(int head_dim)> codec) {
  StoreInfo info;
  info.name = name;
  info.description = std::move(description);
  info.make = [name, multiple, codec](const Params&, KvRole, const CacheShape& shape) -> StoreOr {
    RETURN_IF_ERROR(CheckHeadDim(name, shape.head_dim, multiple));
    return std::make_unique<RowStore>(shape, codec(shape.head_dim));
  };
  info.layer_bytes = [name, multiple, codec](const Params&, KvRole, const CacheShape& shape,
                                             int64_t entries) -> absl::StatusOr<uint64_t> {
    RETURN_IF_ERROR(CheckHeadDim(name, shape.head_dim, multiple));
    return RowStore::LayerBytes(codec(shape.head_dim)->row_bytes(), shape, entries);
  };
  info.bytes_per_value = [name, multiple, codec](const Params&, KvRole,
                                                 int head_dim) -> absl::StatusOr<double> {
    RETURN_IF_ERROR(CheckHeadDim(name, head_dim, multiple));
    return static_cast<double>(codec(head_dim)->row_bytes()) / head_dim;
  };
  return info;
}

StoreInfo BlockFormat(std::string name, BlockType type, std::string description) {
  const int multiple = (type == BlockType::kQ5_0 || type == BlockType::kQ5_1) ? 8 : 2;
  return RowFormat(std::move(name), std::move(description), multiple,
                   [type](int hd) { return MakeBlockCodec(type, hd); });
}

StoreInfo F32() {
  StoreInfo info;
  info.name = "f32";
  info.description = "IEEE f32, 32 bits per value: the reference format";
  info.make = [](const Params&, KvRole, const CacheShape& shape) -> StoreOr {
    RETURN_IF_ERROR(CheckHeadDim("f32", shape.head_dim, 1));
    return std::make_unique<F32Store>(shape);
  };
  info.layer_bytes = [](const Params&, KvRole, const CacheShape& shape,
                        int64_t entries) -> absl::StatusOr<uint64_t> {
    RETURN_IF_ERROR(CheckHeadDim("f32", shape.head_dim, 1));
    return F32Store::LayerBytes(shape, entries);
  };
  info.bytes_per_value = [](const Params&, KvRole, int head_dim) -> absl::StatusOr<double> {
    RETURN_IF_ERROR(CheckHeadDim("f32", head_dim, 1));
    return 4.0;
  };
  return info;
}

Fp8ScaleScope ScopeOf(const Params& p) {
  return p.GetString("scale") == "head" ? Fp8ScaleScope::kHead : Fp8ScaleScope::kTensor;
}

// amax is a float's magnitude: negative, or beyond what a float holds (1e300 would narrow to
// infinity), is an error.
absl::Status CheckFp8Amax(const std::string& name, const Params& p) {
  const double amax = p.GetFloat("amax");
  if (amax < 0 || amax > std::numeric_limits<float>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("store ", name, ": parameter 'amax' = ", p.GetString("amax"),
                     " is not in [0, ", std::numeric_limits<float>::max(), "]"));
  }
  return absl::OkStatus();
}

// What the first rows' amax is divided by (Fp8StoreOptions::calibrate_range); 0 = none.
float Fp8CalibrateRange(const Params& p, KvRole role, Fp8Format format) {
  const std::string rule = p.GetString("calibrate");
  if (rule == "vllm") return role == KvRole::kKey ? 200.0f : 100.0f;  // K/V_SCALE_CONSTANT
  if (rule == "max") return Fp8MaxFinite(format);
  return 0.0f;
}

StoreInfo Fp8(std::string name, Fp8Format format, std::string description) {
  StoreInfo info;
  info.name = name;
  info.description = std::move(description);
  info.params = {{.name = "scale",
                  .type = ParamType::kString,
                  .default_value = "head",
                  .help = "one scale per KV head of each layer, or per layer tensor",
                  .choices = {"head", "tensor"}},
                 {.name = "amax",
                  .type = ParamType::kFloat,
                  .default_value = "0",
                  .help = "fixed |x| mapped to the format's max (vLLM's precomputed scale); "
                          "0 = scale 1 (vLLM's default)",
                  .choices = {}},
                 {.name = "calibrate",
                  .type = ParamType::kString,
                  .default_value = "false",
                  .help = "scale from the first rows appended (then frozen): vllm = amax / 200 "
                          "for K, amax / 100 for V (vLLM's calculate_kv_scales); max = amax / "
                          "the format's max; false = none",
                  .choices = {"false", "vllm", "max"}}};
  info.make = [name, format](const Params& p, KvRole role, const CacheShape& shape) -> StoreOr {
    RETURN_IF_ERROR(CheckHeadDim(name, shape.head_dim, 1));
    RETURN_IF_ERROR(CheckFp8Amax(name, p));
    const Fp8StoreOptions options{.format = format,
                                  .scope = ScopeOf(p),
                                  .amax = static_cast<float>(p.GetFloat("amax")),
                                  .calibrate_range = Fp8CalibrateRange(p, role, format)};
    return std::make_unique<Fp8Store>(shape, options, absl::StrCat(name, "(", p.ToString(), ")"));
  };
  info.layer_bytes = [name](const Params& p, KvRole, const CacheShape& shape,
                            int64_t entries) -> absl::StatusOr<uint64_t> {
    RETURN_IF_ERROR(CheckHeadDim(name, shape.head_dim, 1));
    return Fp8Store::LayerBytes(ScopeOf(p), shape, entries);
  };
  info.bytes_per_value = [name](const Params&, KvRole, int head_dim) -> absl::StatusOr<double> {
    RETURN_IF_ERROR(CheckHeadDim(name, head_dim, 1));
    return 1.0;
  };
  info.check_values = [name](const Params& p) { return CheckFp8Amax(name, p); };
  return info;
}

KiviOptions KiviOptionsOf(const Params& p) {
  return {.bits = p.GetInt("bits"),
          .group = p.GetInt("group"),
          .residual = p.GetInt("residual"),
          .rule = p.GetString("residual_rule") == "kvbench" ? KiviResidualRule::kKvbench
                                                            : KiviResidualRule::kKivi};
}

absl::StatusOr<KiviOptions> KiviFrom(const Params& p, KvRole role, int head_dim) {
  const KiviOptions options = KiviOptionsOf(p);
  RETURN_IF_ERROR(ValidateKivi(options, head_dim, role));
  return options;
}

StoreInfo Kivi() {
  StoreInfo info;
  info.name = "kivi";
  info.description =
      "KIVI (2402.02750): asymmetric min/max, keys per channel over G tokens, values per "
      "token over G channels, fp16 params, newest R tokens f32; kivi-2 at G=32: 3 bits/value";
  info.params = {{.name = "bits",
                  .type = ParamType::kInt,
                  .default_value = "2",
                  .help = "2, 4 or 8 bits per code",
                  .choices = {}},
                 {.name = "group",
                  .type = ParamType::kInt,
                  .default_value = "32",
                  .help = "G: tokens per key group, channels per value group (min(G, head_dim))",
                  .choices = {}},
                 {.name = "residual",
                  .type = ParamType::kInt,
                  .default_value = "128",
                  .help = "R: newest tokens kept f32 (see residual_rule)",
                  .choices = {}},
                 {.name = "residual_rule",
                  .type = ParamType::kString,
                  .default_value = "kivi",
                  .help = "kivi: the reference's (keys quantized R at a time when R are waiting, "
                          "values all but the newest R); kvbench: a group of G once R + G wait",
                  .choices = {"kivi", "kvbench"}}};
  info.bench_params = {{{"bits", "4"}}, {{"bits", "2"}}};  // kivi-4 and the paper's kivi-2
  info.make = [](const Params& p, KvRole role, const CacheShape& shape) -> StoreOr {
    ASSIGN_OR_RETURN(const KiviOptions options, KiviFrom(p, role, shape.head_dim));
    return MakeKiviStore(shape, role, options);
  };
  info.layer_bytes = [](const Params& p, KvRole role, const CacheShape& shape,
                        int64_t entries) -> absl::StatusOr<uint64_t> {
    ASSIGN_OR_RETURN(const KiviOptions options, KiviFrom(p, role, shape.head_dim));
    return KiviLayerBytes(options, role, shape, entries);
  };
  info.bytes_per_value = [](const Params& p, KvRole role, int head_dim) -> absl::StatusOr<double> {
    ASSIGN_OR_RETURN(const KiviOptions options, KiviFrom(p, role, head_dim));
    return KiviBytesPerValue(options, head_dim, role);
  };
  info.check_values = [](const Params& p) { return ValidateKiviOptions(KiviOptionsOf(p)); };
  return info;
}

std::vector<StoreInfo> BuildTable() {
  std::vector<StoreInfo> t;
  t.push_back(F32());
  t.push_back(RowFormat("f16", "IEEE fp16, 16 bits per value (llama.cpp's default -ctk f16)", 1,
                        [](int hd) { return MakeHalfCodec(HalfFormat::kF16, hd); }));
  t.push_back(RowFormat("bf16", "bfloat16, 16 bits per value (llama.cpp -ctk bf16)", 1,
                        [](int hd) { return MakeHalfCodec(HalfFormat::kBf16, hd); }));
  t.push_back(BlockFormat(
      "q8_0", BlockType::kQ8_0,
      "llama.cpp q8_0: blocks of 32 int8 + fp16 scale, 8.5 bits/value (head_dim 8: 10)"));
  t.push_back(BlockFormat(
      "q4_0", BlockType::kQ4_0,
      "llama.cpp q4_0: blocks of 32 4-bit codes + fp16 scale, 4.5 bits/value (head_dim 8: 6)"));
  t.push_back(BlockFormat(
      "q4_1", BlockType::kQ4_1,
      "llama.cpp q4_1: 4-bit codes + fp16 scale and min, 5 bits/value (head_dim 8: 8)"));
  t.push_back(
      BlockFormat("q5_0", BlockType::kQ5_0,
                  "llama.cpp q5_0: 5-bit codes + fp16 scale, 5.5 bits/value (head_dim 8: 7)"));
  t.push_back(BlockFormat(
      "q5_1", BlockType::kQ5_1,
      "llama.cpp q5_1: 5-bit codes + fp16 scale and min, 6 bits/value (head_dim 8: 9)"));
  t.push_back(Kivi());
  t.push_back(RowFormat(
      "int8", "symmetric int8 per token and KV head + f32 scale, 8 + 32/head_dim bits/value", 1,
      [](int hd) { return MakeInt8Codec(hd); }));
  t.push_back(
      Fp8("fp8_e4m3", Fp8Format::kE4M3,
          "FP8 e4m3 (vLLM fp8_e4m3), fixed or calibrated per-head/per-tensor scale, 8 bits/value"));
  t.push_back(
      Fp8("fp8_e5m2", Fp8Format::kE5M2,
          "FP8 e5m2 (vLLM fp8_e5m2), fixed or calibrated per-head/per-tensor scale, 8 bits/value"));
  return t;
}

const StoreInfo* Find(std::string_view name) {
  for (const StoreInfo& info : StoreRegistry()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

// The registry entry of `name` with its parsed parameters.
struct Resolved {
  const StoreInfo* info;
  Params params;
};

absl::StatusOr<Resolved> Resolve(std::string_view name, const ParamMap& params) {
  const StoreInfo* info = Find(name);
  if (info == nullptr) {
    std::vector<std::string> names;
    for (const StoreInfo& store : StoreRegistry()) names.push_back(store.name);
    return absl::NotFoundError(absl::StrCat("unknown store '", std::string(name),
                                            "'; valid: ", absl::StrJoin(names, ", ")));
  }
  ASSIGN_OR_RETURN(Params parsed,
                   Params::Parse(absl::StrCat("store ", std::string(name)), info->params, params));
  return Resolved{.info = info, .params = std::move(parsed)};
}

}  // namespace

const std::vector<StoreInfo>& StoreRegistry() {
  static const auto* const kStores = new std::vector<StoreInfo>(BuildTable());
  return *kStores;
}

absl::StatusOr<Params> ParseStoreParams(std::string_view name, const ParamMap& params) {
  ASSIGN_OR_RETURN(Resolved store, Resolve(name, params));
  return std::move(store.params);
}

absl::Status CheckStoreValues(std::string_view name, const ParamMap& params) {
  ASSIGN_OR_RETURN(const Resolved store, Resolve(name, params));
  if (store.info->check_values) return store.info->check_values(store.params);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<KvStore>> MakeStore(std::string_view name, const ParamMap& params,
                                                   KvRole role, const CacheShape& shape) {
  ASSIGN_OR_RETURN(const Resolved store, Resolve(name, params));
  return store.info->make(store.params, role, shape);
}

absl::StatusOr<uint64_t> LayerBytes(std::string_view name, const ParamMap& params, KvRole role,
                                    const CacheShape& shape, int64_t entries) {
  ASSIGN_OR_RETURN(const Resolved store, Resolve(name, params));
  return store.info->layer_bytes(store.params, role, shape, entries);
}

absl::StatusOr<double> BytesPerValue(std::string_view name, const ParamMap& params, KvRole role,
                                     int head_dim) {
  ASSIGN_OR_RETURN(const Resolved store, Resolve(name, params));
  return store.info->bytes_per_value(store.params, role, head_dim);
}

}  // namespace kvbench
