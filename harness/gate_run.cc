#include "harness/gate_run.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "harness/csv.h"
#include "harness/gate.h"
#include "harness/gate_report.h"

namespace kvbench {
namespace {

int Fail(const GateRunOptions& o, const absl::Status& status) {
  std::fprintf(o.err, "kvbench gate: error: %s\n", status.ToString().c_str());
  return 2;
}

void Print(FILE* f, const std::string& text) { std::fwrite(text.data(), 1, text.size(), f); }

// A baseline must be a complete, healthy run: never freeze an error row into it. The first error
// row of `report` as the message of a refused --update, or "" when there is none (or the rules
// allow errors).
std::string ErrorRow(const GateRules& rules, const GateReport& report) {
  if (rules.allow_errors) return "";
  for (const GateCheck& c : report.checks) {
    if (c.kind == GateCheckKind::kErrorRow) return absl::StrCat(c.row, ": ", c.message);
  }
  return "";
}

}  // namespace

int RunGate(const GateRunOptions& o) {
  if (o.baseline_path.empty() || o.current_path.empty() || o.rules_path.empty()) {
    return Fail(o, absl::InvalidArgumentError("--baseline, --current and --rules are required"));
  }
  absl::StatusOr<GateRules> rules = ReadGateRulesFile(o.rules_path);
  if (!rules.ok()) return Fail(o, rules.status());
  absl::StatusOr<CsvTable> current = ReadCsvFile(o.current_path);
  if (!current.ok()) return Fail(o, current.status());
  absl::StatusOr<CsvTable> baseline = ReadCsvFile(o.baseline_path);
  if (!baseline.ok()) {
    if (!o.update || !absl::IsNotFound(baseline.status())) return Fail(o, baseline.status());
    // Bootstrap: the first baseline of a new experiment, under the checks a replaced one gets:
    // the rules' key and metric columns are there (the gate of the run against itself) and no
    // row is an error.
    absl::StatusOr<GateReport> self =
        EvaluateGate(*rules, *current, o.current_path, *current, o.current_path);
    if (!self.ok()) return Fail(o, self.status());
    if (const std::string error = ErrorRow(*rules, *self); !error.empty()) {
      std::fprintf(o.err,
                   "kvbench gate: --update refused: %s has error rows (%s); baseline %s not "
                   "created\n",
                   o.current_path.c_str(), error.c_str(), o.baseline_path.c_str());
      return 1;
    }
    if (absl::Status s = WriteFileAtomically(o.baseline_path, FormatCsv(*current)); !s.ok())
      return Fail(o, s);
    std::fprintf(o.out, "created baseline %s from %s (%zu rows)\n", o.baseline_path.c_str(),
                 o.current_path.c_str(), current->rows.size());
    return 0;
  }
  absl::StatusOr<GateReport> report =
      EvaluateGate(*rules, *baseline, o.baseline_path, *current, o.current_path);
  if (!report.ok()) return Fail(o, report.status());
  Print(o.out, FormatGateTable(*report));
  if (!o.markdown_path.empty()) {
    if (absl::Status s = WriteFileAtomically(o.markdown_path, FormatGateMarkdown(*report)); !s.ok())
      return Fail(o, s);
  }
  if (!o.junit_path.empty()) {
    if (absl::Status s = WriteFileAtomically(o.junit_path, FormatGateJUnit(*report)); !s.ok())
      return Fail(o, s);
  }
  if (!o.update) return report->passed() ? 0 : 1;

  if (const std::string error = ErrorRow(*rules, *report); !error.empty()) {
    std::fprintf(o.err,
                 "kvbench gate: --update refused: %s has error rows (%s); baseline %s unchanged\n",
                 o.current_path.c_str(), error.c_str(), o.baseline_path.c_str());
    return 1;
  }
  const std::string changes = DescribeBaselineUpdate(*rules, *baseline, *current);
  if (absl::Status s = WriteFileAtomically(o.baseline_path, FormatCsv(*current)); !s.ok())
    return Fail(o, s);
  Print(o.out, absl::StrCat("\nupdated baseline ", o.baseline_path, " from ", o.current_path, ":\n",
                            changes));
  return 0;
}

}  // namespace kvbench
