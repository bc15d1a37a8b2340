#include "policies/full.h"

#include <memory>

namespace kvbench {

PolicyInfo FullInfo() {
  return {.name = "full",
          .description = "keep every position: the reference",
          .paper = "",
          .params = {},
          .make = [](const Params&, const CacheShape&) -> PolicyOr {
            return std::make_unique<FullPolicy>();
          }};
}

}  // namespace kvbench
