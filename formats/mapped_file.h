// A read-only memory mapping of a whole file. Model weights point into it, so F32 (and
// F16/BF16/Q8_0) tensors are never copied: the page cache is the only copy.
#ifndef KVBENCH_FORMATS_MAPPED_FILE_H_
#define KVBENCH_FORMATS_MAPPED_FILE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace kvbench {

class MappedFile {
 public:
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const std::byte* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const std::byte* data_;
  size_t size_;
};

}  // namespace kvbench

#endif  // KVBENCH_FORMATS_MAPPED_FILE_H_
