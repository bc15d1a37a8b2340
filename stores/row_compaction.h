// In-place compaction of rows kept contiguously from a movable start (the f32 store and the encoded
// row stores): applies a policy's keep list while moving as few bytes as possible.
//
//   window  (drop the oldest)          -> nothing moves, the start advances
//   sinks   (drop the first after the n_sink sinks) -> the n_sink sink rows move up by one
//   others                             -> each run of consecutive kept rows moves down once
#ifndef KVBENCH_STORES_ROW_COMPACTION_H_
#define KVBENCH_STORES_ROW_COMPACTION_H_

#include "absl/types/span.h"

namespace kvbench {

// `keep`: strictly increasing indices into rows [0, n). move(dst, src, count) must move `count`
// rows from index src to index dst (overlapping ranges allowed, memmove semantics). Returns how
// many rows the start advances; kept row i then sits at index i from the new start.
template <typename Move>
int CompactRows(absl::Span<const int> keep, int n, Move move) {
  const int m = static_cast<int>(keep.size());
  int a = 0;  // rows [0, a) are kept where they are
  while (a < m && keep[a] == a) ++a;
  if (a == m) return 0;
  const int b = keep[a];
  if (keep.back() == n - 1 && keep.back() - b == m - 1 - a) {
    // One gap [a, b): move whichever side is shorter.
    if (a <= n - b) {
      if (a > 0) move(b - a, 0, a);
      return b - a;
    }
    move(a, b, n - b);
    return 0;
  }
  int dst = a;
  for (int i = a; i < m;) {
    int j = i;
    while (j + 1 < m && keep[j + 1] == keep[j] + 1) ++j;
    move(dst, keep[i], j - i + 1);
    dst += j - i + 1;
    i = j + 1;
  }
  return 0;
}

}  // namespace kvbench

#endif  // KVBENCH_STORES_ROW_COMPACTION_H_
