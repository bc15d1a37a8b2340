// Models with seeded random weights of a chosen shape: for speed measurements and exact-equivalence
// tests only (they say nothing about quality). Weights uniform with variance 1/fan_in, norms = 1.
#ifndef KVBENCH_MODEL_SYNTHETIC_H_
#define KVBENCH_MODEL_SYNTHETIC_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "formats/dtype.h"
#include "model/config.h"
#include "model/model.h"

namespace kvbench {

absl::StatusOr<std::unique_ptr<Model>> MakeSyntheticModel(const ModelConfig& config, DType dtype,
                                                          uint64_t seed);

}  // namespace kvbench

#endif  // KVBENCH_MODEL_SYNTHETIC_H_
