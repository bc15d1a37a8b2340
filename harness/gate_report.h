// Renderings of a GateReport (harness/gate.h): a plain-text table for the terminal, a Markdown
// summary for CI pages and JUnit XML for CI systems that read test results; and the description of
// what a baseline update changes.
//
// JUnit layout: one <testsuite> named after the rules file; one <testcase> per check with
// classname = the row key and name = "metric rule"; a failed check carries <failure message=...>.
// Every attribute and text is XML-escaped; control characters XML 1.0 forbids become U+FFFD.
#ifndef KVBENCH_HARNESS_GATE_REPORT_H_
#define KVBENCH_HARNESS_GATE_REPORT_H_

#include <string>
#include <string_view>

#include "harness/csv.h"
#include "harness/gate.h"

namespace kvbench {

// Columns: status, metric, row, baseline, current, change, limit; then the failure messages and a
// one-line verdict.
std::string FormatGateTable(const GateReport& report);

// "## kvbench gate: FAIL" with a summary line, a table of the failures, then every check.
std::string FormatGateMarkdown(const GateReport& report);

// A JUnit XML document (see the header comment).
std::string FormatGateJUnit(const GateReport& report);

// Text that is safe inside an XML attribute or element.
std::string XmlEscape(std::string_view text);

// What replacing `baseline` by `current` changes: rows added and removed, and for rows on both
// sides every column a rule reads whose value differs ("  kld_mean: 0.012 -> 0.015").
std::string DescribeBaselineUpdate(const GateRules& rules, const CsvTable& baseline,
                                   const CsvTable& current);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_GATE_REPORT_H_
