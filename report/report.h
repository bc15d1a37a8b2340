// `kvbench report`: results CSVs -> one self-contained HTML page (inline CSS, the plots as inline
// SVG drawn by gnuplot, no script, no network), written atomically. What each section shows:
// report/sections.h; how to read the plots: docs/report.md.
#ifndef KVBENCH_REPORT_REPORT_H_
#define KVBENCH_REPORT_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "report/gnuplot.h"
#include "report/results.h"

namespace kvbench {

struct ReportOptions {
  GnuplotOptions gnuplot;
  std::string title = "kvbench report";
};

// The page for already loaded files.
absl::StatusOr<std::string> BuildReportHtml(const std::vector<ResultsFile>& files,
                                            const ReportOptions& options);

// Loads every CSV (each must be a kvbench results file), builds the page and writes it to
// `output`; the number of plots drawn.
absl::StatusOr<int> WriteReport(const std::vector<std::string>& csv_paths,
                                const std::string& output, const ReportOptions& options);

// An SVG document from gnuplot made fit to sit inline in a page beside others: the XML prolog
// dropped, and every id (and reference to one) prefixed with `prefix` so that plots' marker
// definitions do not collide.
std::string InlineSvg(const std::string& svg, const std::string& prefix);

}  // namespace kvbench

#endif  // KVBENCH_REPORT_REPORT_H_
