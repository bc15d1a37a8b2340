// Keys of prefix-cache blocks: a hash chain, as vLLM's automatic prefix caching keys its blocks.
//
//   key(block 0) = H(kRootKey, tokens[0 .. B))
//   key(block i) = H(key(block i - 1), tokens[i*B .. (i+1)*B))
//
// so a block's key names the whole prefix that ends with it, not just its own B tokens. H mixes
// each 32-bit token into a 64-bit state with a multiply-xorshift round (splitmix64's finaliser);
// it is fast and well spread, not cryptographic. A key is therefore only a candidate: the cache
// confirms a match by comparing the block's tokens and its parent (prefix_cache.h), so a hash
// collision can cost a hit, never a wrong answer.
#ifndef KVBENCH_PREFIX_BLOCK_HASH_H_
#define KVBENCH_PREFIX_BLOCK_HASH_H_

#include <cstdint>

#include "absl/types/span.h"

namespace kvbench {

using BlockKey = uint64_t;

// The parent key of a sequence's first block.
inline constexpr BlockKey kRootKey = 0x6b7662656e636821ull;  // "kvbench!"

// A block hash function: (parent key, the block's tokens) -> key. Tests substitute a weak one to
// force collisions.
using BlockHashFn = BlockKey (*)(BlockKey parent, absl::Span<const int> tokens);

// The default H.
BlockKey HashBlock(BlockKey parent, absl::Span<const int> tokens);

}  // namespace kvbench

#endif  // KVBENCH_PREFIX_BLOCK_HASH_H_
