#include "formats/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace kvbench {

absl::Status CheckOutputPath(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return absl::OkStatus();  // a new path
  const char* what = S_ISREG(st.st_mode)                          ? nullptr
                     : S_ISDIR(st.st_mode)                        ? "a folder"
                     : S_ISLNK(st.st_mode)                        ? "a symbolic link"
                     : S_ISFIFO(st.st_mode)                       ? "a FIFO"
                     : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                                                                  : "not a regular file";
  if (what == nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("output ", path, " is ", what,
                   ": kvbench writes a regular file (or a new path) and will not replace it"));
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  namespace fs = std::filesystem;
  if (absl::Status s = CheckOutputPath(path); !s.ok()) return s;
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec)
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create folder ", parent.string(), ": ", ec.message()));
  }
  // The pid keeps two concurrent writers of the same path from sharing a temporary file.
  const std::string tmp = absl::StrCat(path, ".", ::getpid(), ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write ", tmp));
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      out.close();
      fs::remove(tmp, ec);
      return absl::DataLossError(absl::StrCat("short write to ", tmp));
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    const std::string message = ec.message();
    fs::remove(tmp, ec);
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path, ": ", message));
  }
  return absl::OkStatus();
}

}  // namespace kvbench
