// std::vector storage aligned to a cache line. The MatMul and attention kernels read activations
// 32 or 64 bytes at a time; from a plain vector (16-byte aligned) every other such load straddles
// two cache lines, which on Zen 3 costs about 40% of the multi-vector MatMul's throughput.
#ifndef KVBENCH_BASE_ALIGNED_H_
#define KVBENCH_BASE_ALIGNED_H_

#include <cstddef>
#include <new>
#include <vector>

namespace kvbench {

inline constexpr size_t kCacheLine = 64;

template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kCacheLine)));
  }
  // The unsized aligned delete: clang 14 does not declare the sized one without
  // -fsized-deallocation, and the size only lets an allocator skip a lookup.
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(kCacheLine)); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const {
    return true;
  }
};

template <typename T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace kvbench

#endif  // KVBENCH_BASE_ALIGNED_H_
