#include "sim/validate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status.h"
#include "harness/dataset.h"
#include "harness/divergence.h"
#include "sim/recorder.h"
#include "sim/replay.h"

namespace kvbench {
namespace {

std::vector<double> Ranks(absl::Span<const double> v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) rank[idx[k]] = avg;
    i = j + 1;
  }
  return rank;
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

double SpearmanRho(absl::Span<const double> x, absl::Span<const double> y) {
  if (x.size() != y.size() || x.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> rx = Ranks(x), ry = Ranks(y);
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / n;
  const double my = std::accumulate(ry.begin(), ry.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
  return sxy / std::sqrt(sxx * syy);
}

absl::StatusOr<std::vector<std::vector<int>>> ExperimentSequences(const Experiment& e,
                                                                  const Model& model) {
  ASSIGN_OR_RETURN(auto texts, LoadTexts(e.dataset));
  return BuildSequences(texts, *model.tokenizer,
                        {.context_tokens = e.context_tokens,
                         .max_sequences = e.max_sequences,
                         .concatenate = e.dataset.concatenate});
}

absl::StatusOr<ValidationReport> ValidateReplay(Decoder& decoder, const Experiment& e,
                                                const std::vector<std::vector<int>>& sequences,
                                                FILE* log) {
  ValidationReport report;
  auto t0 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(auto trace, RecordTrace(decoder, sequences,
                                           {.prompt_tokens = e.prompt_tokens,
                                            .score_tokens = e.score_tokens,
                                            .prob_format = ProbFormat::kF16,
                                            .model_name = e.model,
                                            .experiment_name = e.name}));
  // Round-trip through the file format, so the check covers exactly what `simulate` reads.
  ASSIGN_OR_RETURN(auto bytes, SerializeTrace(trace));
  ASSIGN_OR_RETURN(auto read, ParseTrace(bytes, "in-memory trace"));
  report.record_seconds = Seconds(t0);

  std::vector<CacheSpec> specs;
  for (const PolicyCase& c : e.policies) specs.push_back(c.spec);
  t0 = std::chrono::steady_clock::now();
  const auto simulated = ReplayAll(read, specs, e.threads);
  report.replay_seconds = Seconds(t0);
  if (log != nullptr)
    std::fprintf(log, "replayed %zu configurations in %.2f s\n", specs.size(),
                 report.replay_seconds);

  t0 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(
      auto real,
      EvaluateDivergence(decoder, e.reference, specs, sequences, e.context_tokens,
                         {.prompt_tokens = e.prompt_tokens, .score_tokens = e.score_tokens}));
  report.real_seconds = Seconds(t0);
  if (log != nullptr)
    std::fprintf(log, "ran %zu configurations for real in %.2f s\n", specs.size(),
                 report.real_seconds);

  std::vector<double> recall, recall_p5, kld;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!simulated[i].ok() || !real.policies[i].ok()) {
      const absl::Status& s =
          !simulated[i].ok() ? simulated[i].status() : real.policies[i].status();
      report.failed.push_back(absl::StrCat(specs[i].Label(), ": ", s.message()));
      continue;
    }
    ValidationPoint p{.label = simulated[i]->label,
                      .recall_mean = simulated[i]->recall.mean,
                      .recall_p5 = simulated[i]->recall.p5,
                      .kld_mean = real.policies[i]->summary.kld_mean};
    recall.push_back(p.recall_mean);
    recall_p5.push_back(p.recall_p5);
    kld.push_back(p.kld_mean);
    report.points.push_back(std::move(p));
  }
  report.rho_mean_recall_kld = SpearmanRho(recall, kld);
  report.rho_p5_recall_kld = SpearmanRho(recall_p5, kld);
  return report;
}

std::string ValidationTable(const ValidationReport& r) {
  std::string out =
      absl::StrFormat("%-62s %12s %12s %12s\n", "policy", "sim recall", "sim p5", "real KL");
  for (const ValidationPoint& p : r.points) {
    absl::StrAppendFormat(&out, "%-62s %12.5f %12.5f %12.6f\n", p.label, p.recall_mean, p.recall_p5,
                          p.kld_mean);
  }
  for (const std::string& f : r.failed) absl::StrAppendFormat(&out, "not compared: %s\n", f);
  absl::StrAppendFormat(
      &out,
      "\nSpearman rho(simulated mean recall, measured KL) = %.3f over %zu configurations\n"
      "Spearman rho(simulated p5 recall, measured KL)   = %.3f\n"
      "(a useful screen has rho near -1: more recall, less divergence)\n"
      "times: record %.2f s, replay %.2f s, real runs %.2f s\n%s.\n",
      r.rho_mean_recall_kld, r.points.size(), r.rho_p5_recall_kld, r.record_seconds,
      r.replay_seconds, r.real_seconds, kReplayCaveat);
  return out;
}

}  // namespace kvbench
