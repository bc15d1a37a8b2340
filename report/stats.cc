#include "report/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kvbench {

Interval WilsonInterval(double correct, double n, double z) {
  if (n <= 0) return {0, 1};
  const double p = correct / n;
  const double z2 = z * z;
  const double center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z / (1 + z2 / n) * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

std::optional<double> DifferenceZ(double a, double se_a, double b, double se_b) {
  const double se = std::sqrt(se_a * se_a + se_b * se_b);
  if (!(se > 0)) return std::nullopt;
  return (b - a) / se;
}

std::optional<double> TwoProportionZ(double correct_a, double n_a, double correct_b, double n_b) {
  if (n_a <= 0 || n_b <= 0) return std::nullopt;
  const double pooled = (correct_a + correct_b) / (n_a + n_b);
  const double se = std::sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b));
  if (!(se > 0)) return std::nullopt;
  return (correct_b / n_b - correct_a / n_a) / se;
}

std::vector<size_t> ParetoFront(const std::vector<XY>& points, bool lower_is_better) {
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  const auto better = [&](double u, double v) { return lower_is_better ? u < v : u > v; };
  // By x, and among equal x the best y first, so one pass keeps each point that beats every
  // point at smaller or equal x.
  std::sort(order.begin(), order.end(), [&](size_t i, size_t j) {
    if (points[i].x != points[j].x) return points[i].x < points[j].x;
    return better(points[i].y, points[j].y);
  });
  std::vector<size_t> front;
  for (size_t i : order) {
    if (front.empty() || better(points[i].y, points[front.back()].y)) {
      if (!front.empty() && points[front.back()].x == points[i].x) continue;
      front.push_back(i);
    }
  }
  return front;
}

}  // namespace kvbench
