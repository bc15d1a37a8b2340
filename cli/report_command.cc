// kvbench report: results CSVs (kvbench run, kvbench prefix, NIAH) -> one self-contained HTML page
// with gnuplot's SVG plots inline (report/report.h; how to read it: docs/report.md).
//
// Exit codes: 0 written; 2 for bad input (a missing file, a CSV of no known kind, gnuplot absent);
// 1 otherwise.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "harness/run_metadata.h"
#include "report/report.h"

namespace kvbench::cli {

int Report(int argc, char** argv) {
  std::vector<std::string> csvs;
  std::string output;
  CommandLine cl("report", "RESULTS.csv [RESULTS2.csv ...] [-o report.html]",
                 "results CSVs -> one self-contained HTML page with plots");
  cl.Positionals("results", &csvs,
                 "results CSVs of kvbench run, kvbench prefix or a needle task (any mix)")
      .Flag("o,output", &output, "the HTML page (default: the first CSV's path with .html)");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  if (csvs.empty()) {
    return ReportError("report", absl::InvalidArgumentError(
                                     "expected one or more results CSVs, e.g. kvbench report "
                                     "results/quickstart.csv -o results/quickstart.html"));
  }
  // Default: the first CSV's path with .html (results/x.csv -> results/x.html).
  if (output.empty()) {
    output = MetadataPath(csvs[0]);
    output.replace(output.size() - 5, 5, ".html");
  }
  auto plots = WriteReport(csvs, output, ReportOptions{});
  if (!plots.ok()) return ReportError("report", plots.status());
  std::fprintf(stderr, "kvbench report: wrote %s (%d plots from %zu files)\n", output.c_str(),
               *plots, csvs.size());
  return 0;
}

}  // namespace kvbench::cli
