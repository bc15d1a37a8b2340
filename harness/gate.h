// The regression gate: compares a results CSV (`current`) with a committed one (`baseline`) under
// rules written in YAML, and says which (row, rule) checks pass.
//
// Rules file (docs/gate.md has the full reference):
//
//   key: [model, policy, k_store, v_store, params]   # columns that identify a row (required)
//   allow_missing: false          # sets both of the next two
//   allow_missing_in_current: false   # a baseline row absent from current passes
//   allow_new_rows: false         # a current row absent from the baseline passes
//   allow_errors: false           # a current row with a non-empty `error` column passes
//   rules:
//     - metric: kld_mean          # a column of the CSV
//       max_increase_ratio: 0.05  # exactly one limit: max_increase, max_increase_ratio,
//                                 #   max_decrease, max_decrease_ratio, max, min
//       where: {policy: [h2o, tova]}   # optional: only rows whose columns hold these values
//       ratio_to: {policy: full}  # optional: divide by the same metric of the row matching this
//       ratio_same: [model]       #   filter in the SAME csv (and agreeing on these columns)
//
// Limits, with b the baseline value and c the current one (both after ratio_to):
//   max_increase X        c - b <= X            max_decrease X        b - c <= X
//   max_increase_ratio r  c - b <= r * |b|      max_decrease_ratio r  b - c <= r * |b|
//   max X                 c <= X                min X                 c >= X
// max and min need no baseline row, so they also check rows new in current.
//
// ratio_to exists for timing: absolute times differ between machines, a policy's decode time over
// the reference's measured in the same process does not (much). The baseline side is the same ratio
// computed inside the baseline CSV.
//
// Errors: malformed rules, and rules naming a column the CSVs lack, are InvalidArgument with the
// rules file's line number; duplicate keys in a CSV are InvalidArgument. A value that is empty,
// not a number, NaN or infinite where a rule needs one is a failed check (with the reason), not an
// error.
#ifndef KVBENCH_HARNESS_GATE_H_
#define KVBENCH_HARNESS_GATE_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/csv.h"

namespace kvbench {

enum class GateLimitKind {
  kMaxIncrease,
  kMaxIncreaseRatio,
  kMaxDecrease,
  kMaxDecreaseRatio,
  kMax,
  kMin
};

// The YAML name of a limit kind ("max_increase_ratio").
std::string_view GateLimitName(GateLimitKind kind);

struct GateRule {
  std::string metric;
  GateLimitKind kind = GateLimitKind::kMax;
  double limit = 0;
  // column -> accepted values (a row passes when its value is one of them).
  std::map<std::string, std::vector<std::string>> where;
  std::map<std::string, std::string> ratio_to;  // empty: compare the metric itself
  std::vector<std::string> ratio_same;          // columns the reference row shares with the row
  int line = 0;                                 // 1-based line in the rules file

  bool NeedsBaseline() const { return kind != GateLimitKind::kMax && kind != GateLimitKind::kMin; }
  // "kld_mean" or "decode_ms_p50/[policy=full]".
  std::string MetricLabel() const;
  // "max_increase_ratio 0.05" (plus " where policy=h2o" when filtered).
  std::string Describe() const;
};

struct GateRules {
  std::string source;  // the rules file's name, for messages
  std::vector<std::string> key;
  bool allow_missing_in_current = false;
  bool allow_new_rows = false;
  bool allow_errors = false;
  std::vector<GateRule> rules;
};

// Parses rules text; `source` names it in errors ("configs/gates/ci.yaml:7: ...").
absl::StatusOr<GateRules> ParseGateRules(std::string_view yaml_text, std::string_view source);
// Reads and parses a rules file; NotFound when it does not exist.
absl::StatusOr<GateRules> ReadGateRulesFile(const std::string& path);

enum class GateCheckKind {
  kRule,            // a metric rule on one row
  kMissingRow,      // in the baseline, not in current
  kNewRow,          // in current, not in the baseline
  kErrorRow,        // current row has a non-empty `error`
  kRuleMatchedNone  // a rule whose filters select no row of current (a typo would hide regressions)
};

// One (row, rule) verdict.
struct GateCheck {
  GateCheckKind kind = GateCheckKind::kRule;
  std::string metric;  // rule's MetricLabel(); "(row)" for row checks
  std::string rule;    // rule's Describe(); the row check's name otherwise
  std::string row;     // "model=stories260K policy=h2o ..." (key columns)
  std::optional<double> baseline, current;
  std::string limit;  // "<= 0.0105 (+5%)"
  bool passed = false;
  std::string message;  // why it failed (or why a row check was allowed)
};

struct GateReport {
  std::string baseline_source, current_source, rules_source;
  std::vector<std::string> key;
  std::vector<GateCheck> checks;
  int failures = 0;
  bool passed() const { return failures == 0; }
};

// Evaluates every rule on every matching row. Fails (InvalidArgument) when a key or rule column is
// missing from a CSV that needs it, or a CSV holds two rows with the same key.
absl::StatusOr<GateReport> EvaluateGate(const GateRules& rules, const CsvTable& baseline,
                                        std::string_view baseline_source, const CsvTable& current,
                                        std::string_view current_source);

// "model=a policy=b" for row `row` of `table` over the key columns (which must exist).
std::string GateRowKey(const CsvTable& table, const std::vector<std::string>& key, size_t row);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_GATE_H_
