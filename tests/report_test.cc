// kvbench report: the page has one inline SVG per plot the inputs have data for, nothing that
// reaches the network, the failed rows listed and not plotted; bad inputs are the right errors; and
// a real browser (headless Chromium) renders it without a script error.
//
// Inputs: tests/data/report (README there): a real `kvbench run configs/ci.yaml` CSV with one
// planted error row, a real prefix sweep, and a hand-written NIAH fixture.
#include "report/report.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "report/plots.h"
#include "report/sections.h"
#include "report/stats.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kData = std::string(KVBENCH_TESTDATA_DIR) + "/report/";
const std::string kDivergence = kData + "divergence_ci.csv";
const std::string kNiah = kData + "niah_fixture.csv";
const std::string kPrefix = kData + "prefix_sweep.csv";

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<std::string> Html(const std::vector<std::string>& paths) {
  std::vector<ResultsFile> files;
  for (const std::string& p : paths) {
    auto f = LoadResults(p);
    if (!f.ok()) return f.status();
    files.push_back(*std::move(f));
  }
  return BuildReportHtml(files, ReportOptions{});
}

// Every series title of every line chart of a file.
std::vector<std::string> SeriesTitles(const std::string& path) {
  auto file = LoadResults(path);
  EXPECT_TRUE(file.ok()) << file.status();
  std::vector<std::string> titles;
  for (const Section& s : SectionsFor(*file, 0))
    for (const Figure& f : s.figures)
      if (const auto* chart = std::get_if<LineChart>(&f.chart))
        for (const ChartSeries& series : chart->series) titles.push_back(series.title);
  return titles;
}

TEST(ReportResultsTest, KindsAreToldByTheirHeaders) {
  EXPECT_EQ(LoadResults(kDivergence)->kind, ResultsKind::kDivergence);
  EXPECT_EQ(LoadResults(kNiah)->kind, ResultsKind::kNiah);
  EXPECT_EQ(LoadResults(kPrefix)->kind, ResultsKind::kPrefix);
  EXPECT_TRUE(LoadResults(kDivergence)->metadata.has_value());  // divergence_ci.json beside it
}

TEST(ReportResultsTest, BadInputsAreNamedErrors) {
  const std::string dir = FreshTestDir("report_");
  const auto missing = LoadResults(dir + "/absent.csv");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  WriteBytes(dir + "/other.csv", "name,value\nx,1\n");
  const auto unknown = LoadResults(dir + "/other.csv");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()),
              AllOf(HasSubstr("other.csv"), HasSubstr("not a kvbench results CSV"),
                    HasSubstr("name, value")));

  WriteBytes(dir + "/empty.csv", "");
  EXPECT_EQ(LoadResults(dir + "/empty.csv").status().code(), absl::StatusCode::kInvalidArgument);
  // WriteReport stops at the first bad file and writes nothing.
  const auto report = WriteReport({kDivergence, dir + "/other.csv"}, dir + "/r.html", {});
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir + "/r.html"));
}

TEST(ReportTest, DivergencePlotsAndErrorRows) {
  auto html = Html({kDivergence});
  ASSERT_TRUE(html.ok()) << html.status();
  // KL vs bytes, KL vs budget, top-1 vs budget; one context only, so no latency-vs-context plot.
  EXPECT_EQ(Count(*html, "<svg"), 3);
  EXPECT_THAT(*html, HasSubstr("KL divergence against KV cache bytes"));
  EXPECT_THAT(*html, Not(HasSubstr("Decode step time against context length")));
  // The planted error row is listed with its message, and tova (its only row) is in no plot.
  EXPECT_THAT(*html, HasSubstr("Failed cases (not plotted)"));
  EXPECT_THAT(*html, HasSubstr("INTERNAL: planted error row of the report fixture"));
  for (const std::string& title : SeriesTitles(kDivergence)) EXPECT_NE(title, "tova");
  // snapkv compresses the prompt only (96 of 192 tokens decoded and kept), window all of it: one
  // budget, 2.5x the bytes, which the budget plots' captions say.
  EXPECT_EQ(Count(*html, "at budget 64 the caches hold 87 kB to 216 kB"), 2);
  // Standard errors in the table; the run metadata as a table.
  EXPECT_THAT(*html, HasSubstr("0.04862 &plusmn; "));
  EXPECT_THAT(*html, HasSubstr("experiment.context_tokens"));
}

TEST(ReportTest, NiahHeatMapsPerLabelAndAccuracyPlots) {
  auto html = Html({kNiah});
  ASSERT_TRUE(html.ok()) << html.status();
  // 5 labels with data -> 5 heat maps, then accuracy vs budget and vs bytes.
  EXPECT_EQ(Count(*html, "<svg"), 7);
  EXPECT_THAT(*html, HasSubstr("NIAH accuracy against budget"));
  EXPECT_THAT(*html, HasSubstr("planted error row of the report fixture"));
  // window(budget=256): 3 depths x 3 lengths x 10; pooled 45 / 90 (see the fixture's rule).
  EXPECT_THAT(*html, HasSubstr("45 / 90"));
  // Each heat map's caption gives its pooled count; how to read them is said once.
  EXPECT_THAT(*html, HasSubstr("window(budget=256)</span>: 45 / 90 correct"));
  EXPECT_EQ(Count(*html, "needle depth (rows;"), 1);
}

TEST(ReportTest, PrefixPlots) {
  auto html = Html({kPrefix});
  ASSERT_TRUE(html.ok()) << html.status();
  EXPECT_EQ(Count(*html, "<svg"), 2);
  EXPECT_THAT(*html, HasSubstr("time to first token against budget"));
}

TEST(ReportTest, PageIsSelfContained) {
  const std::string dir = FreshTestDir("report_");
  auto plots = WriteReport({kDivergence, kNiah, kPrefix}, dir + "/report.html", {});
  ASSERT_TRUE(plots.ok()) << plots.status();
  EXPECT_EQ(*plots, 12);
  const std::string html = ReadAll(dir + "/report.html");
  // No script, no stylesheet or image from elsewhere: every src/href is a fragment (#...).
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  const std::regex attribute(R"((src|href)\s*=\s*['"]([^'"]*)['"])");
  int links = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), attribute);
       it != std::sregex_iterator(); ++it, ++links) {
    EXPECT_EQ((*it)[2].str().substr(0, 1), "#") << (*it)[0].str();
  }
  EXPECT_GT(links, 0);
  EXPECT_THAT(html, Not(HasSubstr("<?xml")));  // gnuplot's prolog is not valid inside HTML
  // Marker definitions are per plot: no id twice in the page.
  const std::regex id(R"(id\s*=\s*['"]([^'"]+)['"])");
  std::set<std::string> ids;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), id); it != std::sregex_iterator();
       ++it)
    EXPECT_TRUE(ids.insert((*it)[1].str()).second) << "duplicate id " << (*it)[1].str();
}

TEST(ReportTest, MissingGnuplotIsAClearError) {
  auto file = LoadResults(kDivergence);
  ASSERT_TRUE(file.ok());
  ReportOptions options;
  options.gnuplot.program = "/nonexistent/gnuplot";
  const auto html = BuildReportHtml({*file}, options);
  EXPECT_EQ(html.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(html.status().message()), HasSubstr("apt-get install gnuplot-nox"));
}

// The sections of every file with the page's styles assigned, as BuildReportHtml draws them.
std::vector<Section> PageSections(const std::vector<std::string>& paths) {
  std::vector<Section> sections;
  for (size_t i = 0; i < paths.size(); ++i) {
    auto file = LoadResults(paths[i]);
    EXPECT_TRUE(file.ok()) << file.status();
    for (Section& s : SectionsFor(*file, static_cast<int>(i))) sections.push_back(std::move(s));
  }
  AssignSeriesStyles(&sections);
  return sections;
}

TEST(ReportPlotsTest, EachSeriesLabelHasOneStyleOnThePage) {
  // The budget plots leave out the budget-less caches (full on each store) that the bytes plot
  // has, so styles given by rank within a chart differed between them; the NIAH file shares
  // labels with the divergence file.
  const std::vector<Section> sections = PageSections({kDivergence, kNiah});
  const std::regex clause(R"(pt (\d+) ps [0-9.]+ lc rgb '(#[0-9A-Fa-f]{6})'(?: offset [^\n]*)?)");
  const std::regex series(R"(pt (\d+) ps 0\.8 lc rgb '(#[0-9A-Fa-f]{6})' title '([^']*)')");
  std::map<std::string, std::string> style_of;  // label -> "pt colour"
  int charts = 0;
  for (const Section& s : sections) {
    for (const Figure& f : s.figures) {
      const auto* chart = std::get_if<LineChart>(&f.chart);
      if (chart == nullptr) continue;
      ++charts;
      const std::string commands = ToGnuplot(*chart, 0).commands;
      for (auto it = std::sregex_iterator(commands.begin(), commands.end(), series);
           it != std::sregex_iterator(); ++it) {
        const std::string style = (*it)[1].str() + " " + (*it)[2].str();
        const auto [at, inserted] = style_of.emplace((*it)[3].str(), style);
        EXPECT_EQ(at->second, style) << "label " << at->first << " in " << chart->title;
      }
    }
  }
  EXPECT_GE(charts, 5);
  EXPECT_GE(style_of.size(), 8u);
  // Different labels look different.
  std::set<std::string> styles;
  for (const auto& [label, style] : style_of) styles.insert(style);
  EXPECT_EQ(styles.size(), style_of.size());
  // A heat map's title carries its cache's marker from the line charts.
  int maps = 0;
  for (const Section& s : sections) {
    for (const Figure& f : s.figures) {
      const auto* map = std::get_if<HeatMap>(&f.chart);
      if (map == nullptr || !style_of.count(map->series)) continue;
      ++maps;
      const std::string commands = ToGnuplot(*map, 0).commands;
      std::smatch m;
      ASSERT_TRUE(std::regex_search(commands, m, clause)) << commands;
      EXPECT_EQ(m[1].str() + " " + m[2].str(), style_of[map->series]) << map->title;
    }
  }
  EXPECT_GE(maps, 4);
}

TEST(ReportPlotsTest, KlAgainstBytesIsLogWithTheFullCacheOnTheFloor) {
  // On a linear axis one bad cache (knorm's KL 4) pressed every other onto 0; on a log axis the
  // full cache's KL 0 would be dropped by gnuplot without a word.
  const std::vector<Section> sections = PageSections({kDivergence});
  const LineChart* chart = nullptr;
  for (const Figure& f : sections[0].figures) {
    const auto* c = std::get_if<LineChart>(&f.chart);
    if (c != nullptr && c->title == "KL divergence against KV cache bytes") chart = c;
  }
  ASSERT_NE(chart, nullptr);
  EXPECT_TRUE(chart->LogY());
  // The smallest positive value of the fixture is q8_0's KL (or an error bar end below it).
  double smallest = INFINITY;
  for (const ChartSeries& s : chart->series)
    for (const ChartPoint& p : s.points)
      for (double y : {p.y, p.y_low, p.y_high})
        if (y > 0) smallest = std::min(smallest, y);
  const double floor = chart->LogYFloor();
  EXPECT_LT(floor, smallest / 10);
  EXPECT_GT(floor, smallest / 100.000001);
  EXPECT_NEAR(std::log10(floor), std::round(std::log10(floor)), 1e-9);
  const GnuplotPlot plot = ToGnuplot(*chart, 0);
  EXPECT_THAT(plot.commands, HasSubstr("set logscale y"));
  EXPECT_THAT(plot.commands,
              HasSubstr(absl::StrCat("set yrange [", absl::StrFormat("%.9g", floor), ":*]")));
  EXPECT_THAT(plot.commands,
              HasSubstr(absl::StrCat("set ytics add ('0' ", absl::StrFormat("%.9g", floor), ")")));
  // The full f32 cache is in its series' data, at the floor; no data line has y <= 0.
  size_t i = 0;
  for (const ChartSeries& s : chart->series) {
    if (s.points.empty()) continue;
    const std::string& data = plot.data_files[i++].second;
    EXPECT_EQ(Count(data, "\n"), static_cast<int>(s.points.size())) << s.title;
    std::istringstream lines(data);
    double x, y, low, high;
    while (lines >> x >> y >> low >> high) {
      EXPECT_GT(y, 0) << s.title;
      EXPECT_GT(low, 0) << s.title;
      if (s.title == "full") EXPECT_EQ(y, floor);
    }
  }
  EXPECT_EQ(i, plot.data_files.size());
}

TEST(ReportPlotsTest, DodgedSeriesOfEqualPointsAreDrawnApart) {
  // window and sinks have the same KL at both budgets (eviction_sweep_docs: 0.068 / 0.0675 at
  // 0.25): one hid the other. Dodged, each series' x moves by its own small shift.
  LineChart chart{.title = "t", .x_tics_at_values = true, .dodge_x = true};
  for (const char* name : {"a", "b", "c"})
    chart.series.push_back({.title = name, .points = {{.x = 0.25, .y = 1}, {.x = 0.5, .y = 2}}});
  chart.series.push_back({.title = "front", .points = {{.x = 0.25, .y = 1}}, .front = true});
  const GnuplotPlot plot = ToGnuplot(chart, 0);
  ASSERT_EQ(plot.data_files.size(), 4u);
  std::vector<double> first_x;
  for (size_t s = 0; s < 4; ++s) {
    std::istringstream lines(plot.data_files[s].second);
    double x, y, low, high;
    ASSERT_TRUE(lines >> x >> y >> low >> high);
    first_x.push_back(x);
  }
  // Shifts of -1.5%, 0, +1.5% of the span (0.25); the front stays where it is.
  EXPECT_NEAR(first_x[0], 0.25 - 0.015 * 0.25, 1e-12);
  EXPECT_NEAR(first_x[1], 0.25, 1e-12);
  EXPECT_NEAR(first_x[2], 0.25 + 0.015 * 0.25, 1e-12);
  EXPECT_EQ(first_x[3], 0.25);
  // The ticks are the budgets themselves.
  EXPECT_THAT(plot.commands, HasSubstr("set xtics (0.25, 0.5)"));
  // Without dodge_x the data are the values.
  chart.dodge_x = false;
  EXPECT_THAT(ToGnuplot(chart, 0).data_files[0].second, testing::StartsWith("0.25 1 "));
}

TEST(ReportPlotsTest, HeatMapOfOneColumnColoursItsCells) {
  // One haystack length, two depths: accuracy 0 (red) and 1 (green). Palette 0 is the colour
  // bar's first band; the drawn 0 cell adds a second polygon of it (`with image` drew no cell).
  HeatMap map{.title = "one length", .x_label = "length", .y_label = "depth"};
  map.x_names = {"768"};
  map.y_names = {"0", "1"};
  map.values = {{0.0}, {1.0}};
  map.cell_text = {{"0.00"}, {"1.00"}};
  auto svgs = RenderSvgs({ToGnuplot(map, 0)}, GnuplotOptions{});
  ASSERT_TRUE(svgs.ok()) << svgs.status();
  EXPECT_GE(Count((*svgs)[0], "<polygon fill = 'rgb(215,  48,  39)'"), 2);  // palette 0
  EXPECT_GE(Count((*svgs)[0], "<polygon fill = 'rgb( 26, 152,  80)'"), 1);  // palette 1
}

TEST(ReportStatsTest, WilsonIntervalMatchesStatsmodels) {
  // statsmodels.stats.proportion.proportion_confint(k, 10, method="wilson")
  const Interval none = WilsonInterval(0, 10), all = WilsonInterval(10, 10),
                 half = WilsonInterval(5, 10);
  EXPECT_NEAR(none.low, 0.0, 1e-12);
  EXPECT_NEAR(none.high, 0.27753, 1e-5);
  EXPECT_NEAR(all.low, 0.72247, 1e-5);
  EXPECT_NEAR(all.high, 1.0, 1e-12);
  EXPECT_NEAR(half.low, 0.23659, 1e-5);
  EXPECT_NEAR(half.high, 0.76341, 1e-5);
}

TEST(ReportStatsTest, ParetoFrontKeepsUndominatedPoints) {
  // (bytes, KL): (1, 5) (2, 3) (3, 4: beaten by (2, 3)) (4, 1) (4, 2: same bytes, worse).
  const std::vector<XY> points = {{3, 4}, {1, 5}, {4, 2}, {2, 3}, {4, 1}};
  EXPECT_EQ(ParetoFront(points, /*lower_is_better=*/true), (std::vector<size_t>{1, 3, 4}));
  // Accuracy (higher is better): (1, 0.2) (2, 0.9) dominate (3, 0.5) and (4, 0.9).
  const std::vector<XY> acc = {{1, 0.2}, {2, 0.9}, {3, 0.5}, {4, 0.9}};
  EXPECT_EQ(ParetoFront(acc, /*lower_is_better=*/false), (std::vector<size_t>{0, 1}));
}

// ---------------------------------------------------------------------------------------------
// A real browser.

std::string FindChromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    for (const char* dir : {"/usr/bin/", "/usr/local/bin/", "/snap/bin/"}) {
      const std::string path = std::string(dir) + name;
      if (::access(path.c_str(), X_OK) == 0) return path;
    }
  }
  return "";
}

// Runs a shell command; its exit status (-1 if it could not run).
int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return status == -1 || !WIFEXITED(status) ? -1 : WEXITSTATUS(status);
}

TEST(ReportBrowserTest, ChromiumRendersEveryPlotWithoutScriptErrors) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium not installed (Debian: apt-get install chromium)";
  const std::string dir = FreshTestDir("report_");
  const std::string page = dir + "/report.html";
  auto plots = WriteReport({kDivergence, kNiah, kPrefix}, page, {});
  ASSERT_TRUE(plots.ok()) << plots.status();
  const std::string flags =
      absl::StrCat(chromium, " --headless --disable-gpu --no-sandbox --user-data-dir=", dir,
                   "/profile --enable-logging=stderr --v=0 ");
  const std::string png = dir + "/report.png";
  ASSERT_EQ(Shell(absl::StrCat("timeout 120 ", flags, "--screenshot=", png,
                               " --window-size=1400,4000 file://", page, " > ", dir,
                               "/screenshot.log 2>&1")),
            0)
      << ReadAll(dir + "/screenshot.log");
  ASSERT_EQ(Shell(absl::StrCat("timeout 120 ", flags, "--dump-dom file://", page, " > ", dir,
                               "/dom.html 2> ", dir, "/dom.log")),
            0)
      << ReadAll(dir + "/dom.log");
  // Script errors are console messages ("Uncaught ...", "CONSOLE(...)" with level ERROR).
  for (const std::string log : {"/screenshot.log", "/dom.log"}) {
    const std::string text = ReadAll(dir + log);
    EXPECT_THAT(text, Not(HasSubstr("Uncaught"))) << log;
    EXPECT_THAT(text, Not(HasSubstr(":CONSOLE("))) << log;
  }
  // The PNG is the size asked for (width and height in the IHDR chunk, big-endian).
  const std::string image = ReadAll(png);
  ASSERT_GT(image.size(), 24u);
  EXPECT_EQ(image.substr(1, 3), "PNG");
  const auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(image[at])) << 24) | (uint32_t(uint8_t(image[at + 1])) << 16) |
           (uint32_t(uint8_t(image[at + 2])) << 8) | uint32_t(uint8_t(image[at + 3]));
  };
  EXPECT_EQ(be32(16), 1400u);
  EXPECT_EQ(be32(20), 4000u);
  // The browser parsed every plot as SVG with its drawing inside: the DOM it built has as many
  // <svg> elements as the page, each holding gnuplot's canvas with paths.
  const std::string dom = ReadAll(dir + "/dom.html");
  EXPECT_EQ(Count(dom, "<svg"), *plots);
  EXPECT_EQ(Count(dom, "gnuplot_canvas"), *plots);
  EXPECT_GE(Count(dom, "<path"), 10 * *plots);
}

// Lays the page out in Chromium at `width` px with a probe script added to a copy (the page itself
// has none) and returns what the probe found: every figure, plot or table wrapper whose
// right edge passes the viewport's (a table may, inside its scrolling wrapper), and (when
// `tables_fit`) every table wider than its wrapper (its columns cut off or hidden behind a scroll
// bar). Empty: the page fits.
std::string LayoutProblems(const std::string& chromium, const std::string& dir,
                           const std::string& page, int width, bool tables_fit) {
  std::string html = ReadAll(page);
  const std::string probe = absl::StrCat(
      "<script>\nconst out = []; const w = document.documentElement.clientWidth;\n"
      "document.querySelectorAll('figure, svg, .table').forEach((e, i) => {\n"
      "  const r = e.getBoundingClientRect();\n"
      "  if (r.width > 0 && r.right > w + 0.5) out.push(e.tagName + ' ' + i + ' ends at ' + "
      "r.right);\n});\n",
      tables_fit ? "document.querySelectorAll('.table').forEach((e, i) => {\n"
                   "  if (e.scrollWidth > e.clientWidth + 1) out.push('table ' + i + ' is ' + "
                   "e.scrollWidth + ' px in ' + e.clientWidth);\n});\n"
                 : "",
      "const p = document.createElement('pre'); p.textContent = 'LAYOUT[' + out.join('; ') + "
      "']';\ndocument.body.appendChild(p);\n</script>\n");
  html.insert(html.rfind("</body>"), probe);
  const std::string probed = absl::StrCat(dir, "/probed_", width, ".html");
  WriteBytes(probed, html);
  const std::string dom = absl::StrCat(dir, "/probed_", width, ".dom");
  const int rc =
      Shell(absl::StrCat("timeout 120 ", chromium,
                         " --headless --disable-gpu --no-sandbox --hide-scrollbars "
                         "--user-data-dir=",
                         dir, "/profile --window-size=", width, ",3000 --dump-dom file://", probed,
                         " > ", dom, " 2> ", dom, ".log"));
  if (rc != 0) return absl::StrCat("chromium exit ", rc, ": ", ReadAll(dom + ".log"));
  const std::string text = ReadAll(dom);
  const size_t start = text.find("<pre>LAYOUT[");
  if (start == std::string::npos) return "the probe did not run";
  return text.substr(start + 12, text.find("]</pre>", start) - start - 12);
}

TEST(ReportBrowserTest, PageFitsItsWindow) {
  // At 1400 px the NIAH heat maps' right column ran past the page (their colour bars cut) and the
  // results tables were wider than the page (columns cut). Now plots shrink to their column and
  // tables use the short labels; on a narrow window a table may scroll, but nothing passes the
  // window's edge.
  const std::string chromium = FindChromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium not installed (Debian: apt-get install chromium)";
  const std::string dir = FreshTestDir("report_");
  const std::string page = dir + "/report.html";
  ASSERT_TRUE(WriteReport({kDivergence, kNiah, kPrefix}, page, {}).ok());
  EXPECT_EQ(LayoutProblems(chromium, dir, page, 1400, /*tables_fit=*/true), "");
  EXPECT_EQ(LayoutProblems(chromium, dir, page, 700, /*tables_fit=*/false), "");
}

}  // namespace
}  // namespace kvbench
