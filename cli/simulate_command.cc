// kvbench simulate: replays eviction policies on a recorded trace (sim/replay.h) and reports
// attention recall per policy and budget; --validate checks the simulation against real runs.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "harness/csv.h"
#include "harness/experiment.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "sim/replay.h"
#include "sim/validate.h"

namespace kvbench::cli {
namespace {

constexpr char kUsage[] =
    "usage: kvbench simulate TRACE.kvt --policies SWEEP|EXPERIMENT.yaml [--k-store S --v-store S] "
    "[--threads N] [--csv] [-o FILE.csv]\n"
    "       kvbench simulate --validate EXPERIMENT.yaml\n";

int Validate(const std::string& path) {
  auto experiment = LoadExperiment(path);
  if (!experiment.ok()) return ReportError("simulate", experiment.status());
  auto model = LoadModel(experiment->model);
  if (!model.ok()) return ReportError("simulate", model.status());
  omp_set_num_threads(std::max(1, experiment->threads));
  auto sequences = ExperimentSequences(*experiment, **model);
  if (!sequences.ok()) return ReportError("simulate", sequences.status());
  Decoder decoder(**model);
  auto report = ValidateReplay(decoder, *experiment, *sequences, stderr);
  if (!report.ok()) return ReportError("simulate", report.status());
  std::fputs(ValidationTable(*report).c_str(), stdout);
  return 0;
}

}  // namespace

int Simulate(int argc, char** argv) {
  std::string trace_path, policies, k_store = "f32", v_store = "f32", validate, out;
  int threads = 1;
  bool csv = false;
  CommandLine cl("simulate",
                 "TRACE.kvt --policies SWEEP|EXPERIMENT.yaml [flags] | --validate X.yaml",
                 "replay eviction policies on a trace: attention recall per budget");
  cl.Positional("trace", &trace_path, "the trace from `kvbench trace`", /*required=*/false)
      .Flag("policies", &policies,
            "sweep: 'window:budget=16,32,64;h2o(budget=8..256+8,heavy_ratio=0.25,0.5)' (a label "
            "as kvbench prints it works too) or an experiment YAML whose policies are taken")
      .Flag("k_store", &k_store, "key store for the bytes column, e.g. q8_0, kivi(bits=2)")
      .Flag("v_store", &v_store, "value store for the bytes column")
      .Flag("threads", &threads, "replay threads")
      .Switch("csv", &csv, "print CSV instead of a table")
      .Flag("o,output", &out, "also write the CSV to this file (atomically)")
      .Flag("validate", &validate,
            "EXPERIMENT.yaml: record, replay and really run its policies; Spearman rho");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  if (!validate.empty()) {
    if (!trace_path.empty() || cl.Given("policies")) {
      return ReportError("simulate",
                         absl::InvalidArgumentError("--validate takes only the experiment file"));
    }
    return Validate(validate);
  }
  if (trace_path.empty() || policies.empty()) {
    return ReportError("simulate", absl::InvalidArgumentError(absl::StrCat(
                                       "expected a trace file and --policies\n", kUsage)));
  }
  if (threads < 1 || threads > 256) {
    return ReportError("simulate", absl::InvalidArgumentError(
                                       absl::StrCat("--threads ", threads, " must be 1..256")));
  }
  auto trace = ReadTrace(trace_path);
  if (!trace.ok()) return ReportError("simulate", trace.status());

  std::vector<CacheSpec> specs;
  if (absl::EndsWith(policies, ".yaml") || absl::EndsWith(policies, ".yml")) {
    if (cl.Given("k_store") || cl.Given("v_store")) {
      return ReportError(
          "simulate",
          absl::InvalidArgumentError("with an experiment YAML the stores come from its policies"));
    }
    auto experiment = LoadExperiment(policies);
    if (!experiment.ok()) return ReportError("simulate", experiment.status());
    for (const PolicyCase& c : experiment->policies) specs.push_back(c.spec);
  } else {
    auto parsed = ParsePolicySweep(policies, k_store, v_store);
    if (!parsed.ok()) return ReportError("simulate", parsed.status());
    specs = *std::move(parsed);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto results = ReplayAll(*trace, specs, threads);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string csv_text = ReplayCsv(specs, results);
  std::fputs(csv ? csv_text.c_str() : ReplayTable(trace->header(), specs, results).c_str(), stdout);
  if (csv) std::fprintf(stderr, "%s.\n", kReplayCaveat);
  std::fprintf(
      stderr, "screened %zu configurations in %.2f s on %d thread(s): %.0f configurations/minute\n",
      specs.size(), seconds, threads, seconds > 0 ? specs.size() * 60.0 / seconds : 0.0);
  if (!out.empty()) {
    if (absl::Status s = WriteFileAtomically(out, csv_text); !s.ok())
      return ReportError("simulate", s);
  }
  return 0;
}

}  // namespace kvbench::cli
