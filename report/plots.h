// The two kinds of plot the report draws, as data, and their translation to gnuplot commands
// (report/gnuplot.h runs them). Keeping the specs apart from the page lets the tests check what is
// drawn without parsing SVG.
//
//   LineChart  series of (x, y) points with optional vertical error bars; a series can be a dashed
//              line without markers (a Pareto front, a no-cache baseline). Axes are linear, log
//              (when the data span more than a decade and are positive) or categorical (x values
//              0, 1, 2, ... named by x_categories, for budgets that include 0).
//   HeatMap    a grid of values in [0, 1] (NIAH accuracy), columns x rows, each cell coloured and
//              written out; a missing cell (NaN) is left blank.
#ifndef KVBENCH_REPORT_PLOTS_H_
#define KVBENCH_REPORT_PLOTS_H_

#include <cmath>
#include <string>
#include <vector>

#include "report/gnuplot.h"

namespace kvbench {

struct ChartPoint {
  double x = 0;
  double y = 0;
  double y_low = NAN;  // error bar ends; NaN: none
  double y_high = NAN;
};

struct ChartSeries {
  std::string title;
  std::vector<ChartPoint> points;  // drawn in this order
  bool front = false;              // dashed black line, no markers (Pareto front, baseline)
  int style = -1;                  // SeriesStyleAt index; -1: the series' rank in its chart
};

// A series' colour and marker. The report gives every series label one index for the whole page
// (report/sections.h AssignSeriesStyles), so a policy looks the same in every plot.
struct SeriesStyle {
  const char* colour;  // "#rrggbb"
  int point_type;      // gnuplot `pt`
};

// Distinct (colour, marker) pairs for indices 0..69: 10 colours, and the marker (of 7) shifts by
// one each time the colours wrap.
SeriesStyle SeriesStyleAt(int index);

enum class AxisScale { kAuto, kLinear, kLog };

struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  AxisScale x_scale = AxisScale::kAuto;
  AxisScale y_scale = AxisScale::kAuto;
  std::vector<std::string> x_categories;  // non-empty: x is an index into these names
  bool x_bytes = false;                   // x counts bytes: ticks as 10 kB, 1 MB
  bool x_tics_at_values = false;          // ticks at the distinct x values (a swept budget)
  bool y_unit_interval = false;           // y is a fraction: range [0, 1]
  // Series k of n drawn shifted by (k - (n-1)/2) x 1.5% of the x span, so that equal points of
  // different series (window and sinks at one budget) stay visible; ticks keep the true values.
  bool dodge_x = false;
  std::vector<ChartSeries> series;

  bool HasErrorBars() const;
  // The scale drawn: kAuto resolves to log when every value (error bar ends included) is positive
  // and the largest is more than 10x the smallest; kLog on y holds when any value is positive, and
  // values <= 0 (the KL of the full cache) are then drawn on the floor, whose tick reads 0.
  bool LogX() const;
  bool LogY() const;
  // Where a log y axis starts: a decade under the power of ten below the smallest positive value
  // (error bar ends included); NaN when no value is positive.
  double LogYFloor() const;
};

struct HeatMap {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<std::string> x_names;                 // columns
  std::vector<std::string> y_names;                 // rows, bottom to top
  std::vector<std::vector<double>> values;          // [row][column], NaN: no data
  std::vector<std::vector<std::string>> cell_text;  // same shape: written in each cell
  std::string series;  // the series label the map's cache has in the line charts
  int style = -1;      // its SeriesStyleAt index: a marker beside the title; -1: none
};

// gnuplot commands and data for one chart; `id` makes its data file names unique.
GnuplotPlot ToGnuplot(const LineChart& chart, int id);
GnuplotPlot ToGnuplot(const HeatMap& map, int id);

}  // namespace kvbench

#endif  // KVBENCH_REPORT_PLOTS_H_
