#include "stores/store_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
    return absl::InvalidArgumentError(
        absl::StrCat("store ", store, ": head_dim ", head_dim, " is not a positive multiple of ", multiple));
  }
  return absl::OkStatus();
}

StoreInfo RowFormat(std::string name, std::string description, int multiple,
                    std::function<std::unique_ptr<RowCodec>(int head_dim)> codec) {
  StoreInfo info{.name = name, .description = std::move(description), .params = {}, .make = {}, .bytes_per_value = {}};
  info.make = [name, multiple, codec](const Params&, KvRole, const CacheShape& shape) -> StoreOr {
    if (absl::Status s = CheckHeadDim(name, shape.head_dim, multiple); !s.ok()) return s;
    return std::make_unique<RowStore>(shape, codec(shape.head_dim));
  };
  info.bytes_per_value = [name, multiple, codec](const Params&, KvRole, int head_dim) -> absl::StatusOr<double> {
    if (absl::Status s = CheckHeadDim(name, head_dim, multiple); !s.ok()) return s;
    return static_cast<double>(codec(head_dim)->row_bytes()) / head_dim;
  };
  return info;
}

StoreInfo BlockFormat(std::string name, BlockType type, std::string description) {
  const int multiple = (type == BlockType::kQ5_0 || type == BlockType::kQ5_1) ? 8 : 2;
  return RowFormat(std::move(name), std::move(description), multiple,
                   [type](int hd) { return MakeBlockCodec(type, hd); });
}

StoreInfo Fp8Format_(std::string name, Fp8Format format, std::string description) {
  StoreInfo info{.name = name,
                 .description = std::move(description),
                 .params = {{.name = "scale",
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
                             .type = ParamType::kBool,
                             .default_value = "false",
                             .help = "take amax from the first rows appended (then frozen)",
                             .choices = {}}},
                 .make = {},
                 .bytes_per_value = {}};
  info.make = [name, format](const Params& p, KvRole, const CacheShape& shape) -> StoreOr {
    if (absl::Status s = CheckHeadDim(name, shape.head_dim, 1); !s.ok()) return s;
    const double amax = p.GetFloat("amax");
    if (amax < 0) {
      return absl::InvalidArgumentError(absl::StrCat("store ", name, ": parameter 'amax' = ", amax, " is negative"));
    }
    RowStoreOptions o{.scale_mode = p.GetString("scale") == "head" ? ScaleMode::kPerHead : ScaleMode::kPerLayer,
                      .amax = static_cast<float>(amax),
                      .calibrate = p.GetBool("calibrate"),
                      .name = absl::StrCat(name, "(", p.ToString(), ")")};
    return std::make_unique<RowStore>(shape, MakeFp8Codec(format, shape.head_dim), std::move(o));
  };
  info.bytes_per_value = [name](const Params&, KvRole, int head_dim) -> absl::StatusOr<double> {
    if (absl::Status s = CheckHeadDim(name, head_dim, 1); !s.ok()) return s;
    return 1.0;
  };
  return info;
}

absl::StatusOr<KiviOptions> KiviFrom(const Params& p, KvRole role, int head_dim) {
  KiviOptions o{.bits = p.GetInt("bits"), .group = p.GetInt("group"), .residual = p.GetInt("residual")};
  if (absl::Status s = KiviStore::Validate(o, head_dim, role); !s.ok()) return s;
  return o;
}

StoreInfo Kivi() {
  StoreInfo info{
      .name = "kivi",
      .description = "KIVI (2402.02750): asymmetric min/max, keys per channel over G tokens, values per "
                     "token over G channels, fp16 params, newest R tokens f32; kivi-2 at G=32: 3 bits/value",
      .params = {{.name = "bits", .type = ParamType::kInt, .default_value = "2", .help = "2, 4 or 8 bits per code", .choices = {}},
                 {.name = "group", .type = ParamType::kInt, .default_value = "32",
                  .help = "G: tokens per key group, channels per value group (min(G, head_dim))", .choices = {}},
                 {.name = "residual", .type = ParamType::kInt, .default_value = "128",
                  .help = "R: newest tokens kept f32 (a group of G is quantized once R + G are waiting)", .choices = {}}},
      .make = {},
      .bytes_per_value = {}};
  info.make = [](const Params& p, KvRole role, const CacheShape& shape) -> StoreOr {
    auto o = KiviFrom(p, role, shape.head_dim);
    if (!o.ok()) return o.status();
    return std::make_unique<KiviStore>(shape, role, *o);
  };
  info.bytes_per_value = [](const Params& p, KvRole role, int head_dim) -> absl::StatusOr<double> {
    auto o = KiviFrom(p, role, head_dim);
    if (!o.ok()) return o.status();
    return KiviStore::BytesPerValue(*o, head_dim, role);
  };
  return info;
}

std::vector<StoreInfo> BuildTable() {
  std::vector<StoreInfo> t;
  StoreInfo f32{.name = "f32", .description = "IEEE f32, 32 bits per value: the reference format", .params = {},
                .make = {}, .bytes_per_value = {}};
  f32.make = [](const Params&, KvRole, const CacheShape& shape) -> StoreOr {
    if (absl::Status s = CheckHeadDim("f32", shape.head_dim, 1); !s.ok()) return s;
    return std::make_unique<F32Store>(shape);
  };
  f32.bytes_per_value = [](const Params&, KvRole, int head_dim) -> absl::StatusOr<double> {
    if (absl::Status s = CheckHeadDim("f32", head_dim, 1); !s.ok()) return s;
    return 4.0;
  };
  t.push_back(std::move(f32));
  t.push_back(RowFormat("f16", "IEEE fp16, 16 bits per value (llama.cpp's default -ctk f16)", 1,
                        [](int hd) { return MakeHalfCodec(HalfFormat::kF16, hd); }));
  t.push_back(RowFormat("bf16", "bfloat16, 16 bits per value (llama.cpp -ctk bf16)", 1,
                        [](int hd) { return MakeHalfCodec(HalfFormat::kBf16, hd); }));
  t.push_back(BlockFormat("q8_0", BlockType::kQ8_0,
                          "llama.cpp q8_0: blocks of 32 int8 + fp16 scale, 8.5 bits/value (head_dim 8: 10)"));
  t.push_back(BlockFormat("q4_0", BlockType::kQ4_0,
                          "llama.cpp q4_0: blocks of 32 4-bit codes + fp16 scale, 4.5 bits/value (head_dim 8: 6)"));
  t.push_back(BlockFormat("q4_1", BlockType::kQ4_1,
                          "llama.cpp q4_1: 4-bit codes + fp16 scale and min, 5 bits/value (head_dim 8: 8)"));
  t.push_back(BlockFormat("q5_0", BlockType::kQ5_0,
                          "llama.cpp q5_0: 5-bit codes + fp16 scale, 5.5 bits/value (head_dim 8: 7)"));
  t.push_back(BlockFormat("q5_1", BlockType::kQ5_1,
                          "llama.cpp q5_1: 5-bit codes + fp16 scale and min, 6 bits/value (head_dim 8: 9)"));
  t.push_back(Kivi());
  t.push_back(RowFormat("int8", "symmetric int8 per token and KV head + f32 scale, 8 + 32/head_dim bits/value", 1,
                        [](int hd) { return MakeInt8Codec(hd); }));
  t.push_back(Fp8Format_("fp8_e4m3", Fp8Format::kE4M3,
                         "FP8 e4m3 (vLLM fp8_e4m3), fixed or calibrated per-head/per-tensor scale, 8 bits/value"));
  t.push_back(Fp8Format_("fp8_e5m2", Fp8Format::kE5M2,
                         "FP8 e5m2 (vLLM fp8_e5m2), fixed or calibrated per-head/per-tensor scale, 8 bits/value"));
  return t;
}

const StoreInfo* Find(std::string_view name) {
  for (const StoreInfo& info : StoreRegistry()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

absl::Status Unknown(std::string_view name) {
  std::vector<std::string> names;
  for (const StoreInfo& info : StoreRegistry()) names.push_back(info.name);
  return absl::NotFoundError(
      absl::StrCat("unknown store '", std::string(name), "'; valid: ", absl::StrJoin(names, ", ")));
}

}  // namespace

const std::vector<StoreInfo>& StoreRegistry() {
  static const auto* const kStores = new std::vector<StoreInfo>(BuildTable());
  return *kStores;
}

absl::StatusOr<std::unique_ptr<KvStore>> MakeStore(std::string_view name, const ParamMap& params,
                                                   KvRole role, const CacheShape& shape) {
  const StoreInfo* info = Find(name);
  if (info == nullptr) return Unknown(name);
  auto parsed = Params::Parse(absl::StrCat("store ", std::string(name)), info->params, params);
  if (!parsed.ok()) return parsed.status();
  return info->make(*parsed, role, shape);
}

absl::StatusOr<double> BytesPerValue(std::string_view name, const ParamMap& params, KvRole role,
                                     int head_dim) {
  const StoreInfo* info = Find(name);
  if (info == nullptr) return Unknown(name);
  auto parsed = Params::Parse(absl::StrCat("store ", std::string(name)), info->params, params);
  if (!parsed.ok()) return parsed.status();
  return info->bytes_per_value(*parsed, role, head_dim);
}

}  // namespace kvbench
