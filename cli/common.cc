#include "cli/common.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "formats/read_file.h"
#include "model/loader.h"
#include "model/ops.h"

ABSL_FLAG(std::string, model, "stories260K",
          "model short name (stories260K, tinystories656k, aidreams260K) or path to a .gguf, a "
          "llama2.c .bin or a Hugging Face directory");
ABSL_FLAG(int, threads, 2, "threads for matrix work (OpenMP)");
ABSL_FLAG(std::string, text, "", "input text (tokenize --decode: token ids separated by spaces)");
ABSL_FLAG(std::string, file, "", "read the input text from this file instead of --text");
ABSL_FLAG(std::string, o, "", "output path (logits: .npy, synth: .gguf)");
ABSL_FLAG(bool, bos, true, "prepend BOS when tokenizing --text / --file (--nobos to omit)");

namespace kvbench::cli {

std::vector<std::string> ParseFlags(std::string_view command, std::string_view usage, int argc,
                                    char** argv) {
  absl::SetProgramUsageMessage(
      absl::StrCat("kvbench ", std::string(command), " ", std::string(usage)));
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  return std::vector<std::string>(positional.begin() + 1, positional.end());
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
      return 2;
    default:
      return 1;
  }
}

absl::StatusOr<std::unique_ptr<Model>> LoadModelFromFlags() {
  const int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 1)
    return absl::InvalidArgumentError(absl::StrCat("--threads ", threads, " must be >= 1"));
  SetNumThreads(threads);
  return LoadModel(absl::GetFlag(FLAGS_model));
}

absl::StatusOr<std::string> ReadTextFlag() {
  const std::string file = absl::GetFlag(FLAGS_file);
  if (file.empty()) return absl::GetFlag(FLAGS_text);
  return ReadFile(file, "--file");
}

std::string OutputPath(const std::string& fallback) {
  const std::string o = absl::GetFlag(FLAGS_o);
  return o.empty() ? fallback : o;
}

}  // namespace kvbench::cli
