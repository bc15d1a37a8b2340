// Shapes of well-known open models, for synthetic speed tests (`kvbench synth`, bench/) and
// capacity planning. Each entry names its source (the model's published config). Shapes only: no
// weights.
#ifndef KVBENCH_MODEL_PRESETS_H_
#define KVBENCH_MODEL_PRESETS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/config.h"

namespace kvbench {

struct ShapePreset {
  std::string name;
  std::string source;  // where the numbers come from
  ModelConfig config;
};

const std::vector<ShapePreset>& ShapePresets();

// NotFound listing the valid names.
absl::StatusOr<ShapePreset> FindShapePreset(std::string_view name);

}  // namespace kvbench

#endif  // KVBENCH_MODEL_PRESETS_H_
