// PrefixCache on hand-made token sequences: whole-block matching, sharing, collision checks by
// token comparison, the byte budget, references pinning blocks, and the LRU/LFU eviction order.
#include "prefix/prefix_cache.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvbench {
namespace {

using ::testing::ElementsAre;

PrefixCache MakeCache(int block_tokens, int budget_blocks, EvictionRule rule = EvictionRule::kLru,
                      int floats_per_token = 0, BlockHashFn hash = HashBlock) {
  auto c =
      PrefixCache::Create({.block_tokens = block_tokens,
                           .budget_bytes = static_cast<uint64_t>(budget_blocks) * block_tokens * 10,
                           .bytes_per_token = 10,
                           .floats_per_token = floats_per_token,
                           .eviction = rule,
                           .hash = hash});
  EXPECT_TRUE(c.ok()) << c.status();
  return *std::move(c);
}

std::vector<int> Range(int begin, int end) {
  std::vector<int> v(end - begin);
  std::iota(v.begin(), v.end(), begin);
  return v;
}

// Acquire + Release: one recorded use of the match.
PrefixMatch Use(PrefixCache& c, const std::vector<int>& tokens) {
  PrefixMatch m = c.Acquire(tokens);
  c.Release(m.blocks);
  return m;
}

TEST(PrefixCacheTest, CreateRejectsBadOptions) {
  EXPECT_EQ(PrefixCache::Create({.block_tokens = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PrefixCache::Create({.block_tokens = 4, .bytes_per_token = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PrefixCache::Create({.block_tokens = 1 << 20, .bytes_per_token = uint64_t{1} << 50})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEvictionRule("lfu").value(), EvictionRule::kLfu);
  EXPECT_EQ(ParseEvictionRule("fifo").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PrefixCacheTest, MatchesWholeBlocksOnly) {
  PrefixCache c = MakeCache(4, 100);
  const InsertResult r = c.Insert(Range(0, 10), nullptr);  // blocks [0..4) [4..8); 8, 9 left out
  EXPECT_EQ(r.blocks_added, 2);
  EXPECT_EQ(r.blocks_refused, 0);
  EXPECT_EQ(c.stats().blocks, 2);
  EXPECT_EQ(c.stats().bytes_used, 2u * 4 * 10);
  EXPECT_EQ(c.Lookup(Range(0, 8)).tokens, 8);
  EXPECT_EQ(c.Lookup(Range(0, 7)).tokens, 4);  // the second block is not whole
  EXPECT_EQ(c.Lookup(Range(0, 20)).tokens, 8);
  EXPECT_EQ(c.Lookup(Range(1, 9)).tokens, 0);  // same tokens, other offset
  std::vector<int> other = Range(0, 8);
  other[5] = 99;
  EXPECT_EQ(c.Lookup(other).tokens, 4);
  // A block equal to block 1 but after another first block is a different block.
  std::vector<int> moved = {9, 9, 9, 9, 4, 5, 6, 7};
  EXPECT_EQ(c.Lookup(moved).tokens, 0);
  c.CheckInvariants();
}

TEST(PrefixCacheTest, SequencesShareTheirCommonPrefix) {
  PrefixCache c = MakeCache(2, 100, EvictionRule::kLru, /*floats_per_token=*/1);
  auto fill = [](int i, absl::Span<float> p) {
    for (size_t j = 0; j < p.size(); ++j) p[j] = 100.0f * i + j;
  };
  std::vector<int> a = {1, 2, 3, 4, 5, 6};
  std::vector<int> b = {1, 2, 3, 4, 7, 8};
  EXPECT_EQ(c.Insert(a, fill).blocks_added, 3);
  const InsertResult rb = c.Insert(b, fill);
  EXPECT_EQ(rb.blocks_present, 2);
  EXPECT_EQ(rb.blocks_added, 1);
  EXPECT_EQ(c.stats().blocks, 4);
  const PrefixMatch m = c.Lookup(b);
  ASSERT_EQ(m.blocks.size(), 3u);
  EXPECT_THAT(c.tokens(m.blocks[2]), ElementsAre(7, 8));
  EXPECT_THAT(c.payload(m.blocks[2]), ElementsAre(200.0f, 201.0f));
  EXPECT_THAT(c.payload(m.blocks[0]), ElementsAre(0.0f, 1.0f));
  EXPECT_EQ(c.Lookup(a).blocks[1], m.blocks[1]);  // one shared block
  c.CheckInvariants();
}

BlockKey ConstantHash(BlockKey, absl::Span<const int>) { return 42; }

TEST(PrefixCacheTest, CollisionsAreCaughtByComparingTokens) {
  PrefixCache c = MakeCache(2, 100, EvictionRule::kLru, 0, ConstantHash);
  EXPECT_EQ(c.Insert({1, 2, 3, 4}, nullptr).blocks_added, 1);  // block 2 collides with block 1
  EXPECT_EQ(c.stats().collisions, 1);
  EXPECT_EQ(c.Lookup({1, 2, 3, 4}).tokens, 2);
  EXPECT_EQ(c.Lookup({5, 6}).tokens, 0);  // same key, other tokens: a miss, not a wrong hit
  const InsertResult r = c.Insert({5, 6}, nullptr);
  EXPECT_EQ(r.blocks_added, 0);
  EXPECT_EQ(r.blocks_refused, 1);
  EXPECT_EQ(c.Acquire({5, 6}).tokens, 0);
  EXPECT_EQ(c.stats().collisions, 3);
  c.CheckInvariants();
}

TEST(PrefixCacheTest, OnlyUnreferencedLeavesAreEvictable) {
  PrefixCache c = MakeCache(1, 100);
  c.Insert({1, 2, 3}, nullptr);  // chain 1 -> 2 -> 3: the oldest block is 1, but only 3 is a leaf
  const PrefixMatch m = c.Lookup({1, 2, 3});
  EXPECT_THAT(c.EvictionOrder(), ElementsAre(m.blocks[2]));
  const PrefixMatch held = c.Acquire({1, 2, 3});
  EXPECT_TRUE(c.EvictionOrder().empty());
  EXPECT_EQ(c.ref_count(held.blocks[0]), 1);
  c.Release(held.blocks);
  EXPECT_THAT(c.EvictionOrder(), ElementsAre(m.blocks[2]));
  c.CheckInvariants();
}

TEST(PrefixCacheTest, BlocksInUseAreNeverEvicted) {
  PrefixCache c = MakeCache(2, 4, EvictionRule::kLru, 1);
  auto fill = [](int i, absl::Span<float> p) { p[0] = p[1] = static_cast<float>(i + 1); };
  c.Insert({1, 1, 2, 2, 3, 3}, fill);
  const PrefixMatch running = c.Acquire({1, 1, 2, 2, 3, 3});  // a request using 3 blocks
  ASSERT_EQ(running.tokens, 6);
  // Other sequences compete for the one remaining block: they may only evict each other.
  for (int s = 10; s < 30; ++s) {
    const InsertResult r = c.Insert({s, s, s + 1, s + 1}, fill);
    EXPECT_EQ(r.blocks_added, 1) << s;
    EXPECT_EQ(r.blocks_refused, 1) << s;  // its second block would need a fifth
    c.CheckInvariants();
    for (size_t i = 0; i < running.blocks.size(); ++i) {
      ASSERT_TRUE(c.cached(running.blocks[i]));
      EXPECT_THAT(c.payload(running.blocks[i]), ElementsAre(i + 1.0f, i + 1.0f));
    }
  }
  EXPECT_EQ(c.stats().evictions, 19);
  // Everything referenced and the budget full: nothing can be added.
  const PrefixMatch second = c.Acquire({29, 29});
  EXPECT_EQ(second.tokens, 2);
  const InsertResult none = c.Insert({50, 50}, fill);
  EXPECT_EQ(none.blocks_added, 0);
  EXPECT_EQ(none.evictions, 0);
  c.Release(second.blocks);
  c.Release(running.blocks);
  // Released: the chain is evictable again, leaf first.
  const InsertResult r = c.Insert({60, 60, 61, 61, 62, 62, 63, 63}, fill);
  EXPECT_EQ(r.blocks_added, 4);
  EXPECT_EQ(c.Lookup({1, 1, 2, 2, 3, 3}).tokens, 0);
  c.CheckInvariants();
}

TEST(PrefixCacheTest, InsertWithoutEvictionStopsAtTheBudget) {
  PrefixCache c = MakeCache(1, 2);
  EXPECT_EQ(c.Insert({1, 2, 3}, nullptr, /*allow_evict=*/false).blocks_refused, 1);
  EXPECT_EQ(c.Insert({7}, nullptr, false).blocks_added, 0);
  EXPECT_EQ(c.stats().evictions, 0);
  EXPECT_EQ(c.Lookup({1, 2, 3}).tokens, 2);
}

// The hand-made sequence that tells LRU from LFU: C is used often but long ago.
//   insert A, B, C      uses A1 B1 C1, last use A@1 B@2 C@3
//   use C, C, then A    uses A2 B1 C3, last use B@2 C@5 A@6
//   LRU order: B C A     LFU order: B A C
//   insert D: both evict B.  insert E: LRU evicts C (least recent), LFU evicts D (one use, newest)
TEST(PrefixCacheTest, LruAndLfuEvictInTheirOrder) {
  for (EvictionRule rule : {EvictionRule::kLru, EvictionRule::kLfu}) {
    SCOPED_TRACE(EvictionRuleName(rule));
    PrefixCache c = MakeCache(1, 3, rule);
    const int A = 1, B = 2, C = 3, D = 4, E = 5;
    for (int t : {A, B, C}) c.Insert({t}, nullptr);
    Use(c, {C});
    Use(c, {C});
    Use(c, {A});
    auto id = [&](int t) { return c.Lookup({t}).blocks.at(0); };
    if (rule == EvictionRule::kLru) {
      EXPECT_THAT(c.EvictionOrder(), ElementsAre(id(B), id(C), id(A)));
    } else {
      EXPECT_THAT(c.EvictionOrder(), ElementsAre(id(B), id(A), id(C)));
    }
    EXPECT_EQ(c.Insert({D}, nullptr).evictions, 1);
    EXPECT_EQ(c.Lookup({B}).tokens, 0);
    EXPECT_EQ(c.Insert({E}, nullptr).evictions, 1);
    EXPECT_EQ(c.Lookup({A}).tokens, 1);
    EXPECT_EQ(c.Lookup({E}).tokens, 1);
    if (rule == EvictionRule::kLru) {
      EXPECT_EQ(c.Lookup({C}).tokens, 0);
      EXPECT_EQ(c.Lookup({D}).tokens, 1);
    } else {
      EXPECT_EQ(c.Lookup({C}).tokens, 1);
      EXPECT_EQ(c.Lookup({D}).tokens, 0);
    }
    c.CheckInvariants();
  }
}

// Random traffic under a tight budget: the invariants (bytes <= budget among them) after every
// operation, and every hit returns the payload that was stored for exactly those tokens.
TEST(PrefixCacheTest, RandomTrafficKeepsBudgetAndPayloads) {
  for (EvictionRule rule : {EvictionRule::kLru, EvictionRule::kLfu}) {
    PrefixCache c = MakeCache(2, 7, rule, 1);
    std::mt19937 rng(7);
    std::vector<PrefixMatch> held;
    // The payload of a block is a function of its whole prefix, as K/V are.
    auto prefix_value = [](const std::vector<int>& t, size_t end) {
      float v = 0;
      for (size_t i = 0; i < end; ++i) v = v * 3.0f + t[i] + 1.0f;
      return std::fmod(v, 1e6f);
    };
    for (int step = 0; step < 2000; ++step) {
      std::vector<int> seq(2 * (1 + rng() % 5));
      for (int& t : seq) t = rng() % 3;
      const int op = rng() % 4;
      if (op == 0 && !held.empty()) {
        c.Release(held.back().blocks);
        held.pop_back();
      } else if (op == 1 && held.size() < 2) {
        held.push_back(c.Acquire(seq));
      } else {
        c.Insert(seq, [&](int i, absl::Span<float> p) {
          p[0] = prefix_value(seq, 2 * i + 1);
          p[1] = prefix_value(seq, 2 * i + 2);
        });
      }
      c.CheckInvariants();
      ASSERT_LE(c.stats().bytes_used, c.options().budget_bytes);
      const PrefixMatch m = c.Lookup(seq);
      for (size_t i = 0; i < m.blocks.size(); ++i) {
        ASSERT_EQ(c.payload(m.blocks[i])[1], prefix_value(seq, 2 * i + 2));
      }
      for (const PrefixMatch& h : held) {
        for (BlockId b : h.blocks) ASSERT_TRUE(c.cached(b));
      }
    }
    EXPECT_GT(c.stats().evictions, 0);
  }
}

}  // namespace
}  // namespace kvbench
