// CompactRows against the obvious reference (copy the kept rows out in order), on every keep list
// of small sizes, plus the cost claims: a window moves nothing, sinks move only the sinks.
#include "stores/row_compaction.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace kvbench {
namespace {

struct Buffer {
  std::vector<int> rows;  // one int per row; the start moves like the stores' `begin`
  int begin = 0;
  int moved = 0;  // rows moved, summed over calls
};

std::vector<int> Apply(Buffer& b, const std::vector<int>& keep, int n) {
  b.begin += CompactRows(keep, n, [&](int dst, int src, int count) {
    std::memmove(&b.rows[b.begin + dst], &b.rows[b.begin + src], count * sizeof(int));
    b.moved += count;
  });
  return std::vector<int>(b.rows.begin() + b.begin, b.rows.begin() + b.begin + keep.size());
}

TEST(RowCompactionTest, EveryKeepListMatchesTheReference) {
  for (int n = 0; n <= 10; ++n) {
    for (int mask = 0; mask < (1 << n); ++mask) {
      std::vector<int> keep, want;
      for (int i = 0; i < n; ++i) {
        if (mask & (1 << i)) {
          keep.push_back(i);
          want.push_back(100 + i);
        }
      }
      Buffer b;
      for (int i = 0; i < n; ++i) b.rows.push_back(100 + i);
      ASSERT_EQ(Apply(b, keep, n), want) << "n " << n << " mask " << mask;
    }
  }
}

TEST(RowCompactionTest, WindowMovesNothingAndSinksMoveOnlyTheSinks) {
  Buffer window;
  for (int i = 0; i < 100; ++i) window.rows.push_back(i);
  std::vector<int> keep;
  for (int i = 1; i < 100; ++i) keep.push_back(i);  // drop the oldest
  Apply(window, keep, 100);
  EXPECT_EQ(window.moved, 0);
  EXPECT_EQ(window.begin, 1);

  Buffer sinks;
  for (int i = 0; i < 100; ++i) sinks.rows.push_back(i);
  keep = {0, 1, 2, 3};
  for (int i = 5; i < 100; ++i) keep.push_back(i);  // 4 sinks, drop the oldest after them
  const std::vector<int> got = Apply(sinks, keep, 100);
  EXPECT_EQ(sinks.moved, 4);
  EXPECT_EQ(got[3], 3);
  EXPECT_EQ(got[4], 5);
}

}  // namespace
}  // namespace kvbench
