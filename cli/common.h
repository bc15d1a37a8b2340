// Helpers shared by the subcommands: flag parsing, error reporting with the exit-code convention,
// model loading with the model/thread flags every command understands.
#ifndef KVBENCH_CLI_COMMON_H_
#define KVBENCH_CLI_COMMON_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "formats/atomic_file.h"
#include "model/model.h"

ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(bool, bos);

namespace kvbench::cli {

// Parses flags for `command`; returns the positional arguments (argv[0] excluded).
std::vector<std::string> ParseFlags(std::string_view command, std::string_view usage, int argc,
                                    char** argv);

// Prints "kvbench <command>: <status>" and returns the exit code for it: 2 for bad input
// (InvalidArgument, NotFound, OutOfRange, DataLoss, FailedPrecondition), 1 otherwise.
int ReportError(std::string_view command, const absl::Status& status);

// Loads --model and applies --threads.
absl::StatusOr<std::unique_ptr<Model>> LoadModelFromFlags();

// The text of --file if given, else of --text.
absl::StatusOr<std::string> ReadTextFlag();

// -o if given, else `fallback`.
std::string OutputPath(const std::string& fallback);

}  // namespace kvbench::cli

#endif  // KVBENCH_CLI_COMMON_H_
