#include "cli/common.h"

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "formats/read_file.h"
#include "harness/experiment_sweep.h"
#include "model/loader.h"
#include "model/ops.h"
#include "yaml-cpp/yaml.h"

namespace kvbench::cli {
namespace {

absl::StatusOr<std::unique_ptr<Model>> LoadWithThreads(const std::string& model, int threads) {
  if (threads < 1)
    return absl::InvalidArgumentError(absl::StrCat("--threads ", threads, " must be >= 1"));
  SetNumThreads(threads);
  return LoadModel(model);
}

}  // namespace

void ModelFlags::AddTo(CommandLine& cl) {
  cl.Flag("model", &model,
          "model short name (stories260K, tinystories656k, aidreams260K) or path to a .gguf, a "
          "llama2.c .bin or a Hugging Face directory");
  cl.Flag("threads", &threads, "threads for matrix work (OpenMP)");
}

absl::StatusOr<std::unique_ptr<Model>> ModelFlags::Load() const {
  return LoadWithThreads(model, threads);
}

void TextFlags::AddTo(CommandLine& cl, bool with_bos) {
  cl.Flag("text", &text, "input text");
  cl.Flag("file", &file, "read the input text from this file instead of --text");
  if (with_bos) cl.Switch("bos", &bos, "prepend BOS when tokenizing (--no-bos to omit)", true);
}

absl::StatusOr<std::string> TextFlags::Read() const {
  if (file.empty()) return text;
  return ReadFile(file, "--file");
}

void ExperimentFlags::AddTo(CommandLine& cl) {
  cl.Flag("set", &set,
          "override a field of the YAML before it is read: key=value, dotted into mappings and "
          "lists (context_tokens=512, dataset.path=x.txt, policies.0.budget=[16,32]); repeatable")
      .Flag("model", &model, "the model instead of the YAML's (same as --set model=M)");
}

absl::StatusOr<std::vector<YamlOverride>> ExperimentFlags::Overrides() const {
  ASSIGN_OR_RETURN(std::vector<YamlOverride> overrides, ParseOverrides(set));
  if (!model.empty()) overrides.push_back({.key = "model", .value = model});
  return overrides;
}

absl::StatusOr<Experiment> ExperimentFlags::LoadExperiment(const std::string& path) const {
  ASSIGN_OR_RETURN(const std::vector<YamlOverride> overrides, Overrides());
  ASSIGN_OR_RETURN(const YAML::Node root, LoadYamlWithOverrides(path, overrides));
  absl::StatusOr<Experiment> e =
      ParseExperimentDocument(root, path, std::filesystem::path(path).stem().string());
  if (!e.ok()) return AnnotateOverrides(e.status(), path, overrides);
  for (const YamlOverride& o : overrides) e->overrides.push_back(o.Text());
  return e;
}

absl::StatusOr<std::vector<Experiment>> ExperimentFlags::LoadExperimentSweep(
    const std::string& path) const {
  ASSIGN_OR_RETURN(const std::vector<YamlOverride> overrides, Overrides());
  ASSIGN_OR_RETURN(const YAML::Node root, LoadYamlWithOverrides(path, overrides));
  absl::StatusOr<std::vector<Experiment>> sweep =
      ParseExperimentSweep(root, path, std::filesystem::path(path).stem().string());
  if (!sweep.ok()) return AnnotateOverrides(sweep.status(), path, overrides);
  for (Experiment& e : *sweep) {
    for (const YamlOverride& o : overrides) e.overrides.push_back(o.Text());
  }
  return sweep;
}

absl::StatusOr<PrefixExperiment> ExperimentFlags::LoadPrefixExperiment(
    const std::string& path) const {
  ASSIGN_OR_RETURN(const std::vector<YamlOverride> overrides, Overrides());
  ASSIGN_OR_RETURN(const YAML::Node root, LoadYamlWithOverrides(path, overrides));
  absl::StatusOr<PrefixExperiment> e =
      ParsePrefixExperimentDocument(root, path, std::filesystem::path(path).stem().string());
  if (!e.ok()) return AnnotateOverrides(e.status(), path, overrides);
  return e;
}

int ReportError(std::string_view command, const absl::Status& status) {
  std::fprintf(stderr, "kvbench %.*s: error: %s\n", static_cast<int>(command.size()),
               command.data(), status.ToString().c_str());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:  // a file the user may not read or write
      return 2;
    default:
      return 1;
  }
}

}  // namespace kvbench::cli
