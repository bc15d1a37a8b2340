#include "harness/sweep.h"

#include "absl/strings/str_cat.h"

namespace kvbench {

absl::StatusOr<std::vector<SweepPoint>> ExpandSweep(const std::vector<SweepAxis>& axes,
                                                    size_t max_points) {
  size_t total = 1;
  for (const SweepAxis& axis : axes) {
    if (axis.values.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", axis.key, "' is an empty list: nothing to sweep"));
    }
    if (total > max_points / axis.values.size()) {
      return absl::InvalidArgumentError(absl::StrCat("the sweep has more than ", max_points,
                                                     " points (at axis '", axis.key, "')"));
    }
    total *= axis.values.size();
  }
  std::vector<SweepPoint> points;
  points.reserve(total);
  std::vector<size_t> index(axes.size(), 0);
  for (size_t n = 0; n < total; ++n) {
    SweepPoint point;
    point.reserve(axes.size());
    for (size_t a = 0; a < axes.size(); ++a)
      point.emplace_back(axes[a].key, axes[a].values[index[a]]);
    points.push_back(std::move(point));
    // Odometer: the last axis turns fastest.
    for (size_t a = axes.size(); a-- > 0;) {
      if (++index[a] < axes[a].values.size()) break;
      index[a] = 0;
    }
  }
  return points;
}

}  // namespace kvbench
