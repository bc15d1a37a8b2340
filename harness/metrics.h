// Divergence statistics between a policy's next-token distributions and the reference's, made
// comparable with llama.cpp's `llama-perplexity --kl-divergence`.
//
// Per scored position (teacher forcing: both saw the same tokens), from f32 logits, in double:
//   log p = log_softmax(logits)
//   kld   = KL(P_ref || P_pol) = sum_v p_ref(v) (log p_ref(v) - log p_pol(v))   (clamped at 0)
//   top1  = argmax p_ref == argmax p_pol
//   dp    = p_pol(next) - p_ref(next)        next = the token that actually follows
//   logp_ref, logp_pol = log p(next)          for the two perplexities
// Over all scored positions (n of them):
//   ppl          = exp(-mean logp_pol),    ppl_ref = exp(-mean logp_ref)
//   ln_ppl_ratio = mean(logp_ref - logp_pol) = ln(ppl / ppl_ref)
//   *_se         = standard error of a mean: sqrt(var / (n - 1)), var the population variance, as
//                  llama.cpp computes it; for top-1 the binomial sqrt(p (1 - p) / (n - 1)).
//   percentiles  = linear interpolation between closest ranks of the sorted values (llama.cpp's
//                  rule): value at fraction f is at rank f * (n - 1).
#ifndef KVBENCH_HARNESS_METRICS_H_
#define KVBENCH_HARNESS_METRICS_H_

#include <vector>

#include "absl/types/span.h"

namespace kvbench {

// out[v] = logits[v] - log(sum_w exp(logits[w])), computed in double.
void LogSoftmax(absl::Span<const float> logits, std::vector<double>* out);

struct PositionDivergence {
  double kld = 0;
  bool top1_agree = false;
  double dp = 0;
  double logp_ref = 0;
  double logp_pol = 0;
};

// Compares two next-token distributions given as logits over the same vocabulary.
// `next_token` must be a valid index (checked).
PositionDivergence ComparePosition(absl::Span<const float> ref_logits,
                                   absl::Span<const float> pol_logits, int next_token);

// The reference side of a comparison, computed once per position and shared by every policy of a
// lockstep batch.
struct ReferenceDistribution {
  std::vector<double> logp;  // log-softmax of the logits
  std::vector<double> p;     // exp(logp)
  int argmax = 0;            // the top token
};
void SetReference(absl::Span<const float> logits, ReferenceDistribution* ref);

// The same comparison against a precomputed reference; `scratch` holds the policy's log-softmax.
PositionDivergence ComparePosition(const ReferenceDistribution& ref,
                                   absl::Span<const float> pol_logits, int next_token,
                                   std::vector<double>* scratch);

struct DivergenceSummary {
  int n = 0;  // scored positions
  double ppl = 0, ppl_ref = 0;
  double ln_ppl_ratio = 0, ln_ppl_ratio_se = 0;
  double kld_mean = 0, kld_mean_se = 0;
  double kld_median = 0, kld_p90 = 0, kld_p95 = 0, kld_p99 = 0, kld_p999 = 0, kld_max = 0;
  double dp_mean = 0, dp_rms = 0;
  double top1_agree = 0, top1_agree_se = 0;  // fractions in [0, 1]
};

// Summarizes scored positions. An empty input gives a summary with n = 0 and zeros.
DivergenceSummary Summarize(absl::Span<const PositionDivergence> positions);

// Value at `fraction` (0..1) of `sorted` (ascending, non-empty), by linear interpolation.
double Percentile(absl::Span<const double> sorted, double fraction);

// Standard error of the mean of `values`: sqrt(population variance / (n - 1)); 0 when n < 2.
double StandardError(absl::Span<const double> values);

// Free-running agreement of a policy's greedy continuation with the reference's.
struct GreedyMatch {
  int common_prefix = 0;  // tokens equal from the start until the first difference
  int matches = 0;        // positions where the tokens are equal
  int n = 0;              // positions compared (the shorter length)
};
GreedyMatch CompareGreedy(absl::Span<const int> ref_tokens, absl::Span<const int> pol_tokens);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_METRICS_H_
