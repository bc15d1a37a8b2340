// KV capacity planner: how many bytes a model's KV cache needs at a context and batch, in which
// number formats, under which eviction budget; what fits next to the weights in a given memory; and
// a lower bound on decode time per token from the bytes a step must read.
//
// Accounting is the runtime's own: each store states the exact bytes a layer holds for n tokens
// per KV head (StoreInfo::layer_bytes, stores/store_registry.h: payload, scales and mins, KIVI's
// f32 residual and group params, fp8's scales), the number its memory() reports; the planner
// knows no format. The per-token rate shown (kv_bytes_per_token) is the stores' BytesPerValue: the
// K/V payload a runtime needs, quantization scales and zeros included (Llama-3-8B f16: exactly
// 131072 bytes). kvbench's PolicyCache also keeps a 4-byte position per entry ("index bytes",
// 1024 per token there), reported apart: a contiguous runtime cache has none. tests/planner_test.cc
// checks these numbers against what a PolicyCache reports after running the real tiny models, for
// every registered store.
//
// With an eviction budget, a sequence keeps min(context, budget) entries per KV head (decode-time
// policies hold at most their budget; one-shot policies - snapkv, pyramidkv, adakv - compress the
// prompt to it and then grow by one entry per decoded token, which the planner does not model).
// Per-entry policy scores (h2o, scissorhands: 4-8 bytes per entry) are not counted. KIVI under a
// budget is counted at its no-eviction steady state (evicting from a partly filled key group keeps
// that group's parameters, a few bytes more).
//
// Decode lower bound: one decode step of a batch reads every weight matrix once (embedding row
// excluded, ModelWeights::bytes_per_token) and every kept K/V byte of every sequence, so
//   step_seconds >= (weight_read_bytes + batch * kv_bytes_per_sequence) / bandwidth
// (the K/V payload: a step reads no index).
// Compute, activations and the attention's own arithmetic are ignored: a floor, never a forecast.
#ifndef KVBENCH_SIM_PLANNER_H_
#define KVBENCH_SIM_PLANNER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/params.h"
#include "formats/dtype.h"
#include "model/cache_shape.h"
#include "model/config.h"
#include "model/model.h"
#include "stores/kv_store.h"

namespace kvbench {

// Logical bytes store `store` holds for `entries` tokens in each of the shape's layers x KV heads,
// appended with nothing evicted (what KvStore::memory(l).logical sums to over layers): the store's
// LayerBytes times the layers. NotFound / InvalidArgument as MakeStore.
absl::StatusOr<uint64_t> StoreBytes(const std::string& store, const ParamMap& params, KvRole role,
                                    const CacheShape& shape, int64_t entries);

// The model side of a plan: its shape and weight bytes.
struct PlannedModel {
  std::string label;   // preset name or model path
  std::string source;  // where the shape comes from
  ModelConfig config;
  uint64_t weight_bytes = 0;       // stored weights
  uint64_t weight_read_bytes = 0;  // read by one decode step
};

// A preset shape (model/presets.h) with weights in `weight_dtype` (norms f32). Tied embeddings
// (stories110M, smollm-135m, llama-3.2-1b) are stored once.
absl::StatusOr<PlannedModel> PlannedModelFromPreset(const std::string& preset, DType weight_dtype);
// A loaded model: weight bytes as its tensors hold them.
PlannedModel PlannedModelFromModel(const Model& model, const std::string& label);

struct PlanRequest {
  int64_t context = 0;  // tokens per sequence
  int64_t batch = 1;    // sequences decoded together
  std::string k_store = "f16";
  ParamMap k_params;
  std::string v_store = "f16";
  ParamMap v_params;
  std::string policy = "full";
  std::string budget;         // policy budget as in YAML: tokens ("2048") or a ratio ("0.25")
  uint64_t memory_bytes = 0;  // 0: no memory limit given
  double bandwidth = 0;       // bytes per second; 0: unknown
};

struct Plan {
  std::string k_label, v_label;  // canonical store names with parameters
  std::string policy_label;
  int64_t entries_per_head = 0;      // kept per (layer, KV head) at `context`
  double kv_bytes_per_token = 0;     // K + V payload, all layers and KV heads, per kept token
  double index_bytes_per_token = 0;  // PolicyCache positions, 4 bytes per entry
  uint64_t k_bytes_per_sequence = 0;
  uint64_t v_bytes_per_sequence = 0;
  uint64_t kv_bytes_per_sequence = 0;     // K + V payload
  uint64_t index_bytes_per_sequence = 0;  // PolicyCache positions, 4 bytes per entry
  uint64_t cache_bytes_per_sequence = 0;  // K + V + index: what a PolicyCache holds
  uint64_t cache_bytes_total = 0;         // times batch: what must fit next to the weights
  uint64_t weight_bytes = 0;
  // Memory: -1 when no memory was given; max_context is -2 when any context fits (a budget caps
  // the entries); 0 when not even one token (or one sequence) fits next to the weights.
  int64_t max_context = -1;  // at `batch`
  int64_t max_batch = -1;    // at `context`
  bool fits = true;
  // Decode lower bound (0 when no bandwidth is known).
  double step_seconds = 0;       // one decode step of the whole batch
  double seconds_per_token = 0;  // step / batch
  double tokens_per_second = 0;  // batch / step
};

// Validates the request (positive context and batch, known stores and policy, budget syntax) and
// computes the plan. InvalidArgument / NotFound naming the field.
absl::StatusOr<Plan> MakePlan(const PlannedModel& model, const PlanRequest& request);

// "80GiB", "512MiB", "1.5TB", "123456" (bytes) -> bytes. InvalidArgument naming the text.
absl::StatusOr<uint64_t> ParseByteSize(const std::string& text);
// 1.50 GiB style.
std::string FormatBytes(double bytes);

// The plan as a table (one model, several rows allowed) or as CSV with a header.
std::string PlanCsvHeader();
std::string PlanCsvRow(const PlannedModel& model, const PlanRequest& request, const Plan& plan);
std::string PlanTable(const PlannedModel& model, const std::vector<PlanRequest>& requests,
                      const std::vector<Plan>& plans);

}  // namespace kvbench

#endif  // KVBENCH_SIM_PLANNER_H_
