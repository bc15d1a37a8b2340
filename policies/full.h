// full: keep every position. The reference every other policy is measured against.
//   keep(p) <=> true
#ifndef KVBENCH_POLICIES_FULL_H_
#define KVBENCH_POLICIES_FULL_H_

#include "policies/cache_policy.h"
#include "policies/policy_info.h"

namespace kvbench {

class FullPolicy : public CachePolicy {
 public:
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override {
    return false;
  }
};

PolicyInfo FullInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_FULL_H_
