// The rows of one (layer, KV head) in a store: fixed-size byte rows, oldest first, from a movable
// start. Dropping the oldest entries only advances the start; Compact moves the fewest bytes
// (row_compaction.h); Extend reclaims the dropped prefix before it doubles the buffer. Used by the
// f32 store and the encoded row stores, which differ only in what a row's bytes mean.
#ifndef KVBENCH_STORES_ROW_BUFFER_H_
#define KVBENCH_STORES_ROW_BUFFER_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/types/span.h"
#include "base/aligned.h"
#include "stores/row_compaction.h"

namespace kvbench {

class RowBuffer {
 public:
  explicit RowBuffer(size_t row_bytes = 0) : row_bytes_(row_bytes) {}

  int size() const { return n_; }
  size_t capacity_bytes() const { return buf_.size(); }
  const uint8_t* row(int j) const {
    return buf_.data() + (static_cast<size_t>(begin_) + j) * row_bytes_;
  }
  uint8_t* row(int j) { return buf_.data() + (static_cast<size_t>(begin_) + j) * row_bytes_; }

  // Makes `count` more rows live at the end and returns the first; adds the bytes newly
  // allocated (if the buffer had to grow) to *grown_bytes.
  uint8_t* Extend(int count, uint64_t* grown_bytes) {
    const size_t live = static_cast<size_t>(n_) + count;
    if ((begin_ + live) * row_bytes_ > buf_.size()) {
      if (live * row_bytes_ * 2 <= buf_.size()) {
        // Plenty of room once the dropped prefix is reclaimed: slide the live rows down.
        std::memmove(buf_.data(), row(0), static_cast<size_t>(n_) * row_bytes_);
      } else {
        AlignedVector<uint8_t> grown(std::max<size_t>(2 * live, 16) * row_bytes_);
        if (n_ > 0) std::memcpy(grown.data(), row(0), static_cast<size_t>(n_) * row_bytes_);
        *grown_bytes += grown.size() - buf_.size();
        buf_.swap(grown);
      }
      begin_ = 0;
    }
    uint8_t* first = row(n_);
    n_ += count;
    return first;
  }

  // Keeps the rows at `keep` (strictly increasing indices), in order.
  void Compact(absl::Span<const int> keep) {
    begin_ += CompactRows(keep, n_, [&](int dst, int src, int count) {
      std::memmove(row(dst), row(src), count * row_bytes_);
    });
    n_ = static_cast<int>(keep.size());
  }

 private:
  size_t row_bytes_;
  AlignedVector<uint8_t> buf_;  // (capacity, row_bytes), cache-line aligned for the kernels
  int begin_ = 0;               // first live row
  int n_ = 0;                   // live rows
};

}  // namespace kvbench

#endif  // KVBENCH_STORES_ROW_BUFFER_H_
