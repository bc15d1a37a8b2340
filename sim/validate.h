// The honesty check of trace-driven replay: for a sweep, simulated attention recall (sim/replay.h)
// against the KL divergence measured by really running each policy (harness/divergence.h, teacher
// forcing against `full`), summarized as a Spearman rank correlation. A screen is useful when
// higher recall ranks with lower KL, i.e. rho(recall, KL) is strongly negative.
#ifndef KVBENCH_SIM_VALIDATE_H_
#define KVBENCH_SIM_VALIDATE_H_

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "harness/experiment.h"
#include "model/decoder.h"
#include "model/model.h"

namespace kvbench {

// Spearman's rank correlation (Pearson correlation of the ranks, ties given their average rank).
// NaN when fewer than 2 points or when either side is constant.
double SpearmanRho(absl::Span<const double> x, absl::Span<const double> y);

// The experiment's evaluation sequences (harness/dataset.h), tokenized with the model's tokenizer.
absl::StatusOr<std::vector<std::vector<int>>> ExperimentSequences(const Experiment& experiment,
                                                                  const Model& model);

struct ValidationPoint {
  std::string label;
  double recall_mean = 0;
  double recall_p5 = 0;
  double kld_mean = 0;  // measured: mean KL(full || policy) over scored positions
};

struct ValidationReport {
  std::vector<ValidationPoint> points;
  std::vector<std::string> failed;  // "label: error" for specs either side could not run
  double rho_mean_recall_kld = 0;   // Spearman over points
  double rho_p5_recall_kld = 0;
  double record_seconds = 0, replay_seconds = 0, real_seconds = 0;
};

// Records a trace of the experiment's sequences (full cache, f16 probabilities as `kvbench trace`
// writes them), replays every policy of the experiment, runs each for real, and correlates.
absl::StatusOr<ValidationReport> ValidateReplay(Decoder& decoder, const Experiment& experiment,
                                                const std::vector<std::vector<int>>& sequences,
                                                FILE* log);

std::string ValidationTable(const ValidationReport& report);

}  // namespace kvbench

#endif  // KVBENCH_SIM_VALIDATE_H_
