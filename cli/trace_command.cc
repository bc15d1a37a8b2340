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
#include "sim/planner.h"
#include "sim/recorder.h"
#include "sim/validate.h"

namespace kvbench::cli {
int Trace(int argc, char** argv) {
  std::string path, out, format = "f16";
  ExperimentFlags experiment_flags;
  CommandLine cl("trace", "EXPERIMENT.yaml [-o FILE.kvt] [--prob-format f16|f32]",
                 "record a full run's attention and key norms for replay (.kvt)");
  cl.Positional("experiment", &path, "the experiment YAML whose model and sequences are traced");
  experiment_flags.AddTo(cl);
  cl.Flag("o,output", &out, "output trace file (default results/<experiment>.kvt)")
      .Flag("prob_format", &format, "f16 (half the size) or f32 (exact)");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  if (format != "f16" && format != "f32") {
    return ReportError("trace", absl::InvalidArgumentError(absl::StrCat("--prob-format ", format,
                                                                        ": valid are f16, f32")));
  }
  auto experiment = experiment_flags.LoadExperiment(path);
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
  if (out.empty()) out = absl::StrCat("results/", experiment->name, ".kvt");
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
