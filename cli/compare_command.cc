// kvbench compare: two results CSVs of one kind, row by row: each metric's change, its standard
// error and whether it is significant (report/compare.h says how rows match and which test).
//
// Exit codes: 0 compared (whatever changed); 1 with --fail_on_regression when a change is a
// significant regression; 2 for bad input (a missing file, kinds that differ, duplicate rows).
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "report/compare.h"

ABSL_FLAG(std::string, format, "text", "compare: output format, text or md (Markdown)");
ABSL_FLAG(bool, fail_on_regression, false,
          "compare: exit 1 when a metric regressed significantly (|z| > 2)");

namespace kvbench::cli {

int Compare(int argc, char** argv) {
  const std::vector<std::string> args = ParseFlags(
      "compare", "BASE.csv NEW.csv [--format text|md] [--fail_on_regression]", argc, argv);
  const std::string format = absl::GetFlag(FLAGS_format);
  if (args.size() != 2) {
    return ReportError(
        "compare",
        absl::InvalidArgumentError("expected two results CSVs: kvbench compare BASE.csv NEW.csv"));
  }
  if (format != "text" && format != "md") {
    return ReportError("compare",
                       absl::InvalidArgumentError("--format " + format + ": expected text or md"));
  }
  auto base = LoadResults(args[0]);
  if (!base.ok()) return ReportError("compare", base.status());
  auto current = LoadResults(args[1]);
  if (!current.ok()) return ReportError("compare", current.status());
  auto comparison = CompareResults(*base, *current);
  if (!comparison.ok()) return ReportError("compare", comparison.status());
  const std::string out =
      format == "md" ? ComparisonMarkdown(*comparison) : ComparisonText(*comparison);
  std::fputs(out.c_str(), stdout);
  return absl::GetFlag(FLAGS_fail_on_regression) && comparison->regressions > 0 ? 1 : 0;
}

}  // namespace kvbench::cli
