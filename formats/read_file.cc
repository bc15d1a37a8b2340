#include "formats/read_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace kvbench {

namespace {

// Only a path that does not exist is NotFound: a caller may take that for "nothing there yet" (a
// results CSV), so a file it may not read (EACCES) or cannot reach is another code, never that.
absl::Status OpenError(int error, const std::string& name) {
  const std::string message = absl::StrCat("cannot read ", name, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::FailedPreconditionError(message);
  }
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  const std::string name = what.empty() ? path : absl::StrCat(what, " ", path);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return OpenError(errno, name);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", name, ": not a regular file"));
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return OpenError(errno != 0 ? errno : EIO, name);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", name, ": read failed"));
  return std::move(ss).str();
}

}  // namespace kvbench
