// Model name resolution and format dispatch.
//
// A name that exists as a path is used as it is. Otherwise it is looked up, in order, under
// $KVBENCH_MODELS (':'-separated), ./models, ../shared/models and KVBENCH_SHARED_DIR/models, as
// <root>/<name>, <root>/<name>.gguf and <root>/<name>.bin. A directory stands for the model inside
// it: <dir>/<dirname>.gguf, else <dir>/<dirname>.bin, else the directory itself when it has a
// Hugging Face config.json. So `stories260K` is stories260K/stories260K.gguf, `aidreams260K` is
// aidreams260K/aidreams260K.bin and `tinystories656k` is the directory.
#include "model/loader.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status.h"
#include "formats/mapped_file.h"

#ifndef KVBENCH_SHARED_DIR
#define KVBENCH_SHARED_DIR "../shared"
#endif

namespace kvbench {
namespace {

namespace fs = std::filesystem;

bool IsFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool IsDir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool Exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// The model file (or Hugging Face directory) that directory `dir` stands for. Appends what it
// looked for to `tried`.
absl::StatusOr<std::string> PickInDirectory(const fs::path& dir, std::vector<std::string>* tried) {
  fs::path normal = dir.lexically_normal();
  if (normal.filename().empty()) normal = normal.parent_path();  // "a/b/" -> "a/b"
  const std::string stem = normal.filename().string();
  for (const fs::path& candidate : {dir / (stem + ".gguf"), dir / (stem + ".bin")}) {
    if (IsFile(candidate)) return candidate.string();
    tried->push_back(candidate.string());
  }
  if (IsFile(dir / "config.json")) return dir.string();
  tried->push_back((dir / "config.json").string());
  return absl::NotFoundError(absl::StrCat("directory ", dir.string(),
                                          " holds no model: looked for ",
                                          absl::StrJoin(tried->end() - 3, tried->end(), ", ")));
}

std::vector<std::string> SearchRoots() {
  std::vector<std::string> roots;
  if (const char* env = std::getenv("KVBENCH_MODELS"); env != nullptr && *env != '\0') {
    for (absl::string_view r : absl::StrSplit(env, ':', absl::SkipEmpty())) roots.emplace_back(r);
  }
  roots.push_back("models");
  roots.push_back("../shared/models");
  roots.push_back(std::string(KVBENCH_SHARED_DIR) + "/models");
  return roots;
}

// Maps the file rather than reading it: only the first page is touched, however large the model.
bool StartsWithGgufMagic(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> file = MappedFile::Open(path);
  return file.ok() && (*file)->size() >= 4 && std::memcmp((*file)->data(), "GGUF", 4) == 0;
}

}  // namespace

absl::StatusOr<std::string> ResolveModelPath(std::string_view name_or_path) {
  if (name_or_path.empty()) return absl::InvalidArgumentError("empty model name");
  const fs::path given{std::string(name_or_path)};
  std::vector<std::string> tried;
  if (IsDir(given)) return PickInDirectory(given, &tried);
  if (Exists(given)) return given.string();
  tried.push_back(given.string());
  if (!given.is_absolute()) {
    for (const std::string& root : SearchRoots()) {
      const fs::path base = fs::path(root) / given;
      if (IsDir(base)) {
        absl::StatusOr<std::string> picked = PickInDirectory(base, &tried);
        if (picked.ok()) return picked;
        continue;  // an empty directory of that name: keep searching the later roots
      }
      for (const fs::path& candidate :
           {base, fs::path(base.string() + ".gguf"), fs::path(base.string() + ".bin")}) {
        if (IsFile(candidate)) return candidate.string();
        tried.push_back(candidate.string());
      }
    }
  }
  return absl::NotFoundError(absl::StrCat("model '", std::string(name_or_path),
                                          "' not found; looked at ", absl::StrJoin(tried, ", "),
                                          " (set $KVBENCH_MODELS to add a directory)"));
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(std::string_view name_or_path) {
  ASSIGN_OR_RETURN(const std::string path, ResolveModelPath(name_or_path));
  if (IsDir(path)) return LoadHuggingFaceModel(path);  // resolution checked config.json
  if (StartsWithGgufMagic(path)) return LoadGgufModel(path);
  if (fs::path(path).extension() == ".bin") return LoadLlama2cModel(path);
  return absl::InvalidArgumentError(
      absl::StrCat(path,
                   ": unknown model format (not a GGUF file, not a llama2.c .bin checkpoint, not a "
                   "Hugging Face directory with config.json)"));
}

}  // namespace kvbench
