#include "prefix/prefix_cache.h"

#include <algorithm>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace kvbench {

absl::StatusOr<EvictionRule> ParseEvictionRule(std::string_view name) {
  if (name == "lru") return EvictionRule::kLru;
  if (name == "lfu") return EvictionRule::kLfu;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown eviction rule '", std::string(name), "' (valid: lru, lfu)"));
}

const char* EvictionRuleName(EvictionRule rule) {
  return rule == EvictionRule::kLru ? "lru" : "lfu";
}

absl::StatusOr<PrefixCache> PrefixCache::Create(const PrefixCacheOptions& options) {
  if (options.block_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefix cache: block_tokens must be >= 1, got ", options.block_tokens));
  }
  if (options.bytes_per_token < 1) {
    return absl::InvalidArgumentError("prefix cache: bytes_per_token must be >= 1, got 0");
  }
  if (options.floats_per_token < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prefix cache: floats_per_token must be >= 0, got ", options.floats_per_token));
  }
  const uint64_t b = static_cast<uint64_t>(options.block_tokens);
  if (options.bytes_per_token > std::numeric_limits<uint64_t>::max() / b) {
    return absl::InvalidArgumentError(absl::StrCat("prefix cache: block bytes overflow (",
                                                   options.block_tokens, " tokens x ",
                                                   options.bytes_per_token, " bytes)"));
  }
  if (static_cast<uint64_t>(options.floats_per_token) * b > (uint64_t{1} << 40)) {
    return absl::InvalidArgumentError(absl::StrCat("prefix cache: block payload too large (",
                                                   options.block_tokens, " tokens x ",
                                                   options.floats_per_token, " floats)"));
  }
  if (options.hash == nullptr)
    return absl::InvalidArgumentError("prefix cache: null hash function");
  return PrefixCache(options, options.bytes_per_token * b);
}

PrefixCache::PrefixCache(const PrefixCacheOptions& options, uint64_t block_bytes)
    : options_(options), block_bytes_(block_bytes) {}

BlockId PrefixCache::Find(BlockId parent, BlockKey key, absl::Span<const int> tokens,
                          bool* collision) const {
  *collision = false;
  const auto it = index_.find(key);
  if (it == index_.end()) return kNoBlock;
  const Block& b = blocks_[it->second];
  if (b.parent != parent ||
      !std::equal(b.tokens.begin(), b.tokens.end(), tokens.begin(), tokens.end())) {
    *collision = true;
    return kNoBlock;
  }
  return it->second;
}

PrefixMatch PrefixCache::Lookup(absl::Span<const int> tokens) const {
  PrefixMatch m;
  const size_t bt = options_.block_tokens;
  BlockId parent = kNoBlock;
  BlockKey key = kRootKey;
  for (size_t i = 0; (i + 1) * bt <= tokens.size(); ++i) {
    const absl::Span<const int> block = tokens.subspan(i * bt, bt);
    key = options_.hash(key, block);
    bool collision = false;
    const BlockId id = Find(parent, key, block, &collision);
    if (id == kNoBlock) break;
    m.blocks.push_back(id);
    parent = id;
  }
  m.tokens = static_cast<int>(m.blocks.size() * bt);
  return m;
}

PrefixCache::EvictKey PrefixCache::OrderKey(const Block& b, BlockId id) const {
  return {options_.eviction == EvictionRule::kLfu ? b.uses : 0, b.last_use, id};
}

void PrefixCache::Unlist(BlockId id) {
  const Block& b = blocks_[id];
  if (Evictable(b)) evictable_.erase(OrderKey(b, id));
}

void PrefixCache::Relist(BlockId id) {
  const Block& b = blocks_[id];
  if (Evictable(b)) evictable_.insert(OrderKey(b, id));
}

void PrefixCache::Use(BlockId id) {
  Block& b = blocks_[id];
  b.uses += 1;
  b.last_use = ++clock_;
}

PrefixMatch PrefixCache::Acquire(absl::Span<const int> tokens) {
  PrefixMatch m = Lookup(tokens);
  for (BlockId id : m.blocks) {
    Unlist(id);
    Use(id);
    blocks_[id].refs += 1;
  }
  // A collision right after the match is worth counting (it cost this request a block).
  const size_t bt = options_.block_tokens, n = m.blocks.size();
  if ((n + 1) * bt <= tokens.size()) {
    const BlockKey parent_key = n == 0 ? kRootKey : blocks_[m.blocks.back()].key;
    const absl::Span<const int> block = tokens.subspan(n * bt, bt);
    bool collision = false;
    Find(n == 0 ? kNoBlock : m.blocks.back(), options_.hash(parent_key, block), block, &collision);
    if (collision) ++stats_.collisions;
  }
  return m;
}

void PrefixCache::Release(absl::Span<const BlockId> ids) {
  for (BlockId id : ids) {
    KVBENCH_CHECK(id >= 0 && id < static_cast<BlockId>(blocks_.size()) && blocks_[id].live &&
                      blocks_[id].refs > 0,
                  "prefix cache: release of block %d, which holds no reference", id);
    blocks_[id].refs -= 1;
    Relist(id);
  }
}

BlockId PrefixCache::Allocate() {
  if (!free_.empty()) {
    const BlockId id = free_.back();
    free_.pop_back();
    return id;
  }
  blocks_.emplace_back();
  return static_cast<BlockId>(blocks_.size() - 1);
}

void PrefixCache::Evict(BlockId id) {
  Block& b = blocks_[id];
  KVBENCH_CHECK(Evictable(b), "prefix cache: evicting block %d (refs %d, children %d)", id, b.refs,
                b.children);
  evictable_.erase(OrderKey(b, id));
  index_.erase(b.key);
  if (b.parent != kNoBlock) {
    Unlist(b.parent);
    blocks_[b.parent].children -= 1;
    Relist(b.parent);
  }
  b.live = false;
  b.refs = b.children = 0;
  free_.push_back(id);
  stats_.bytes_used -= block_bytes_;
  stats_.blocks -= 1;
  stats_.evictions += 1;
}

InsertResult PrefixCache::Insert(absl::Span<const int> tokens, const FillFn& fill,
                                 bool allow_evict) {
  InsertResult r;
  const size_t bt = options_.block_tokens;
  const size_t n_blocks = tokens.size() / bt;
  // The chain walked so far is pinned (one reference each) so that making room for block i can
  // never evict blocks 0 .. i-1.
  std::vector<BlockId> pinned;
  BlockId parent = kNoBlock;
  BlockKey key = kRootKey;
  size_t i = 0;
  for (; i < n_blocks; ++i) {
    const absl::Span<const int> block = tokens.subspan(i * bt, bt);
    key = options_.hash(key, block);
    bool collision = false;
    BlockId id = Find(parent, key, block, &collision);
    if (collision) {
      ++stats_.collisions;
      break;
    }
    if (id == kNoBlock) {
      while (stats_.bytes_used + block_bytes_ > options_.budget_bytes && allow_evict &&
             !evictable_.empty()) {
        Evict(std::get<2>(*evictable_.begin()));
        ++r.evictions;
      }
      if (stats_.bytes_used + block_bytes_ > options_.budget_bytes) break;
      id = Allocate();
      Block& b = blocks_[id];
      b.live = true;
      b.key = key;
      b.parent = parent;
      b.tokens.assign(block.begin(), block.end());
      b.data.assign(bt * static_cast<size_t>(options_.floats_per_token), 0.0f);
      b.refs = b.children = 0;
      b.uses = 0;
      Use(id);
      index_.emplace(key, id);
      if (parent != kNoBlock) {
        Unlist(parent);
        blocks_[parent].children += 1;
        Relist(parent);
      }
      if (fill) fill(static_cast<int>(i), absl::MakeSpan(b.data));
      stats_.bytes_used += block_bytes_;
      stats_.bytes_peak = std::max(stats_.bytes_peak, stats_.bytes_used);
      stats_.blocks += 1;
      stats_.blocks_added += 1;
      ++r.blocks_added;
    } else {
      ++r.blocks_present;
      Unlist(id);
    }
    blocks_[id].refs += 1;  // pin (listed state updated by Release below)
    pinned.push_back(id);
    parent = id;
  }
  r.blocks_refused = static_cast<int>(n_blocks - i);
  Release(pinned);
  return r;
}

absl::Span<const float> PrefixCache::payload(BlockId id) const {
  KVBENCH_CHECK(cached(id), "prefix cache: block %d is not cached", id);
  return blocks_[id].data;
}

absl::Span<const int> PrefixCache::tokens(BlockId id) const {
  KVBENCH_CHECK(cached(id), "prefix cache: block %d is not cached", id);
  return blocks_[id].tokens;
}

int PrefixCache::ref_count(BlockId id) const {
  KVBENCH_CHECK(cached(id), "prefix cache: block %d is not cached", id);
  return blocks_[id].refs;
}

bool PrefixCache::cached(BlockId id) const {
  return id >= 0 && id < static_cast<BlockId>(blocks_.size()) && blocks_[id].live;
}

std::vector<BlockId> PrefixCache::EvictionOrder() const {
  std::vector<BlockId> out;
  for (const EvictKey& k : evictable_) out.push_back(std::get<2>(k));
  return out;
}

void PrefixCache::CheckInvariants() const {
  int64_t live = 0;
  std::vector<int> children(blocks_.size(), 0);
  size_t evictable = 0;
  for (size_t id = 0; id < blocks_.size(); ++id) {
    const Block& b = blocks_[id];
    if (!b.live) continue;
    ++live;
    KVBENCH_CHECK(b.refs >= 0, "block %zu has %d references", id, b.refs);
    if (b.parent != kNoBlock) {
      KVBENCH_CHECK(b.parent >= 0 && b.parent < static_cast<BlockId>(blocks_.size()) &&
                        blocks_[b.parent].live,
                    "block %zu has an evicted parent %d", id, b.parent);
      children[b.parent] += 1;
    }
    const auto it = index_.find(b.key);
    KVBENCH_CHECK(it != index_.end() && it->second == static_cast<BlockId>(id),
                  "block %zu is not indexed under its key", id);
    KVBENCH_CHECK(b.tokens.size() == static_cast<size_t>(options_.block_tokens));
    if (Evictable(b)) {
      ++evictable;
      KVBENCH_CHECK(evictable_.count(OrderKey(b, static_cast<BlockId>(id))) == 1,
                    "evictable block %zu is not listed", id);
    }
  }
  for (size_t id = 0; id < blocks_.size(); ++id) {
    if (blocks_[id].live) {
      KVBENCH_CHECK(children[id] == blocks_[id].children, "block %zu: %d children counted, %d held",
                    id, children[id], blocks_[id].children);
    }
  }
  KVBENCH_CHECK(evictable == evictable_.size(), "%zu evictable blocks, %zu listed", evictable,
                evictable_.size());
  KVBENCH_CHECK(static_cast<int64_t>(index_.size()) == live && live == stats_.blocks);
  KVBENCH_CHECK(stats_.bytes_used == static_cast<uint64_t>(live) * block_bytes_);
  KVBENCH_CHECK(stats_.bytes_used <= options_.budget_bytes, "%llu bytes held over a budget of %llu",
                static_cast<unsigned long long>(stats_.bytes_used),
                static_cast<unsigned long long>(options_.budget_bytes));
  KVBENCH_CHECK(stats_.bytes_peak <= options_.budget_bytes);
}

}  // namespace kvbench
