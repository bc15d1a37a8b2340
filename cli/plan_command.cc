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
#include "sim/args.h"
#include "sim/planner.h"

namespace kvbench::cli {
namespace {

const std::vector<ArgSpec>& Specs() {
  static const auto* const kSpecs = new std::vector<ArgSpec>{
      {"model", false,
       "a model by short name or path (GGUF, llama2.c, HF folder): shape and weight bytes"},
      {"shape", false, "a preset shape instead of a model file (--list-shapes)"},
      {"weight_dtype", false, "weights of a preset: f32, f16 (default), bf16, q8_0"},
      {"context", false, "tokens per sequence; a comma list gives one row each (default 4096)"},
      {"batch", false, "sequences decoded together; a comma list gives one row each (default 1)"},
      {"k_store", false, "key store, e.g. f16 (default), q8_0, kivi(bits=2)"},
      {"v_store", false, "value store (default f16)"},
      {"kv_store", false,
       "stores for both K and V, ';'-separated list: one row each (overrides k/v)"},
      {"policy", false, "eviction policy (default full)"},
      {"budget", false, "policy budget per KV head: tokens or a ratio of the context"},
      {"memory", false, "device memory, e.g. 80GiB: what fits next to the weights"},
      {"bandwidth", false, "memory bandwidth in GB/s for the decode-time lower bound"},
      {"measure_bandwidth", true,
       "measure this machine's read bandwidth (harness/bandwidth_probe.h)"},
      {"csv", true, "print CSV instead of a table"},
      {"list_shapes", true, "list the preset shapes with their sources"},
      {"help", true, "this message"},
  };
  return *kSpecs;
}

constexpr char kUsage[] =
    "usage: kvbench plan (--model NAME|FILE | --shape PRESET) --context N[,N...] [--batch B] "
    "[--k-store S --v-store S | --kv-store 'S;S;...'] [--policy P --budget N] [--memory 80GiB] "
    "[--bandwidth GB/s | --measure-bandwidth] [--csv]\n";

absl::StatusOr<std::vector<int64_t>> IntList(const Args& args, const std::string& name,
                                             int64_t fallback) {
  std::vector<int64_t> out;
  if (!args.Has(name)) return std::vector<int64_t>{fallback};
  for (absl::string_view part : absl::StrSplit(args.Get(name), ',', absl::SkipWhitespace())) {
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
absl::Status RunPlan(const Args& args) {
  if (args.GetBool("list_shapes")) {
    for (const ShapePreset& p : ShapePresets()) {
      std::printf("%-16s %s\n", p.name.c_str(), p.source.c_str());
    }
    return absl::OkStatus();
  }
  if (!args.positional().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", args.positional()[0], "'\n", kUsage));
  }
  const std::string model_name = args.Get("model"), shape = args.Get("shape");
  if (model_name.empty() == shape.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("give exactly one of --model and --shape\n", kUsage));
  }
  PlannedModel model;
  if (!shape.empty()) {
    const std::string dt = args.Get("weight_dtype", "f16");
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
  ASSIGN_OR_RETURN(const std::vector<int64_t> contexts, IntList(args, "context", 4096));
  ASSIGN_OR_RETURN(const std::vector<int64_t> batches, IntList(args, "batch", 1));

  std::vector<std::pair<std::string, std::string>> stores;
  if (args.Has("kv_store")) {
    if (args.Has("k_store") || args.Has("v_store")) {
      return absl::InvalidArgumentError(
          "--kv-store replaces --k-store/--v-store: give one or the other");
    }
    for (absl::string_view s : absl::StrSplit(args.Get("kv_store"), ';', absl::SkipWhitespace())) {
      stores.emplace_back(std::string(s), std::string(s));
    }
  } else {
    stores.emplace_back(args.Get("k_store", "f16"), args.Get("v_store", "f16"));
  }

  PlanRequest base;
  base.policy = args.Get("policy", "full");
  base.budget = args.Get("budget");
  if (args.Has("memory")) {
    auto memory = ParseByteSize(args.Get("memory"));
    if (!memory.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--memory ", memory.status().message()));
    }
    base.memory_bytes = *memory;
  }
  if (args.Has("bandwidth") && args.GetBool("measure_bandwidth")) {
    return absl::InvalidArgumentError("give --bandwidth or --measure-bandwidth, not both");
  }
  if (args.Has("bandwidth")) {
    ASSIGN_OR_RETURN(const double gbs, args.GetDouble("bandwidth", 0));
    if (!(gbs > 0)) return absl::InvalidArgumentError("--bandwidth must be > 0 (GB/s)");
    base.bandwidth = gbs * 1e9;
  } else if (args.GetBool("measure_bandwidth")) {
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
  if (args.GetBool("csv")) {
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
  auto args = Args::Parse(argc, argv, Specs());
  if (!args.ok()) return ReportError("plan", args.status());
  if (args->GetBool("help")) {
    std::printf("%s\nflags:\n%s", kUsage, Args::Usage(Specs()).c_str());
    return 0;
  }
  const absl::Status status = RunPlan(*args);
  return status.ok() ? 0 : ReportError("plan", status);
}

}  // namespace kvbench::cli
