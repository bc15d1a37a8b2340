#include "harness/input_identity.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "base/version.h"
#include "formats/read_file.h"
#include "harness/dataset.h"
#include "harness/result_table.h"
#include "model/loader.h"

namespace kvbench {
namespace {

absl::StatusOr<std::string> FileIdentity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot stat ", path, ": ", std::strerror(errno)));
  }
  const int64_t mtime_ns =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return absl::StrCat(path, " size=", static_cast<int64_t>(st.st_size), " mtime=", mtime_ns);
}

}  // namespace

absl::StatusOr<std::string> DatasetIdentity(const DatasetSpec& spec) {
  if (spec.path.empty()) return std::string("dataset.content=inline");
  ASSIGN_OR_RETURN(const std::string path, ResolveDataPath(spec.path));
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path, "dataset"));
  return absl::StrCat("dataset.content=", HashHex(text));
}

absl::StatusOr<std::string> ModelFileIdentity(const std::string& name_or_path) {
  ASSIGN_OR_RETURN(const std::string path, ResolveModelPath(name_or_path));
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    ASSIGN_OR_RETURN(const std::string file, FileIdentity(path));
    return absl::StrCat("model.file=", file);
  }
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec)) files.push_back(entry.path().string());
  }
  if (ec) return absl::NotFoundError(absl::StrCat("cannot list ", path, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  std::vector<std::string> identities;
  for (const std::string& file : files) {
    ASSIGN_OR_RETURN(std::string identity, FileIdentity(file));
    identities.push_back(std::move(identity));
  }
  return absl::StrCat("model.file=", path, " [", absl::StrJoin(identities, "; "), "]");
}

absl::StatusOr<std::string> InputsKey(const Experiment& e) {
  ASSIGN_OR_RETURN(const std::string dataset, DatasetIdentity(e.dataset));
  ASSIGN_OR_RETURN(const std::string model, ModelFileIdentity(e.model));
  return absl::StrCat(dataset, "\n", model, "\nkvbench.version=", kKvbenchVersion);
}

}  // namespace kvbench
