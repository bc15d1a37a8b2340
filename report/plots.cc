#include "report/plots.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace kvbench {
namespace {

// Colour-blind-safe qualitative colours: Okabe & Ito's without its yellow (too faint as a line on
// white), then three of Paul Tol's (wine, olive, indigo).
constexpr const char* kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                                    "#56B4E9", "#000000", "#882255", "#999933", "#332288"};
constexpr int kNumColours = sizeof(kColours) / sizeof(kColours[0]);
// Filled square, circle, up and down triangle, diamond; open square and circle.
constexpr int kPointTypes[] = {5, 7, 9, 11, 13, 4, 6};
constexpr int kNumPointTypes = sizeof(kPointTypes) / sizeof(kPointTypes[0]);

std::string Num(double v) { return absl::StrFormat("%.9g", v); }

// Whether every value is positive and the largest is more than 10x the smallest.
bool SpansDecade(const std::vector<double>& values) {
  if (values.empty()) return false;
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return *lo > 0 && *hi > 10 * *lo;
}

std::vector<double> XValues(const LineChart& chart) {
  std::vector<double> v;
  for (const ChartSeries& s : chart.series)
    for (const ChartPoint& p : s.points) v.push_back(p.x);
  return v;
}

std::vector<double> YValues(const LineChart& chart) {
  std::vector<double> v;
  for (const ChartSeries& s : chart.series) {
    for (const ChartPoint& p : s.points) {
      v.push_back(p.y);
      if (!std::isnan(p.y_low)) v.push_back(p.y_low);
      if (!std::isnan(p.y_high)) v.push_back(p.y_high);
    }
  }
  return v;
}

std::string CommonSettings(const std::string& title, const std::string& x_label,
                           const std::string& y_label) {
  return absl::StrCat("set title ", GnuplotQuote(title), "\nset xlabel ", GnuplotQuote(x_label),
                      "\nset ylabel ", GnuplotQuote(y_label), "\n");
}

}  // namespace

SeriesStyle SeriesStyleAt(int index) {
  // i = 10a + c gets colour c and marker (c + a) mod 7: two indices with one colour differ in a,
  // so in marker, while a < 7.
  const int i = std::max(index, 0);
  return {kColours[i % kNumColours],
          kPointTypes[(i % kNumColours + i / kNumColours) % kNumPointTypes]};
}

bool LineChart::HasErrorBars() const {
  for (const ChartSeries& s : series)
    for (const ChartPoint& p : s.points)
      if (!std::isnan(p.y_low) || !std::isnan(p.y_high)) return true;
  return false;
}

bool LineChart::LogX() const {
  if (!x_categories.empty()) return false;
  if (x_scale != AxisScale::kAuto) return x_scale == AxisScale::kLog;
  return SpansDecade(XValues(*this));
}

bool LineChart::LogY() const {
  if (y_unit_interval) return false;
  if (y_scale == AxisScale::kLog) return !std::isnan(LogYFloor());
  if (y_scale != AxisScale::kAuto) return false;
  return SpansDecade(YValues(*this));
}

double LineChart::LogYFloor() const {
  double smallest = INFINITY;
  for (double y : YValues(*this))
    if (y > 0) smallest = std::min(smallest, y);
  if (std::isinf(smallest)) return NAN;
  // A decade under the power of ten below the smallest value, so that a point on the floor (0) is
  // told from the smallest real one.
  return std::pow(10.0, std::floor(std::log10(smallest) - 1e-9) - 1);
}

GnuplotPlot ToGnuplot(const LineChart& chart, int id) {
  GnuplotPlot plot;
  std::string& c = plot.commands;
  c = CommonSettings(chart.title, chart.x_label, chart.y_label);
  absl::StrAppend(&c,
                  "set grid lc rgb '#dddddd'\nset key below Left reverse samplen 2 width 1\n"
                  "set border 3\nset tics nomirror\nset bars small\n");
  const bool log_x = chart.LogX(), log_y = chart.LogY();
  if (!chart.x_categories.empty()) {
    std::vector<std::string> tics;
    for (size_t i = 0; i < chart.x_categories.size(); ++i)
      tics.push_back(absl::StrCat(GnuplotQuote(chart.x_categories[i]), " ", i));
    absl::StrAppend(&c, "set xtics (", absl::StrJoin(tics, ", "),
                    ")\nset xrange [-0.5:", chart.x_categories.size() - 0.5, "]\n");
  } else {
    if (log_x)
      absl::StrAppend(&c, chart.x_tics_at_values ? "set logscale x 2\n" : "set logscale x\n");
    if (chart.x_bytes) absl::StrAppend(&c, "set format x '%.1s %cB'\n");
    if (chart.x_tics_at_values) {
      std::set<double> distinct;
      for (double x : XValues(chart)) distinct.insert(x);
      if (distinct.size() <= 12) {
        std::vector<std::string> tics;
        for (double x : distinct) tics.push_back(Num(x));
        absl::StrAppend(&c, "set xtics (", absl::StrJoin(tics, ", "), ")\n");
      }
    }
    absl::StrAppend(&c, "set offsets graph 0.03, graph 0.03, 0, 0\n");
  }
  // A log axis has no place for 0: such values go to the floor rather than being dropped by
  // gnuplot without a word.
  const double floor = log_y ? chart.LogYFloor() : NAN;
  const auto on_axis = [&](double y) { return log_y && y <= 0 ? floor : y; };
  bool on_floor = false;
  if (log_y) {
    for (double y : YValues(chart)) on_floor |= y <= 0;
    absl::StrAppend(&c, "set logscale y\nset format y '%g'\n");
    if (on_floor) {
      // The floor's tick reads 0: a log axis has no 0, and a note inside the plot could cover a
      // point (the full cache sits on the floor at the right, the small caches near it).
      absl::StrAppend(&c, "set yrange [", Num(floor), ":*]\nset ytics add ('0' ", Num(floor),
                      ")\n");
    }
  }
  if (chart.y_unit_interval) absl::StrAppend(&c, "set yrange [0:1.02]\n");

  // Sideways shift per series (dodge_x), in the x axis' own units (a factor on a log axis).
  int drawn = 0;
  for (const ChartSeries& series : chart.series) drawn += !series.front && !series.points.empty();
  double span = 0;
  if (chart.dodge_x && drawn > 1) {
    const std::vector<double> xs = XValues(chart);
    const auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
    span = log_x ? std::log(*hi / *lo) : *hi - *lo;
    if (span <= 0) span = log_x ? std::log(2.0) : std::max(std::fabs(*hi), 1.0);
  }
  const auto dodged = [&](double x, int k) {
    if (span == 0) return x;
    const double shift = (k - (drawn - 1) / 2.0) * 0.015 * span;
    return log_x ? x * std::exp(shift) : x + shift;
  };

  std::vector<std::string> clauses;
  int colour = 0;
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const ChartSeries& series = chart.series[s];
    if (series.points.empty()) continue;
    const std::string file = absl::StrCat("c", id, "_s", s, ".dat");
    std::string data;
    bool bars = false;
    for (const ChartPoint& p : series.points) {
      const bool has_bar = !std::isnan(p.y_low) || !std::isnan(p.y_high);
      bars |= has_bar;
      absl::StrAppend(&data, Num(series.front ? p.x : dodged(p.x, colour)), " ", Num(on_axis(p.y)),
                      " ", Num(on_axis(std::isnan(p.y_low) ? p.y : p.y_low)), " ",
                      Num(on_axis(std::isnan(p.y_high) ? p.y : p.y_high)), "\n");
    }
    plot.data_files.emplace_back(file, data);
    const std::string title = GnuplotQuote(series.title);
    if (series.front) {
      clauses.push_back(absl::StrCat(GnuplotQuote(file), " using 1:2 with lines dt 2 lw 1.5 ",
                                     "lc rgb '#333333' title ", title));
      continue;
    }
    const SeriesStyle look = SeriesStyleAt(series.style >= 0 ? series.style : colour);
    const std::string style =
        absl::StrCat("lw 1.5 pt ", look.point_type, " ps 0.8 lc rgb '", look.colour, "'");
    ++colour;
    clauses.push_back(
        absl::StrCat(GnuplotQuote(file),
                     bars ? " using 1:2:3:4 with yerrorlines " : " using 1:2 with linespoints ",
                     style, " title ", title));
  }
  if (clauses.empty()) {
    absl::StrAppend(&c, "set label 1 'no data' at graph 0.5, graph 0.5 center\n",
                    "plot [0:1][0:1] NaN notitle\n");
  } else {
    absl::StrAppend(&c, "plot ", absl::StrJoin(clauses, ", \\\n     "), "\n");
  }
  return plot;
}

GnuplotPlot ToGnuplot(const HeatMap& map, int id) {
  // Heat maps sit three to a row on a wide page (about 370 px each).
  GnuplotPlot plot{.width = 400, .height = 340};
  std::string& c = plot.commands;
  c = CommonSettings(map.title, map.x_label, map.y_label);
  const auto tics = [](const std::vector<std::string>& names) {
    std::vector<std::string> t;
    for (size_t i = 0; i < names.size(); ++i)
      t.push_back(absl::StrCat(GnuplotQuote(names[i]), " ", i));
    return absl::StrJoin(t, ", ");
  };
  if (map.style >= 0) {
    // The title after the marker its cache has in the line charts, so a map is matched to its
    // points by eye.
    const SeriesStyle look = SeriesStyleAt(map.style);
    absl::StrAppend(&c, "set title ' '\nset label 2 ", GnuplotQuote(map.title),
                    " at graph 0, graph 1.05 left point pt ", look.point_type, " ps 1.3 lc rgb '",
                    look.colour, "' offset character 1.2, 0 font 'sans,13'\n");
  }
  absl::StrAppend(&c, "set xtics (", tics(map.x_names), ")\nset ytics (", tics(map.y_names),
                  ")\nset xrange [-0.5:", map.x_names.size() - 0.5,
                  "]\nset yrange [-0.5:", map.y_names.size() - 0.5,
                  "]\nset tics out nomirror\nset cbrange [0:1]\nset cblabel 'accuracy'\n"
                  "set palette defined (0 '#d73027', 0.5 '#fee08b', 1 '#1a9850')\n");
  std::string cells, labels;
  for (size_t r = 0; r < map.values.size(); ++r) {
    for (size_t col = 0; col < map.values[r].size(); ++col) {
      if (std::isnan(map.values[r][col])) continue;
      absl::StrAppend(&cells, col, " ", r, " ", Num(map.values[r][col]), "\n");
      const std::string text =
          r < map.cell_text.size() && col < map.cell_text[r].size() ? map.cell_text[r][col] : "";
      if (!text.empty()) absl::StrAppend(&labels, col, " ", r, " \"", text, "\"\n");
    }
  }
  const std::string cells_file = absl::StrCat("h", id, "_cells.dat");
  const std::string labels_file = absl::StrCat("h", id, "_labels.dat");
  plot.data_files.emplace_back(cells_file, cells);
  plot.data_files.emplace_back(labels_file, labels);
  if (cells.empty()) {
    absl::StrAppend(&c, "set label 1 'no data' at graph 0.5, graph 0.5 center\nplot NaN notitle\n");
    return plot;
  }
  // Cells as filled boxes, not `with image`: an image needs a grid of at least 2 x 2, and one
  // haystack length (or one depth) is a common sweep.
  absl::StrAppend(
      &c, "plot ", GnuplotQuote(cells_file),
      " using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 1.0 noborder fc palette notitle");
  if (!labels.empty()) {
    absl::StrAppend(&c, ", ", GnuplotQuote(labels_file),
                    " using 1:2:3 with labels font 'sans,13' tc rgb '#000000' notitle");
  }
  absl::StrAppend(&c, "\n");
  return plot;
}

}  // namespace kvbench
