// Writing a file so that a reader (or a run resumed after a kill) sees the old contents or the new,
// never a torn file: a temporary file in the same folder, flushed, then renamed over the target.
// Every output of kvbench (models, CSVs, traces, reports, .npy) goes through this one function.
#ifndef KVBENCH_FORMATS_ATOMIC_FILE_H_
#define KVBENCH_FORMATS_ATOMIC_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace kvbench {

// Creates missing parent folders. On failure nothing is left at `path` that was not there before.
// Refuses (CheckOutputPath) to replace anything but a regular file.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

// OK when `path` is a regular file or does not exist yet. A folder, a device (/dev/full,
// /dev/null), a FIFO or a symbolic link is InvalidArgument naming what it is: renaming a file over
// it would replace the device node or the link (as root, the system's), never write through it.
// Callers that write after long work check it first, so a bad output fails before the work.
absl::Status CheckOutputPath(const std::string& path);

}  // namespace kvbench

#endif  // KVBENCH_FORMATS_ATOMIC_FILE_H_
