#include "harness/metrics.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace kvbench {

void LogSoftmax(absl::Span<const float> logits, std::vector<double>* out) {
  out->resize(logits.size());
  if (logits.empty()) return;
  double max = logits[0];
  for (float x : logits) max = std::max(max, static_cast<double>(x));
  double sum = 0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max);
  const double log_z = max + std::log(sum);
  for (size_t i = 0; i < logits.size(); ++i) (*out)[i] = static_cast<double>(logits[i]) - log_z;
}

namespace {

int ArgMaxOf(absl::Span<const double> x) {
  int best = 0;
  for (size_t i = 1; i < x.size(); ++i) {
    if (x[i] > x[best]) best = static_cast<int>(i);
  }
  return best;
}

}  // namespace

void SetReference(absl::Span<const float> logits, ReferenceDistribution* ref) {
  LogSoftmax(logits, &ref->logp);
  ref->p.resize(ref->logp.size());
  for (size_t v = 0; v < ref->logp.size(); ++v) ref->p[v] = std::exp(ref->logp[v]);
  ref->argmax = ref->logp.empty() ? 0 : ArgMaxOf(ref->logp);
}

PositionDivergence ComparePosition(const ReferenceDistribution& ref,
                                   absl::Span<const float> pol_logits, int next_token,
                                   std::vector<double>* scratch) {
  KVBENCH_CHECK(ref.logp.size() == pol_logits.size() && !ref.logp.empty(),
                "vocabularies differ: %zu vs %zu", ref.logp.size(), pol_logits.size());
  KVBENCH_CHECK(next_token >= 0 && next_token < static_cast<int>(ref.logp.size()),
                "next token %d out of range", next_token);
  LogSoftmax(pol_logits, scratch);
  const std::vector<double>& pol_logp = *scratch;
  double kld = 0;
  for (size_t v = 0; v < ref.logp.size(); ++v) {
    if (ref.p[v] > 0) kld += ref.p[v] * (ref.logp[v] - pol_logp[v]);
  }
  PositionDivergence d;
  // Rounding can leave a tiny negative sum for (near-)identical distributions; KL is >= 0.
  d.kld = std::max(0.0, kld);
  d.top1_agree = ArgMaxOf(pol_logp) == ref.argmax;
  d.logp_ref = ref.logp[next_token];
  d.logp_pol = pol_logp[next_token];
  d.dp = std::exp(d.logp_pol) - ref.p[next_token];
  return d;
}

PositionDivergence ComparePosition(absl::Span<const float> ref_logits,
                                   absl::Span<const float> pol_logits, int next_token) {
  ReferenceDistribution ref;
  std::vector<double> scratch;
  SetReference(ref_logits, &ref);
  return ComparePosition(ref, pol_logits, next_token, &scratch);
}

double Percentile(absl::Span<const double> sorted, double fraction) {
  KVBENCH_CHECK(!sorted.empty());
  if (fraction <= 0) return sorted.front();
  if (fraction >= 1) return sorted.back();
  const double rank = fraction * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double t = rank - static_cast<double>(lo);
  return (1 - t) * sorted[lo] + t * sorted[hi];
}

double StandardError(absl::Span<const double> values) {
  const size_t n = values.size();
  if (n < 2) return 0;
  double sum = 0, sum2 = 0;
  for (double v : values) {
    sum += v;
    sum2 += v * v;
  }
  const double mean = sum / n;
  const double var = std::max(0.0, sum2 / n - mean * mean);
  return std::sqrt(var / static_cast<double>(n - 1));
}

DivergenceSummary Summarize(absl::Span<const PositionDivergence> positions) {
  DivergenceSummary s;
  const size_t n = positions.size();
  s.n = static_cast<int>(n);
  if (n == 0) return s;
  std::vector<double> kld(n), ratio(n);
  double sum_ref = 0, sum_pol = 0, sum_dp = 0, sum_dp2 = 0;
  int agree = 0;
  for (size_t i = 0; i < n; ++i) {
    const PositionDivergence& p = positions[i];
    kld[i] = p.kld;
    ratio[i] = p.logp_ref - p.logp_pol;
    sum_ref += p.logp_ref;
    sum_pol += p.logp_pol;
    sum_dp += p.dp;
    sum_dp2 += p.dp * p.dp;
    agree += p.top1_agree ? 1 : 0;
  }
  s.ppl = std::exp(-sum_pol / n);
  s.ppl_ref = std::exp(-sum_ref / n);
  double sum_ratio = 0;
  for (double r : ratio) sum_ratio += r;
  s.ln_ppl_ratio = sum_ratio / n;
  s.ln_ppl_ratio_se = StandardError(ratio);
  double sum_kld = 0;
  for (double k : kld) sum_kld += k;
  s.kld_mean = sum_kld / n;
  s.kld_mean_se = StandardError(kld);
  std::sort(kld.begin(), kld.end());
  s.kld_median = Percentile(kld, 0.5);
  s.kld_p90 = Percentile(kld, 0.90);
  s.kld_p95 = Percentile(kld, 0.95);
  s.kld_p99 = Percentile(kld, 0.99);
  s.kld_p999 = Percentile(kld, 0.999);
  s.kld_max = kld.back();
  s.dp_mean = sum_dp / n;
  s.dp_rms = std::sqrt(sum_dp2 / n);
  s.top1_agree = static_cast<double>(agree) / n;
  s.top1_agree_se = n < 2 ? 0 : std::sqrt(s.top1_agree * (1 - s.top1_agree) / (n - 1));
  return s;
}

GreedyMatch CompareGreedy(absl::Span<const int> ref_tokens, absl::Span<const int> pol_tokens) {
  GreedyMatch m;
  m.n = static_cast<int>(std::min(ref_tokens.size(), pol_tokens.size()));
  bool diverged = false;
  for (int i = 0; i < m.n; ++i) {
    if (ref_tokens[i] == pol_tokens[i]) {
      ++m.matches;
      if (!diverged) ++m.common_prefix;
    } else {
      diverged = true;
    }
  }
  return m;
}

}  // namespace kvbench
