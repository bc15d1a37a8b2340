// One command's flags, parsed the same way for every `kvbench` command (CLI11 underneath):
//
//   CommandLine cl("run", "EXPERIMENT.yaml [flags]", "run a YAML experiment ...");
//   cl.Positional("experiment", &path, "the experiment YAML");
//   cl.Flag("k_store", &k_store, "key store, e.g. q8_0");      // --k-store, also --k_store
//   cl.Flag("o,output", &out, "output path");                   // -o, --output
//   if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
//
// Names are written snake_case; each becomes a kebab-case flag (`--k-store`) with the snake_case
// spelling accepted as an alias (`--k_store`), and a one-letter name a short flag (`-o`). `--help`
// prints this command's flags only and exits 0; an unknown flag, a flag of another command, a
// missing value or one of the wrong type is an error naming it (exit 2). CLI11 stays inside
// command_line.cc, so the command files compile without its headers.
#ifndef KVBENCH_CLI_COMMAND_LINE_H_
#define KVBENCH_CLI_COMMAND_LINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace CLI {
class App;
}  // namespace CLI

namespace kvbench::cli {

class CommandLine {
 public:
  // `synopsis` follows "usage: kvbench <command> " in the help; `description` is one line.
  CommandLine(std::string command, std::string synopsis, std::string description);
  ~CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  // A flag with a value; `names` is comma-separated ("o,output"). The value's initial content is
  // its default, shown in the help.
  CommandLine& Flag(absl::string_view names, std::string* value, absl::string_view help);
  CommandLine& Flag(absl::string_view names, int* value, absl::string_view help);
  CommandLine& Flag(absl::string_view names, int64_t* value, absl::string_view help);
  CommandLine& Flag(absl::string_view names, uint64_t* value, absl::string_view help);
  CommandLine& Flag(absl::string_view names, float* value, absl::string_view help);
  CommandLine& Flag(absl::string_view names, double* value, absl::string_view help);
  // Repeatable: every occurrence appends (`--set a=1 --set b=2`).
  CommandLine& Flag(absl::string_view names, std::vector<std::string>* values,
                    absl::string_view help);
  // A switch: `--name` sets true, `--name=false` false; with `negatable`, `--no-name` (and absl's
  // old `--noname`) set false.
  CommandLine& Switch(absl::string_view names, bool* value, absl::string_view help,
                      bool negatable = false);

  // Positional arguments, in the order declared.
  CommandLine& Positional(absl::string_view name, std::string* value, absl::string_view help,
                          bool required = true);
  // Every remaining positional argument.
  CommandLine& Positionals(absl::string_view name, std::vector<std::string>* values,
                           absl::string_view help);

  // Whether the flag (any of its spellings, by its first name) was given.
  bool Given(absl::string_view name) const;

  // Parses argv[1..argc) (argv[0] is the command). An exit code when the command should stop: 0
  // after printing the help to stdout, 2 after printing a usage error to stderr. nullopt: go on.
  std::optional<int> Parse(int argc, char** argv);

  // The text `--help` prints.
  std::string Help() const;

 private:
  std::string Spellings(absl::string_view names) const;

  std::string command_;
  std::unique_ptr<CLI::App> app_;
};

}  // namespace kvbench::cli

#endif  // KVBENCH_CLI_COMMAND_LINE_H_
