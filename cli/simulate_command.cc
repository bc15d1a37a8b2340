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
#include "sim/args.h"
#include "sim/replay.h"
#include "sim/validate.h"

namespace kvbench::cli {
namespace {

const std::vector<ArgSpec>& Specs() {
  static const auto* const kSpecs = new std::vector<ArgSpec>{
      {"policies", false,
       "sweep: 'window:budget=16,32,64;h2o:budget=8..256+8,heavy_ratio=0.25,0.5' or an experiment "
       "YAML "
       "whose policies are taken"},
      {"k_store", false, "key store for the bytes column (default f32), e.g. q8_0, kivi(bits=2)"},
      {"v_store", false, "value store for the bytes column (default f32)"},
      {"threads", false, "replay threads (default 1)"},
      {"csv", true, "print CSV instead of a table"},
      {"o", false, "also write the CSV to this file (atomically)"},
      {"validate", false,
       "EXPERIMENT.yaml: record, replay and really run its policies; Spearman rho"},
      {"help", true, "this message"},
  };
  return *kSpecs;
}

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
  auto args = Args::Parse(argc, argv, Specs());
  if (!args.ok()) return ReportError("simulate", args.status());
  if (args->GetBool("help")) {
    std::printf("%s\nflags:\n%s", kUsage, Args::Usage(Specs()).c_str());
    return 0;
  }
  if (args->Has("validate")) {
    if (!args->positional().empty() || args->Has("policies")) {
      return ReportError("simulate",
                         absl::InvalidArgumentError("--validate takes only the experiment file"));
    }
    return Validate(args->Get("validate"));
  }
  if (args->positional().size() != 1 || !args->Has("policies")) {
    return ReportError("simulate", absl::InvalidArgumentError(absl::StrCat(
                                       "expected a trace file and --policies\n", kUsage)));
  }
  auto threads = args->GetInt("threads", 1);
  if (!threads.ok()) return ReportError("simulate", threads.status());
  if (*threads < 1 || *threads > 256) {
    return ReportError("simulate", absl::InvalidArgumentError(
                                       absl::StrCat("--threads ", *threads, " must be 1..256")));
  }
  auto trace = ReadTrace(args->positional()[0]);
  if (!trace.ok()) return ReportError("simulate", trace.status());

  std::vector<CacheSpec> specs;
  const std::string policies = args->Get("policies");
  if (absl::EndsWith(policies, ".yaml") || absl::EndsWith(policies, ".yml")) {
    if (args->Has("k_store") || args->Has("v_store")) {
      return ReportError(
          "simulate",
          absl::InvalidArgumentError("with an experiment YAML the stores come from its policies"));
    }
    auto experiment = LoadExperiment(policies);
    if (!experiment.ok()) return ReportError("simulate", experiment.status());
    for (const PolicyCase& c : experiment->policies) specs.push_back(c.spec);
  } else {
    auto parsed =
        ParsePolicySweep(policies, args->Get("k_store", "f32"), args->Get("v_store", "f32"));
    if (!parsed.ok()) return ReportError("simulate", parsed.status());
    specs = *std::move(parsed);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto results = ReplayAll(*trace, specs, static_cast<int>(*threads));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string csv = ReplayCsv(specs, results);
  std::fputs(
      args->GetBool("csv") ? csv.c_str() : ReplayTable(trace->header(), specs, results).c_str(),
      stdout);
  if (args->GetBool("csv")) std::fprintf(stderr, "%s.\n", kReplayCaveat);
  std::fprintf(
      stderr, "screened %zu configurations in %.2f s on %d thread(s): %.0f configurations/minute\n",
      specs.size(), seconds, static_cast<int>(*threads),
      seconds > 0 ? specs.size() * 60.0 / seconds : 0.0);
  if (args->Has("o")) {
    if (absl::Status s = WriteFileAtomically(args->Get("o"), csv); !s.ok())
      return ReportError("simulate", s);
  }
  return 0;
}

}  // namespace kvbench::cli
