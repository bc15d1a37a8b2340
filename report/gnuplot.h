// Draws plots by running gnuplot (http://gnuplot.info; Debian gnuplot-nox) as a subprocess, with
// its SVG terminal: one process for all the plots of a page, in a temporary folder that holds the
// data files and the script and is removed afterwards.
//
// Why gnuplot rather than SVG written by hand: axes, tick placement (log scales included), legends,
// error bars and colour maps are its 40-year-old job, and its SVG output is plain vector markup
// that can be inlined into an HTML page with no script and no network. It is one Debian package
// with no runtime of its own (unlike matplotlib, which would bring Python).
#ifndef KVBENCH_REPORT_GNUPLOT_H_
#define KVBENCH_REPORT_GNUPLOT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kvbench {

// One plot: gnuplot commands that draw it (after `set output`), and the data files they read by
// name (names must be unique across the plots of one call).
struct GnuplotPlot {
  std::string commands;
  std::vector<std::pair<std::string, std::string>> data_files;  // name -> contents
  // The SVG canvas in pixels; 0: GnuplotOptions' size. A plot drawn small on the page (a heat map
  // of a grid) gets a small canvas so that its text is scaled down less.
  int width = 0;
  int height = 0;
};

struct GnuplotOptions {
  std::string program = "gnuplot";  // looked up on PATH unless it holds a '/'
  int width = 760;                  // SVG canvas in pixels
  int height = 500;
};

// The SVG document of every plot, in order. FailedPrecondition when gnuplot cannot be started
// (with how to install it); Internal with gnuplot's messages when it fails or writes no output.
absl::StatusOr<std::vector<std::string>> RenderSvgs(const std::vector<GnuplotPlot>& plots,
                                                    const GnuplotOptions& options);

// `text` as a gnuplot single-quoted string (no escapes inside; a quote is doubled).
std::string GnuplotQuote(const std::string& text);

}  // namespace kvbench

#endif  // KVBENCH_REPORT_GNUPLOT_H_
