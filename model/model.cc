#include "model/model.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace kvbench {

std::byte* Model::Allocate(size_t n) {
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t alignment = n >= kHugePage ? kHugePage : 64;
  const size_t rounded = (std::max<size_t>(n, 1) + alignment - 1) / alignment * alignment;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(alignment, rounded));
  if (p == nullptr) throw std::bad_alloc();
  if (alignment == kHugePage) ::madvise(p, rounded, MADV_HUGEPAGE);  // a hint; failure is harmless
  std::memset(p, 0, rounded);
  owned.emplace_back(p);
  return p;
}

}  // namespace kvbench
