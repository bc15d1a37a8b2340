#include "policies/none.h"

#include <memory>

namespace kvbench {

PolicyInfo NoneInfo() {
  return {.name = "none",
          .description = "no KV cache: recompute the whole prefix every step (what caching buys)",
          .paper = "",
          .params = {},
          .make = [](const Params&, const CacheShape&) -> PolicyOr {
            return std::make_unique<NonePolicy>();
          }};
}

}  // namespace kvbench
