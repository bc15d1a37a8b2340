// The statistics the report draws and compare tests with, in one place so both agree.
//
//   Wilson score interval for a proportion (NIAH accuracy): stays inside [0, 1] and is not empty at
//   0/n or n/n, where the normal approximation is (Wilson 1927; what statsmodels'
//   proportion_confint method="wilson" computes). z of a difference of two independent estimates
//   with standard errors: (b - a) / sqrt(sa^2+sb^2). Two-proportion z-test with the pooled
//   proportion (the textbook test of p1 = p2). Pareto front: the points no other point beats on
//   both axes.
#ifndef KVBENCH_REPORT_STATS_H_
#define KVBENCH_REPORT_STATS_H_

#include <cstddef>
#include <optional>
#include <vector>

namespace kvbench {

// |z| above this is called significant (about 95% two-sided under the normal approximation).
inline constexpr double kSignificantZ = 2.0;

struct Interval {
  double low = 0;
  double high = 0;
};

// Wilson score interval of `correct` successes in `n` trials at `z` (the normal 97.5% quantile: a
// 95% interval). n = 0 gives [0, 1].
Interval WilsonInterval(double correct, double n, double z = 1.959963984540054);

// (b - a) / sqrt(se_a^2 + se_b^2); nullopt when both standard errors are 0 (no noise estimate).
std::optional<double> DifferenceZ(double a, double se_a, double b, double se_b);

// z of p_b - p_a for correct_a / n_a against correct_b / n_b, pooled standard error; nullopt when
// a side has n = 0 or the pooled proportion is 0 or 1 (no variance: the two agree exactly).
std::optional<double> TwoProportionZ(double correct_a, double n_a, double correct_b, double n_b);

struct XY {
  double x = 0;
  double y = 0;
};

// Indices of the points on the Pareto front for minimising x and minimising y (lower_is_better) or
// maximising y, in increasing x. Ties in x keep the better y only.
std::vector<size_t> ParetoFront(const std::vector<XY>& points, bool lower_is_better);

}  // namespace kvbench

#endif  // KVBENCH_REPORT_STATS_H_
