#include "report/html.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kvbench {

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string HtmlTable::Render() const {
  // A column empty in every row (decode time of a lockstep-only run) is left out: it says nothing
  // and pushes the others off a narrow page.
  std::vector<size_t> shown;
  for (size_t c = 0; c < header.size(); ++c) {
    bool filled = rows.empty();
    for (const auto& row : rows) filled |= c < row.size() && !row[c].empty();
    if (filled) shown.push_back(c);
  }
  const auto cell_class = [&](size_t c) {
    return c < numeric.size() && numeric[c] ? " class=\"num\"" : "";
  };
  std::string html = "<div class=\"table\"><table>\n<thead><tr>";
  for (size_t c : shown) absl::StrAppend(&html, "<th", cell_class(c), ">", header[c], "</th>");
  html += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    html += "<tr>";
    for (size_t c : shown)
      absl::StrAppend(&html, "<td", cell_class(c), ">", c < row.size() ? row[c] : "", "</td>");
    html += "</tr>\n";
  }
  html += "</tbody></table></div>\n";
  return html;
}

std::string Short(std::optional<double> value) {
  if (!value) return "";
  return absl::StrFormat("%.4g", *value);
}

std::string WithError(std::optional<double> value, std::optional<double> se) {
  if (!value) return "";
  if (!se) return Short(value);
  return absl::StrCat(Short(value), " &plusmn; ", Short(se));
}

std::string Bytes(std::optional<double> bytes) {
  if (!bytes) return "";
  const double b = *bytes;
  if (std::fabs(b) >= 1e9) return absl::StrFormat("%.3g GB", b / 1e9);
  if (std::fabs(b) >= 1e6) return absl::StrFormat("%.3g MB", b / 1e6);
  if (std::fabs(b) >= 1e3) return absl::StrFormat("%.3g kB", b / 1e3);
  return absl::StrFormat("%.0f B", b);
}

}  // namespace kvbench
