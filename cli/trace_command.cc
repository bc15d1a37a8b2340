// kvbench trace: records a full-cache run's attention and key norms over an experiment's sequences
// (sim/trace.h), for `kvbench simulate`.
#include <omp.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "harness/experiment.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "sim/args.h"
#include "sim/planner.h"
#include "sim/recorder.h"
#include "sim/validate.h"

namespace kvbench::cli {
namespace {

const std::vector<ArgSpec>& Specs() {
  static const auto* const kSpecs = new std::vector<ArgSpec>{
      {"o", false, "output trace file (default results/<experiment>.kvt)"},
      {"prob_format", false, "f16 (default: half the size) or f32 (exact)"},
      {"help", true, "this message"},
  };
  return *kSpecs;
}

constexpr char kUsage[] =
    "usage: kvbench trace EXPERIMENT.yaml [-o FILE.kvt] [--prob-format f16|f32]\n";

}  // namespace

int Trace(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, Specs());
  if (!args.ok()) return ReportError("trace", args.status());
  if (args->GetBool("help")) {
    std::printf("%s\nflags:\n%s", kUsage, Args::Usage(Specs()).c_str());
    return 0;
  }
  if (args->positional().size() != 1) {
    return ReportError("trace", absl::InvalidArgumentError(
                                    absl::StrCat("expected one experiment file\n", kUsage)));
  }
  const std::string format = args->Get("prob_format", "f16");
  if (format != "f16" && format != "f32") {
    return ReportError("trace", absl::InvalidArgumentError(absl::StrCat("--prob-format ", format,
                                                                        ": valid are f16, f32")));
  }
  auto experiment = LoadExperiment(args->positional()[0]);
  if (!experiment.ok()) return ReportError("trace", experiment.status());
  auto model = LoadModel(experiment->model);
  if (!model.ok()) return ReportError("trace", model.status());
  omp_set_num_threads(std::max(1, experiment->threads));
  auto sequences = ExperimentSequences(*experiment, **model);
  if (!sequences.ok()) return ReportError("trace", sequences.status());

  const ModelConfig& c = (*model)->config;
  TraceHeader h{.n_layers = c.n_layers,
                .n_heads = c.n_heads,
                .n_kv_heads = c.n_kv_heads,
                .head_dim = c.head_dim,
                .prompt_tokens = experiment->prompt_tokens,
                .score_tokens = experiment->score_tokens,
                .n_sequences = static_cast<int>(sequences->size()),
                .prob_format = format == "f32" ? ProbFormat::kF32 : ProbFormat::kF16,
                .model = experiment->model,
                .experiment = experiment->name};
  if (absl::Status s = ValidateHeader(h, "trace"); !s.ok()) {
    return ReportError("trace", absl::InvalidArgumentError(s.message()));
  }
  const std::string out = args->Get("o", absl::StrCat("results/", experiment->name, ".kvt"));
  std::fprintf(
      stderr,
      "recording %d sequences x %d query positions, %d layers x %d KV heads, %s probabilities: "
      "trace will be %s (%s in memory while recording)\n",
      h.n_sequences, h.query_positions(), h.n_layers, h.n_kv_heads, format.c_str(),
      FormatBytes(static_cast<double>(h.FileBytes())).c_str(),
      FormatBytes(static_cast<double>(h.n_sequences) * h.n_layers * h.n_kv_heads *
                  static_cast<double>(h.query_positions()) * (h.query_positions() + 1) * 4)
          .c_str());
  Decoder decoder(**model);
  auto trace = RecordTrace(decoder, *sequences,
                           {.prompt_tokens = h.prompt_tokens,
                            .score_tokens = h.score_tokens,
                            .prob_format = h.prob_format,
                            .model_name = h.model,
                            .experiment_name = h.experiment,
                            .log = stderr});
  if (!trace.ok()) return ReportError("trace", trace.status());
  if (absl::Status s = WriteTrace(*trace, out); !s.ok()) return ReportError("trace", s);
  std::printf("wrote %s (%s)\n", out.c_str(),
              FormatBytes(static_cast<double>(h.FileBytes())).c_str());
  return 0;
}

}  // namespace kvbench::cli
