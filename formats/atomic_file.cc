#include "formats/atomic_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace kvbench {

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  namespace fs = std::filesystem;
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
