// Cartesian expansion of list-valued settings: `budget: [32, 64]` with `k_store: [f32, q8_0]` is
// four sweep points. Axes keep their declaration order; the first axis varies slowest, so the
// expansion reads like nested loops written in the YAML's order.
#ifndef KVBENCH_HARNESS_SWEEP_H_
#define KVBENCH_HARNESS_SWEEP_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kvbench {

struct SweepAxis {
  std::string key;
  std::vector<std::string> values;  // a scalar setting is an axis of one value
};

// One sweep point: (key, value) per axis, in axis order.
using SweepPoint = std::vector<std::pair<std::string, std::string>>;

// Every combination of axis values. InvalidArgument for an axis without values (an empty sweep) or
// when the product exceeds `max_points` (no overflow: checked before multiplying). No axes: one
// empty point.
absl::StatusOr<std::vector<SweepPoint>> ExpandSweep(const std::vector<SweepAxis>& axes,
                                                    size_t max_points = 100000);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_SWEEP_H_
