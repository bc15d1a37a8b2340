#include "cli/command_line.h"

#include <cstdio>
#include <utility>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kvbench::cli {
namespace {

// The help lists each flag by its kebab-case name only (the snake_case alias is accepted but would
// double every line), negatable switches with their `--no-` form.
class HelpFormatter : public CLI::Formatter {
 public:
  explicit HelpFormatter(std::string usage) : usage_(std::move(usage)) { column_width(30); }

  std::string make_usage(const CLI::App*, std::string) const override {
    return absl::StrCat("usage: ", usage_, "\n");
  }

  std::string make_option_name(const CLI::Option* opt, bool is_positional) const override {
    if (is_positional) return opt->get_name(true, false);
    std::vector<std::string> names;
    for (const std::string& s : opt->get_snames()) names.push_back("-" + s);
    const std::vector<std::string>& lnames = opt->get_lnames();
    if (!lnames.empty()) names.push_back("--" + lnames.front());
    for (const std::string& l : lnames) {
      if (l.rfind("no-", 0) == 0) {
        names.push_back("--" + l);
        break;
      }
    }
    return absl::StrJoin(names, ", ");
  }

 private:
  std::string usage_;
};

}  // namespace

CommandLine::CommandLine(std::string command, std::string synopsis, std::string description)
    : command_(std::move(command)),
      app_(std::make_unique<CLI::App>(std::move(description), "kvbench " + command_)) {
  app_->formatter(
      std::make_shared<HelpFormatter>(absl::StrCat("kvbench ", command_, " ", synopsis)));
  app_->option_defaults()->always_capture_default();
  app_->footer(
      "Flags are kebab-case; the snake_case spelling (--k_store for --k-store) works too.");
}

CommandLine::~CommandLine() = default;

std::string CommandLine::Spellings(absl::string_view names) const {
  std::vector<std::string> out;
  for (absl::string_view name : absl::StrSplit(names, ',', absl::SkipWhitespace())) {
    name = absl::StripAsciiWhitespace(name);
    if (name.size() == 1) {
      out.push_back(absl::StrCat("-", name));
      continue;
    }
    const std::string kebab = absl::StrReplaceAll(name, {{"_", "-"}});
    const std::string snake = absl::StrReplaceAll(name, {{"-", "_"}});
    out.push_back("--" + kebab);
    if (snake != kebab) out.push_back("--" + snake);
  }
  return absl::StrJoin(out, ",");
}

CommandLine& CommandLine::Flag(absl::string_view names, std::string* value,
                               absl::string_view help) {
  app_->add_option(Spellings(names), *value, std::string(help));
  return *this;
}

CommandLine& CommandLine::Flag(absl::string_view names, int* value, absl::string_view help) {
  app_->add_option(Spellings(names), *value, std::string(help));
  return *this;
}

CommandLine& CommandLine::Flag(absl::string_view names, int64_t* value, absl::string_view help) {
  app_->add_option(Spellings(names), *value, std::string(help));
  return *this;
}

CommandLine& CommandLine::Flag(absl::string_view names, uint64_t* value, absl::string_view help) {
  app_->add_option(Spellings(names), *value, std::string(help));
  return *this;
}

CommandLine& CommandLine::Flag(absl::string_view names, float* value, absl::string_view help) {
  app_->add_option(Spellings(names), *value, std::string(help));
  return *this;
}

CommandLine& CommandLine::Flag(absl::string_view names, double* value, absl::string_view help) {
  app_->add_option(Spellings(names), *value, std::string(help));
  return *this;
}

CommandLine& CommandLine::Flag(absl::string_view names, std::vector<std::string>* values,
                               absl::string_view help) {
  app_->add_option(Spellings(names), *values, std::string(help))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->expected(1)
      ->allow_extra_args(false);
  return *this;
}

CommandLine& CommandLine::Switch(absl::string_view names, bool* value, absl::string_view help,
                                 bool negatable) {
  std::string spellings = Spellings(names);
  if (negatable) {
    // The first long name, negated: --no-bos, and absl's --nobos that scripts may still use.
    const std::vector<absl::string_view> parts = absl::StrSplit(names, ',');
    const std::string base =
        absl::StrReplaceAll(absl::StripAsciiWhitespace(parts.front()), {{"_", "-"}});
    absl::StrAppend(&spellings, ",!--no-", base, ",!--no", absl::StrReplaceAll(base, {{"-", "_"}}));
  }
  app_->add_flag(spellings, *value, std::string(help));
  return *this;
}

CommandLine& CommandLine::Positional(absl::string_view name, std::string* value,
                                     absl::string_view help, bool required) {
  CLI::Option* option = app_->add_option(std::string(name), *value, std::string(help));
  if (required) option->required();
  return *this;
}

CommandLine& CommandLine::Positionals(absl::string_view name, std::vector<std::string>* values,
                                      absl::string_view help) {
  app_->add_option(std::string(name), *values, std::string(help));
  return *this;
}

bool CommandLine::Given(absl::string_view name) const {
  const std::string first(*absl::StrSplit(Spellings(name), ',').begin());
  const CLI::Option* option = app_->get_option_no_throw(first);
  return option != nullptr && option->count() > 0;
}

std::optional<int> CommandLine::Parse(int argc, char** argv) {
  try {
    app_->parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(Help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    // CLI11 reports a missing positional before an unknown flag; the unknown flag is the mistake.
    std::string message = e.what();
    for (int i = 1; i < argc; ++i) {
      const absl::string_view arg = argv[i];
      if (arg == "--") break;
      if (arg.size() < 2 || arg[0] != '-' || (arg[1] >= '0' && arg[1] <= '9')) continue;
      const std::string name(arg.substr(0, arg.find('=')));
      if (app_->get_option_no_throw(name) == nullptr && name != "--help" && name != "-h") {
        message = absl::StrCat("The following argument was not expected: ", name);
        break;
      }
    }
    std::fprintf(stderr, "kvbench %s: error: %s\n(`kvbench %s --help` lists its flags)\n",
                 command_.c_str(), message.c_str(), command_.c_str());
    return 2;
  }
  return std::nullopt;
}

std::string CommandLine::Help() const { return app_->help(); }

}  // namespace kvbench::cli
