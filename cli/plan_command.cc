// kvbench plan: KV cache capacity planning for a model shape (sim/planner.h).
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "harness/bandwidth_probe.h"
#include "model/loader.h"
#include "model/presets.h"
#include "policies/spec_text.h"
#include "sim/planner.h"

namespace kvbench::cli {
namespace {

// The flags as given; `given` says which were (a default cannot tell "absent" from "default").
struct PlanFlags {
  std::string model, shape, weight_dtype = "f16", context = "4096", batch = "1", k_store = "f16",
                            v_store = "f16", kv_store, policy = "full", budget, memory;
  double bandwidth = 0;
  bool measure_bandwidth = false, csv = false, list_shapes = false;
  const CommandLine* given = nullptr;

  bool Has(absl::string_view name) const { return given->Given(name); }
};

constexpr char kUsage[] =
    "usage: kvbench plan (--model NAME|FILE | --shape PRESET) --context N[,N...] [--batch B] "
    "[--k-store S --v-store S | --kv-store 'S;S;...'] [--policy P --budget N] [--memory 80GiB] "
    "[--bandwidth GB/s | --measure-bandwidth] [--csv]\n";

absl::StatusOr<std::vector<int64_t>> IntList(const std::string& text, const std::string& name) {
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(part, &v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": '", std::string(part), "' is not an integer"));
    }
    out.push_back(v);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, " is empty"));
  return out;
}

// Prints the plan of every requested (stores, context, batch); errors go back to Plan.
absl::Status RunPlan(const PlanFlags& args) {
  if (args.list_shapes) {
    for (const ShapePreset& p : ShapePresets()) {
      std::printf("%-16s %s\n", p.name.c_str(), p.source.c_str());
    }
    return absl::OkStatus();
  }
  const std::string &model_name = args.model, &shape = args.shape;
  if (model_name.empty() == shape.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("give exactly one of --model and --shape\n", kUsage));
  }
  PlannedModel model;
  if (!shape.empty()) {
    const std::string& dt = args.weight_dtype;
    DType dtype;
    if (dt == "f32") {
      dtype = DType::kF32;
    } else if (dt == "f16") {
      dtype = DType::kF16;
    } else if (dt == "bf16") {
      dtype = DType::kBF16;
    } else if (dt == "q8_0") {
      dtype = DType::kQ8_0;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--weight-dtype ", dt, ": valid are f32, f16, bf16, q8_0"));
    }
    ASSIGN_OR_RETURN(model, PlannedModelFromPreset(shape, dtype));
    model.label = absl::StrCat(model.label, " ", dt);
  } else {
    if (args.Has("weight_dtype")) {
      return absl::InvalidArgumentError(
          "--weight-dtype applies to --shape only (a model file has its own)");
    }
    ASSIGN_OR_RETURN(const auto loaded, LoadModel(model_name));
    model = PlannedModelFromModel(*loaded, model_name);
  }
  ASSIGN_OR_RETURN(const std::vector<int64_t> contexts, IntList(args.context, "context"));
  ASSIGN_OR_RETURN(const std::vector<int64_t> batches, IntList(args.batch, "batch"));

  std::vector<std::pair<std::string, std::string>> stores;
  if (args.Has("kv_store")) {
    if (args.Has("k_store") || args.Has("v_store")) {
      return absl::InvalidArgumentError(
          "--kv-store replaces --k-store/--v-store: give one or the other");
    }
    for (absl::string_view s : SplitSpecList(args.kv_store)) {
      stores.emplace_back(std::string(s), std::string(s));
    }
  } else {
    stores.emplace_back(args.k_store, args.v_store);
  }

  PlanRequest base;
  // A policy as kvbench prints it is accepted; of its parameters only the budget sets the bytes.
  ASSIGN_OR_RETURN(const auto policy, ParseNamedParams(args.policy));
  base.policy = policy.first;
  base.budget = args.budget;
  if (auto it = policy.second.find("budget"); it != policy.second.end()) {
    if (args.Has("budget")) {
      return absl::InvalidArgumentError("give the budget in --policy or in --budget, not both");
    }
    base.budget = it->second;
  }
  if (args.Has("memory")) {
    auto memory = ParseByteSize(args.memory);
    if (!memory.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--memory ", memory.status().message()));
    }
    base.memory_bytes = *memory;
  }
  if (args.Has("bandwidth") && args.measure_bandwidth) {
    return absl::InvalidArgumentError("give --bandwidth or --measure-bandwidth, not both");
  }
  if (args.Has("bandwidth")) {
    const double gbs = args.bandwidth;
    if (!(gbs > 0)) return absl::InvalidArgumentError("--bandwidth must be > 0 (GB/s)");
    base.bandwidth = gbs * 1e9;
  } else if (args.measure_bandwidth) {
    base.bandwidth = MeasureReadBandwidth(size_t{1} << 30, 3);
    std::fprintf(stderr, "measured read bandwidth: %.1f GB/s (1 GiB buffer, best of 3)\n",
                 base.bandwidth / 1e9);
  }

  std::vector<PlanRequest> requests;
  std::vector<::kvbench::Plan> plans;
  for (const auto& [k, v] : stores) {
    ASSIGN_OR_RETURN(const auto k_store, ParseNamedParams(k));
    ASSIGN_OR_RETURN(const auto v_store, ParseNamedParams(v));
    for (int64_t context : contexts) {
      for (int64_t batch : batches) {
        PlanRequest q = base;
        q.context = context;
        q.batch = batch;
        q.k_store = k_store.first;
        q.k_params = k_store.second;
        q.v_store = v_store.first;
        q.v_params = v_store.second;
        ASSIGN_OR_RETURN(::kvbench::Plan plan, MakePlan(model, q));
        requests.push_back(q);
        plans.push_back(std::move(plan));
      }
    }
  }
  if (args.csv) {
    std::string out = PlanCsvHeader();
    for (size_t i = 0; i < plans.size(); ++i) out += PlanCsvRow(model, requests[i], plans[i]);
    std::fputs(out.c_str(), stdout);
  } else {
    std::fputs(PlanTable(model, requests, plans).c_str(), stdout);
  }
  return absl::OkStatus();
}

}  // namespace

int Plan(int argc, char** argv) {
  PlanFlags f;
  CommandLine cl("plan",
                 "(--model NAME|FILE | --shape PRESET) --context N[,N...] [--batch B] "
                 "[--k-store S --v-store S | --kv-store 'S;S;...'] [--policy P --budget N] "
                 "[--memory 80GiB] [--bandwidth GB/s | --measure-bandwidth] [--csv]",
                 "KV cache bytes, what fits in memory, decode-time lower bound");
  cl.Flag("model", &f.model,
          "a model by short name or path (GGUF, llama2.c, HF folder): shape and weight bytes")
      .Flag("shape", &f.shape, "a preset shape instead of a model file (--list-shapes)")
      .Flag("weight_dtype", &f.weight_dtype, "weights of a preset: f32, f16, bf16, q8_0")
      .Flag("context", &f.context, "tokens per sequence; a comma list gives one row each")
      .Flag("batch", &f.batch, "sequences decoded together; a comma list gives one row each")
      .Flag("k_store", &f.k_store, "key store, e.g. f16, q8_0, kivi(bits=2)")
      .Flag("v_store", &f.v_store, "value store")
      .Flag("kv_store", &f.kv_store,
            "stores for both K and V, ';'-separated list: one row each (overrides k/v)")
      .Flag("policy", &f.policy, "eviction policy, e.g. sinks or sinks(budget=1024)")
      .Flag("budget", &f.budget, "policy budget per KV head: tokens or a ratio of the context")
      .Flag("memory", &f.memory, "device memory, e.g. 80GiB: what fits next to the weights")
      .Flag("bandwidth", &f.bandwidth, "memory bandwidth in GB/s for the decode-time lower bound")
      .Switch("measure_bandwidth", &f.measure_bandwidth,
              "measure this machine's read bandwidth (harness/bandwidth_probe.h)")
      .Switch("csv", &f.csv, "print CSV instead of a table")
      .Switch("list_shapes", &f.list_shapes, "list the preset shapes with their sources");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  f.given = &cl;
  const absl::Status status = RunPlan(f);
  return status.ok() ? 0 : ReportError("plan", status);
}

}  // namespace kvbench::cli
