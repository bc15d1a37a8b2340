// none: no KV cache at all. Every step recomputes K and V of the whole prefix (the caller feeds
// the full history again, see model/session.h); what caching buys is measured against this.
//   keep(p) <=> false   (after every step)
#ifndef KVBENCH_POLICIES_NONE_H_
#define KVBENCH_POLICIES_NONE_H_

#include "policies/cache_policy.h"
#include "policies/policy_info.h"

namespace kvbench {

class NonePolicy : public CachePolicy {
 public:
  bool retains_entries() const override { return false; }
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override {
    keep->clear();
    return true;
  }
  int64_t max_entries(int layer) const override { return 0; }
};

PolicyInfo NoneInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_NONE_H_
