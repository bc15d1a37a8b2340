// An advisory lock on a sidecar file, held for the read-merge-write of a file several processes
// share (a results CSV that two sweeps append to): flock(2) on "<path>.lock", exclusive, blocking.
// The lock is released when the FileLock is destroyed (or the process dies: the kernel drops it,
// so a kill -9 never leaves a stale lock). Advisory: only writers that take it are serialised.
#ifndef KVBENCH_FORMATS_FILE_LOCK_H_
#define KVBENCH_FORMATS_FILE_LOCK_H_

#include <string>

#include "absl/status/statusor.h"

namespace kvbench {

class FileLock {
 public:
  // Blocks until the lock on `path` + ".lock" is held; creates the sidecar (and missing parent
  // folders) when needed. The sidecar is a regular file; a link or anything else there is
  // InvalidArgument (it is opened with O_NOFOLLOW, never replaced).
  static absl::StatusOr<FileLock> Acquire(const std::string& path);

  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}

  int fd_ = -1;
};

}  // namespace kvbench

#endif  // KVBENCH_FORMATS_FILE_LOCK_H_
