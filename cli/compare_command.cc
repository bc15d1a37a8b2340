// kvbench compare: two results CSVs of one kind, row by row: each metric's change, its standard
// error and whether it is significant (report/compare.h says how rows match and which test).
//
// Exit codes: 0 compared (whatever changed); 1 with --fail-on-regression when a change is a
// significant regression; 2 for bad input (a missing file, kinds that differ, duplicate rows).
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "report/compare.h"

namespace kvbench::cli {

int Compare(int argc, char** argv) {
  std::string base_path, new_path, format = "text";
  bool fail_on_regression = false;
  CommandLine cl("compare", "BASE.csv NEW.csv [--format text|md] [--fail-on-regression]",
                 "two results CSVs row by row: each metric's change, its standard error, "
                 "significance");
  cl.Positional("base", &base_path, "the results CSV to compare against")
      .Positional("new", &new_path, "the results CSV compared with it")
      .Flag("format", &format, "output format: text (terminal) or md (Markdown)")
      .Switch("fail_on_regression", &fail_on_regression,
              "exit 1 when a metric regressed significantly (|z| > 2)");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  if (format != "text" && format != "md") {
    return ReportError("compare", absl::InvalidArgumentError(
                                      absl::StrCat("--format ", format, ": expected text or md")));
  }
  auto base = LoadResults(base_path);
  if (!base.ok()) return ReportError("compare", base.status());
  auto current = LoadResults(new_path);
  if (!current.ok()) return ReportError("compare", current.status());
  auto comparison = CompareResults(*base, *current);
  if (!comparison.ok()) return ReportError("compare", comparison.status());
  const std::string out =
      format == "md" ? ComparisonMarkdown(*comparison) : ComparisonText(*comparison);
  std::fputs(out.c_str(), stdout);
  return fail_on_regression && comparison->regressions > 0 ? 1 : 0;
}

}  // namespace kvbench::cli
