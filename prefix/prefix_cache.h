// A prefix cache across requests: K/V of token prefixes that earlier requests computed, kept so a
// later request starting with the same tokens skips their prefill (vLLM's automatic prefix caching;
// SGLang's RadixAttention keeps the same information as a radix tree).
//
// Blocks: a sequence is cut into blocks of B tokens; only whole blocks are cached. A block is keyed
// by the hash chain of block_hash.h and confirmed by comparing its tokens and its parent block, so
// a hash collision can only cost a hit. Blocks form a tree (each block's parent is the block before
// it); sequences with a common prefix share the blocks of that prefix.
//
// References: Acquire() takes a reference on every block of the match for as long as a request uses
// it; Release() drops them. A referenced block is never evicted.
//
// Budget and eviction: every block is accounted block_tokens * bytes_per_token bytes; the total
// never exceeds budget_bytes. To make room, Insert() evicts unreferenced *leaf* blocks (no cached
// child), one at a time, by rule:
//   lru  the least recently used (a use is a request acquiring the block, or inserting it)
//   lfu  the least frequently used (fewest uses), ties by least recent
// Evicting leaves only keeps every cached block reachable from the root (a child is never
// orphaned); it costs nothing in LRU order, since using a block uses its parents too (a parent is
// never older than its child), and in LFU order a parent has at least its children's count.
//
// Payload: each block holds block_tokens * floats_per_token floats that the caller fills on insert
// (the serving loop keeps the decoder's f32 K/V rows there; see serve.h). Accounting (bytes) and
// payload are separate on purpose: the budget can count blocks as a quantized store would hold
// them while the payload keeps what makes reuse exact.
#ifndef KVBENCH_PREFIX_PREFIX_CACHE_H_
#define KVBENCH_PREFIX_PREFIX_CACHE_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "prefix/block_hash.h"

namespace kvbench {

enum class EvictionRule { kLru, kLfu };

// "lru" | "lfu"; InvalidArgument naming the value otherwise.
absl::StatusOr<EvictionRule> ParseEvictionRule(std::string_view name);
const char* EvictionRuleName(EvictionRule rule);

struct PrefixCacheOptions {
  int block_tokens = 16;         // B
  uint64_t budget_bytes = 0;     // accounted bytes of all cached blocks, at most
  uint64_t bytes_per_token = 1;  // accounted bytes of one cached token (all layers, K and V)
  int floats_per_token = 0;      // payload floats kept per token (0: accounting only)
  EvictionRule eviction = EvictionRule::kLru;
  BlockHashFn hash = HashBlock;
};

using BlockId = int32_t;
inline constexpr BlockId kNoBlock = -1;

struct PrefixMatch {
  std::vector<BlockId> blocks;  // the matched chain, first block first
  int tokens = 0;               // blocks.size() * block_tokens
};

struct InsertResult {
  int blocks_added = 0;    // blocks newly cached
  int blocks_present = 0;  // blocks that were cached already
  int blocks_refused = 0;  // whole blocks left uncached: no room (all else referenced) or collision
  int evictions = 0;
};

struct PrefixCacheStats {
  uint64_t bytes_used = 0;
  uint64_t bytes_peak = 0;
  int64_t blocks = 0;        // cached now
  int64_t blocks_added = 0;  // ever
  int64_t evictions = 0;
  int64_t collisions = 0;  // keys found holding other tokens (lookups and inserts)
};

class PrefixCache {
 public:
  // InvalidArgument for block_tokens < 1, bytes_per_token < 1, floats_per_token < 0, or a block
  // whose bytes or payload size overflows.
  static absl::StatusOr<PrefixCache> Create(const PrefixCacheOptions& options);

  // The longest chain of cached blocks that is a prefix of `tokens` (whole blocks of `tokens`
  // only). No side effects.
  PrefixMatch Lookup(absl::Span<const int> tokens) const;

  // Lookup, then one reference on each matched block and a recorded use (LRU time, LFU count).
  PrefixMatch Acquire(absl::Span<const int> tokens);
  // Drops one reference from each block (each must be referenced: checked).
  void Release(absl::Span<const BlockId> blocks);

  // Caches the whole blocks of `tokens` that are not cached yet, first to last. fill(i, payload)
  // writes the payload of block i (tokens i*B .. (i+1)*B) into a span of block_tokens *
  // floats_per_token floats. Makes room by eviction when allow_evict (else stops when the budget is
  // full); stops at the first block that cannot be cached, as its successors would be unreachable.
  using FillFn = std::function<void(int block_index, absl::Span<float> payload)>;
  InsertResult Insert(absl::Span<const int> tokens, const FillFn& fill, bool allow_evict = true);

  // A cached block's payload and tokens (id from a PrefixMatch held by reference).
  absl::Span<const float> payload(BlockId id) const;
  absl::Span<const int> tokens(BlockId id) const;
  int ref_count(BlockId id) const;
  bool cached(BlockId id) const;

  // The evictable blocks (unreferenced leaves), next victim first.
  std::vector<BlockId> EvictionOrder() const;

  const PrefixCacheStats& stats() const { return stats_; }
  const PrefixCacheOptions& options() const { return options_; }
  uint64_t block_bytes() const { return block_bytes_; }

  // Checks (KVBENCH_CHECK) the bookkeeping: bytes == blocks * block_bytes <= budget, reference
  // and child counts, the index and the eviction set agree. For tests; O(blocks).
  void CheckInvariants() const;

 private:
  struct Block {
    bool live = false;
    BlockKey key = 0;
    BlockId parent = kNoBlock;
    std::vector<int> tokens;  // (block_tokens)
    std::vector<float> data;  // (block_tokens, floats_per_token)
    int refs = 0;
    int children = 0;
    uint64_t uses = 0;      // LFU count
    uint64_t last_use = 0;  // LRU clock value
  };
  // Eviction order: (LFU count or 0, last use, id), smallest first.
  using EvictKey = std::tuple<uint64_t, uint64_t, BlockId>;

  explicit PrefixCache(const PrefixCacheOptions& options, uint64_t block_bytes);
  // The block that continues `parent` with `tokens`: its id, kNoBlock if none; sets *collision
  // when the key is held by other tokens.
  BlockId Find(BlockId parent, BlockKey key, absl::Span<const int> tokens, bool* collision) const;
  EvictKey OrderKey(const Block& b, BlockId id) const;
  bool Evictable(const Block& b) const { return b.live && b.refs == 0 && b.children == 0; }
  void Unlist(BlockId id);  // before changing refs/children/uses of a block
  void Relist(BlockId id);  // after
  void Use(BlockId id);
  void Evict(BlockId id);
  BlockId Allocate();

  PrefixCacheOptions options_;
  uint64_t block_bytes_ = 0;
  std::vector<Block> blocks_;
  std::vector<BlockId> free_;
  absl::flat_hash_map<BlockKey, BlockId> index_;
  std::set<EvictKey> evictable_;
  uint64_t clock_ = 0;
  PrefixCacheStats stats_;
};

}  // namespace kvbench

#endif  // KVBENCH_PREFIX_PREFIX_CACHE_H_
