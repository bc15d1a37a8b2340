// Reading a whole input file (experiments, datasets, CSVs, traces, JSON, vocabularies) into memory:
// the one place that decides what an input may be. Only regular files are read, so a FIFO or a
// device such as /dev/zero is an error instead of a read that blocks or never ends.
#ifndef KVBENCH_FORMATS_READ_FILE_H_
#define KVBENCH_FORMATS_READ_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvbench {

// The contents of `path`. `what` names the file in errors ("cannot read experiment x.yaml: ...").
// NotFound only when it does not exist; PermissionDenied when it may not be read, another code for
// any other failure to open it; InvalidArgument when it is not a regular file, DataLoss when the
// read stops short.
absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what = "");

}  // namespace kvbench

#endif  // KVBENCH_FORMATS_READ_FILE_H_
