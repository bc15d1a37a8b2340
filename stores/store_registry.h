// The table of KV stores (number formats): name -> factory, with every parameter declared.
// `kvbench policies` prints it; YAML `k_store` / `v_store` names resolve through it. K and V may
// use different stores (k: q8_0, v: q4_0), as llama.cpp's -ctk / -ctv.
//
//   f32 f16 bf16                      plain floats            (f32_store.h, half_store.h)
//   q8_0 q4_0 q4_1 q5_0 q5_1          llama.cpp blocks        (block_store.h)
//   kivi                              KIVI, keys per channel  (kivi_store.h)
//   int8                              per-token symmetric     (int8_store.h)
//   fp8_e4m3 fp8_e5m2                 vLLM FP8 with a scale   (fp8_store.h)
//
// Each entry also states its own size, as llama.cpp's ggml_row_size(type, n) does for a tensor
// type: LayerBytes is exactly what a store reports for a layer, so a planner sizes a cache before
// building it without knowing any format; BytesPerValue is the steady-state rate per stored value.
#ifndef KVBENCH_STORES_STORE_REGISTRY_H_
#define KVBENCH_STORES_STORE_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/params.h"
#include "model/cache_shape.h"
#include "stores/kv_store.h"

namespace kvbench {

struct StoreInfo {
  std::string name;
  std::string description;  // one line: format, bits per value, reference
  std::vector<ParamSpec> params;
  std::function<absl::StatusOr<std::unique_ptr<KvStore>>(const Params&, KvRole, const CacheShape&)>
      make;
  // Checks of the parameter values that need no model (ranges, choices between parameters), run
  // when an experiment is read so a bad value is an error with its line before anything runs;
  // null: Params::Parse's type and choice checks are all there is. `make` checks them again.
  std::function<absl::Status(const Params&)> check_values;
  // Logical bytes of one layer (all its KV heads) after `entries` >= 0 tokens were appended to
  // each KV head and none evicted: payload and every piece of metadata (block scales and mins,
  // KIVI's group params and f32 residual, fp8's 4-byte scales). Equals KvStore::memory(l).logical.
  // A layer, not a (layer, KV head), is the unit because fp8's scale=tensor is one scale per layer.
  std::function<absl::StatusOr<uint64_t>(const Params&, KvRole, const CacheShape&, int64_t entries)>
      layer_bytes;
  // Bytes per value of one stored token of head_dim values: payload plus its own scales/mins (KIVI
  // key-group params amortised over a full group). Excludes per-store constants (fp8's 4-byte
  // scales) and KIVI's f32 residual (4 bytes per value for its newest R .. R + G - 1 tokens).
  std::function<absl::StatusOr<double>(const Params&, KvRole, int head_dim)> bytes_per_value;
  // Parameter sets a benchmark of every store measures (bench/attention_bench.cc); empty: the
  // defaults alone.
  std::vector<ParamMap> bench_params;
};

// Every store, in listing order.
const std::vector<StoreInfo>& StoreRegistry();

// Store `name`'s parameters with defaults filled in. NotFound (listing valid names) for an unknown
// store; InvalidArgument for an unknown or malformed parameter.
absl::StatusOr<Params> ParseStoreParams(std::string_view name, const ParamMap& params);

// ParseStoreParams and the store's check_values: every check that needs no model geometry.
absl::Status CheckStoreValues(std::string_view name, const ParamMap& params);

// Builds store `name` for `role`. Errors as ParseStoreParams; InvalidArgument for parameters or a
// head_dim the format cannot hold.
absl::StatusOr<std::unique_ptr<KvStore>> MakeStore(std::string_view name, const ParamMap& params,
                                                   KvRole role, const CacheShape& shape);

// StoreInfo::layer_bytes for store `name` with `params` (same errors as MakeStore).
absl::StatusOr<uint64_t> LayerBytes(std::string_view name, const ParamMap& params, KvRole role,
                                    const CacheShape& shape, int64_t entries);

// StoreInfo::bytes_per_value for store `name` with `params` (same errors as MakeStore).
absl::StatusOr<double> BytesPerValue(std::string_view name, const ParamMap& params, KvRole role,
                                     int head_dim);

}  // namespace kvbench

#endif  // KVBENCH_STORES_STORE_REGISTRY_H_
