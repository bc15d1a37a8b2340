#include "report/report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/status.h"
#include "formats/atomic_file.h"
#include "harness/run_metadata.h"
#include "report/html.h"
#include "report/sections.h"

namespace kvbench {
namespace {

constexpr const char* kStyle = R"css(
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 24px 48px;
       color: #222; line-height: 1.45; }
h1 { margin-top: 24px; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 40px; }
code { font-size: 0.92em; background: #f4f4f4; padding: 0 3px; }
figure { margin: 16px 0 28px; min-width: 0; }
figure svg { width: 100%; max-width: 100%; height: auto; display: block; }
section > figure svg { max-width: 960px; }
figcaption { color: #444; font-size: 0.93em; max-width: 900px; overflow-wrap: anywhere; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 340px), 1fr));
        gap: 12px 24px; }
.grid figure { margin: 8px 0 16px; }
.table { overflow-x: auto; max-width: 100%; margin: 12px 0 24px; }
table { border-collapse: collapse; font-size: 0.88em; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 3px 8px; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f0f0f0; } td.num, th.num { text-align: right; white-space: nowrap; }
nav ul { columns: 2; } details { margin: 12px 0; } summary { cursor: pointer; }
)css";

}  // namespace

std::string InlineSvg(const std::string& svg, const std::string& prefix) {
  std::string body = svg;
  if (size_t start = body.find("<svg"); start != std::string::npos) body = body.substr(start);
  return absl::StrReplaceAll(body, {{"id='", absl::StrCat("id='", prefix)},
                                    {"id=\"", absl::StrCat("id=\"", prefix)},
                                    {"href='#", absl::StrCat("href='#", prefix)},
                                    {"href=\"#", absl::StrCat("href=\"#", prefix)},
                                    {"url(#", absl::StrCat("url(#", prefix)}});
}

absl::StatusOr<std::string> BuildReportHtml(const std::vector<ResultsFile>& files,
                                            const ReportOptions& options) {
  std::vector<Section> sections;
  for (size_t i = 0; i < files.size(); ++i) {
    for (Section& s : SectionsFor(files[i], static_cast<int>(i))) sections.push_back(std::move(s));
  }
  AssignSeriesStyles(&sections);
  std::vector<GnuplotPlot> plots;
  for (const Section& s : sections) {
    for (const Figure& f : s.figures) {
      const int id = static_cast<int>(plots.size());
      plots.push_back(
          std::visit([id](const auto& chart) { return ToGnuplot(chart, id); }, f.chart));
    }
  }
  ASSIGN_OR_RETURN(const std::vector<std::string> svgs, RenderSvgs(plots, options.gnuplot));

  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
      HtmlEscape(options.title), "</title>\n<style>", kStyle, "</style>\n</head>\n<body>\n<h1>",
      HtmlEscape(options.title), "</h1>\n<p>Generated ", UtcTimestamp(), " from ", files.size(),
      " file(s). How to read each plot: <code>docs/report.md</code>.</p>\n<nav><ul>\n");
  for (const Section& s : sections)
    absl::StrAppend(&html, "<li><a href=\"#", s.id, "\">", HtmlEscape(s.title), "</a></li>\n");
  html += "</ul></nav>\n";
  size_t plot = 0;
  for (const Section& s : sections) {
    absl::StrAppend(&html, "<section id=\"", s.id, "\">\n<h2>", HtmlEscape(s.title), "</h2>\n",
                    s.intro);
    bool in_grid = false;
    for (const Figure& f : s.figures) {
      if (f.small != in_grid) {
        html += f.small ? "<div class=\"grid\">\n" : "</div>\n";
        in_grid = f.small;
      }
      absl::StrAppend(&html, "<figure class=\"plot\">\n",
                      InlineSvg(svgs[plot], absl::StrCat("p", plot, "_")), "\n<figcaption>",
                      f.caption, "</figcaption>\n</figure>\n");
      ++plot;
    }
    if (in_grid) html += "</div>\n";
    for (const std::string& t : s.tables) html += t;
    html += "</section>\n";
  }
  html += "</body>\n</html>\n";
  return html;
}

absl::StatusOr<int> WriteReport(const std::vector<std::string>& csv_paths,
                                const std::string& output, const ReportOptions& options) {
  if (csv_paths.empty()) return absl::InvalidArgumentError("no results CSV given");
  RETURN_IF_ERROR(CheckOutputPath(output));
  std::vector<ResultsFile> files;
  for (const std::string& path : csv_paths) {
    ASSIGN_OR_RETURN(ResultsFile file, LoadResults(path));
    files.push_back(std::move(file));
  }
  ASSIGN_OR_RETURN(const std::string html, BuildReportHtml(files, options));
  RETURN_IF_ERROR(WriteFileAtomically(output, html));
  size_t plots = 0;
  for (size_t pos = html.find("<svg"); pos != std::string::npos; pos = html.find("<svg", pos + 1))
    ++plots;
  return static_cast<int>(plots);
}

}  // namespace kvbench
