#include "prefix/block_hash.h"

namespace kvbench {
namespace {

uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

BlockKey HashBlock(BlockKey parent, absl::Span<const int> tokens) {
  uint64_t h = Mix(parent ^ (0x9e3779b97f4a7c15ull * (tokens.size() + 1)));
  for (int t : tokens) h = Mix(h + 0x9e3779b97f4a7c15ull + static_cast<uint32_t>(t));
  return h;
}

}  // namespace kvbench
