// HTML pieces of the report page: escaping, tables, numbers with standard errors, byte counts.
// Nothing here knows about results; report/sections.cc fills the tables.
#ifndef KVBENCH_REPORT_HTML_H_
#define KVBENCH_REPORT_HTML_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvbench {

// Text with &, <, >, " and ' escaped, for element content and attribute values.
std::string HtmlEscape(std::string_view text);

// A table: header cells and rows of cells, every cell already HTML (escape text first). Render
// leaves out a column that is empty in every row.
struct HtmlTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> numeric;  // per column: right-aligned; missing entries are text

  std::string Render() const;
};

// "0.0486 ± 0.0091" (4 significant digits), "0.0486" without a standard error, "" without a value.
std::string WithError(std::optional<double> value, std::optional<double> se);

// A number with up to 4 significant digits; "" when absent.
std::string Short(std::optional<double> value);

// 1.23 MB / 456 kB / 789 B (powers of 1000, as the plots' axes).
std::string Bytes(std::optional<double> bytes);

}  // namespace kvbench

#endif  // KVBENCH_REPORT_HTML_H_
