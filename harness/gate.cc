#include "harness/gate.h"

#include <cmath>
#include <set>
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "formats/read_file.h"
#include "harness/yaml_reader.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {
namespace {

// ---------------------------------------------------------------------------------------------
// Rules file.

constexpr struct {
  std::string_view name;
  GateLimitKind kind;
} kLimitNames[] = {
    {"max_increase", GateLimitKind::kMaxIncrease},
    {"max_increase_ratio", GateLimitKind::kMaxIncreaseRatio},
    {"max_decrease", GateLimitKind::kMaxDecrease},
    {"max_decrease_ratio", GateLimitKind::kMaxDecreaseRatio},
    {"max", GateLimitKind::kMax},
    {"min", GateLimitKind::kMin},
};

// Reads a rules file with the source name and line number in every error.
class RulesParser {
 public:
  explicit RulesParser(std::string source) : reader_(std::move(source)) {}

  absl::Status Error(const YAML::Node& node, std::string_view what) const {
    return reader_.Error(node, std::string(what));
  }

  absl::StatusOr<std::string> Scalar(const YAML::Node& node, std::string_view field) const {
    if (!node.IsScalar())
      return Error(node, absl::StrCat(std::string(field), ": expected a single value"));
    return node.Scalar();
  }

  absl::StatusOr<bool> Bool(const YAML::Node& node, std::string_view field) const {
    ASSIGN_OR_RETURN(std::string text, Scalar(node, field));
    if (text == "true") return true;
    if (text == "false") return false;
    return Error(node, absl::StrCat(std::string(field), ": '", text, "' is not true or false"));
  }

  absl::StatusOr<double> Number(const YAML::Node& node, std::string_view field) const {
    ASSIGN_OR_RETURN(std::string text, Scalar(node, field));
    double v;
    if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
      return Error(node, absl::StrCat(std::string(field), ": '", text, "' is not a finite number"));
    }
    return v;
  }

  // A list of scalars (a lone scalar counts as a list of one when `scalar_ok`).
  absl::StatusOr<std::vector<std::string>> List(const YAML::Node& node, std::string_view field,
                                                bool scalar_ok) const {
    std::vector<std::string> out;
    if (scalar_ok && node.IsScalar()) {
      out.push_back(node.Scalar());
      return out;
    }
    if (!node.IsSequence())
      return Error(node, absl::StrCat(std::string(field), ": expected a list"));
    for (const YAML::Node& item : node) {
      ASSIGN_OR_RETURN(std::string s, Scalar(item, field));
      out.push_back(s);
    }
    if (out.empty()) return Error(node, absl::StrCat(std::string(field), ": the list is empty"));
    return out;
  }

  absl::StatusOr<GateRule> Rule(const YAML::Node& node) const {
    if (!node.IsMap())
      return Error(node, "each entry of rules must be a map (metric: ..., <limit>: ...)");
    GateRule rule;
    rule.line = node.Mark().is_null() ? 0 : node.Mark().line + 1;
    int n_limits = 0;
    bool has_metric = false;
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& value = kv.second;
      if (key == "metric") {
        ASSIGN_OR_RETURN(std::string s, Scalar(value, "metric"));
        if (s.empty()) return Error(value, "metric: empty column name");
        rule.metric = s;
        has_metric = true;
      } else if (key == "where") {
        if (!value.IsMap())
          return Error(value, "where: expected a map {column: value or [values]}");
        for (const auto& w : value) {
          const std::string column = w.first.Scalar();
          ASSIGN_OR_RETURN(std::vector<std::string> values,
                           List(w.second, absl::StrCat("where.", column), true));
          rule.where[column] = values;
        }
      } else if (key == "ratio_to") {
        if (!value.IsMap() || value.size() == 0) {
          return Error(
              value, "ratio_to: expected a non-empty map {column: value} naming the reference row");
        }
        for (const auto& w : value) {
          const std::string column = w.first.Scalar();
          ASSIGN_OR_RETURN(std::string s, Scalar(w.second, absl::StrCat("ratio_to.", column)));
          rule.ratio_to[column] = s;
        }
      } else if (key == "ratio_same") {
        ASSIGN_OR_RETURN(std::vector<std::string> cols, List(value, "ratio_same", false));
        rule.ratio_same = cols;
      } else {
        bool is_limit = false;
        for (const auto& l : kLimitNames) {
          if (key != l.name) continue;
          is_limit = true;
          ASSIGN_OR_RETURN(double v, Number(value, key));
          const bool relative = l.kind != GateLimitKind::kMax && l.kind != GateLimitKind::kMin;
          if (relative && v < 0) {
            return Error(
                value, absl::StrCat(key, ": ", v,
                                    " is negative (it would fail an unchanged result); use >= 0"));
          }
          rule.kind = l.kind;
          rule.limit = v;
          ++n_limits;
        }
        if (!is_limit) {
          return Error(
              kv.first,
              absl::StrCat("unknown rule key '", key,
                           "'; valid: metric, max_increase, max_increase_ratio, max_decrease, "
                           "max_decrease_ratio, max, min, where, ratio_to, ratio_same"));
        }
      }
    }
    if (!has_metric) return Error(node, "rule without 'metric'");
    if (n_limits != 1) {
      return Error(node,
                   absl::StrCat("rule on '", rule.metric, "' has ", n_limits,
                                " limits; give exactly one of max_increase, max_increase_ratio, "
                                "max_decrease, max_decrease_ratio, max, min"));
    }
    if (!rule.ratio_same.empty() && rule.ratio_to.empty()) {
      return Error(node, "ratio_same without ratio_to");
    }
    return rule;
  }

  absl::StatusOr<GateRules> File(std::string_view text) const {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      return reader_.SyntaxError(absl::string_view(text.data(), text.size()), e,
                                 "malformed YAML: ");
    }
    RETURN_IF_ERROR(reader_.CheckNoDuplicateKeys(root));
    if (!root.IsMap()) return Error(root, "expected a map with key: and rules:");
    GateRules rules;
    rules.source = reader_.source();
    std::optional<bool> allow_missing, allow_in_current, allow_new;
    bool has_key = false, has_rules = false;
    try {
      for (const auto& kv : root) {
        const std::string key = kv.first.Scalar();
        const YAML::Node& value = kv.second;
        if (key == "key") {
          ASSIGN_OR_RETURN(std::vector<std::string> cols, List(value, "key", false));
          std::set<std::string> seen;
          for (const std::string& c : cols) {
            if (c.empty()) return Error(value, "key: empty column name");
            if (!seen.insert(c).second)
              return Error(value, absl::StrCat("key: column '", c, "' listed twice"));
          }
          rules.key = cols;
          has_key = true;
        } else if (key == "allow_missing" || key == "allow_missing_in_current" ||
                   key == "allow_new_rows" || key == "allow_errors") {
          ASSIGN_OR_RETURN(bool b, Bool(value, key));
          if (key == "allow_missing") allow_missing = b;
          if (key == "allow_missing_in_current") allow_in_current = b;
          if (key == "allow_new_rows") allow_new = b;
          if (key == "allow_errors") rules.allow_errors = b;
        } else if (key == "rules") {
          if (!value.IsSequence() || value.size() == 0)
            return Error(value, "rules: expected a non-empty list");
          for (const YAML::Node& r : value) {
            ASSIGN_OR_RETURN(GateRule rule, Rule(r));
            rules.rules.push_back(std::move(rule));
          }
          has_rules = true;
        } else {
          return Error(kv.first,
                       absl::StrCat("unknown key '", key,
                                    "'; valid: key, allow_missing, allow_missing_in_current, "
                                    "allow_new_rows, allow_errors, rules"));
        }
      }
    } catch (const YAML::Exception& e) {  // e.g. a map used as a key: Scalar() on a non-scalar
      return reader_.Error(e.mark, e.msg);
    }
    if (!has_key) return Error(root, "missing 'key' (the columns that identify a row)");
    if (!has_rules) return Error(root, "missing 'rules'");
    rules.allow_missing_in_current = allow_in_current.value_or(allow_missing.value_or(false));
    rules.allow_new_rows = allow_new.value_or(allow_missing.value_or(false));
    return rules;
  }

 private:
  YamlReader reader_;
};

// ---------------------------------------------------------------------------------------------
// Evaluation.

std::string FormatNumber(double v) { return absl::StrFormat("%.6g", v); }

std::string FormatPercent(double ratio) { return absl::StrFormat("%+.4g%%", ratio * 100); }

// One CSV with its rows indexed by key.
struct Side {
  const CsvTable* table;
  std::string source;
  std::vector<int> key_cols;
  std::unordered_map<std::string, size_t> row_of_key;
  std::vector<std::string> keys;  // per row
};

// Joins the key values with a separator that cannot occur in CSV text parsed as one field.
std::string KeyOf(const CsvTable& t, const std::vector<int>& cols, size_t row) {
  std::string k;
  for (int c : cols) absl::StrAppend(&k, t.rows[row][c], "\x1f");
  return k;
}

absl::Status Index(const GateRules& rules, const CsvTable& table, const std::string& source,
                   Side* side) {
  side->table = &table;
  side->source = source;
  for (const std::string& k : rules.key) {
    const int c = table.Column(k);
    if (c < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(rules.source, ": key column '", k, "' is not a column of ", source,
                       " (columns: ", absl::StrJoin(table.header, ", "), ")"));
    }
    side->key_cols.push_back(c);
  }
  for (size_t r = 0; r < table.rows.size(); ++r) {
    side->keys.push_back(KeyOf(table, side->key_cols, r));
    auto [it, inserted] = side->row_of_key.emplace(side->keys.back(), r);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": data rows ", it->second + 1, " and ", r + 1, " have the same key ",
          GateRowKey(table, rules.key, r),
          "; add the column that tells them apart (e.g. repetition) to key: in ", rules.source));
    }
  }
  return absl::OkStatus();
}

absl::Status RequireColumn(const GateRules& rules, const GateRule& rule, const CsvTable& table,
                           const std::string& source, const std::string& column,
                           std::string_view role) {
  if (table.Column(column) >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      rules.source, ":", rule.line, ": ", std::string(role), " '", column, "' is not a column of ",
      source, " (columns: ", absl::StrJoin(table.header, ", "), ")"));
}

// Every column `rule` names must be in `table`.
absl::Status RuleColumns(const GateRules& rules, const GateRule& rule, const CsvTable& table,
                         const std::string& source) {
  absl::Status s = RequireColumn(rules, rule, table, source, rule.metric, "metric");
  for (const auto& [c, _] : rule.where) {
    if (s.ok()) s = RequireColumn(rules, rule, table, source, c, "where column");
  }
  for (const auto& [c, _] : rule.ratio_to) {
    if (s.ok()) s = RequireColumn(rules, rule, table, source, c, "ratio_to column");
  }
  for (const std::string& c : rule.ratio_same) {
    if (s.ok()) s = RequireColumn(rules, rule, table, source, c, "ratio_same column");
  }
  return s;
}

// The baseline needs the columns of the rules that compare with it; bounds (max, min) only read
// current.
absl::Status ValidateColumns(const GateRules& rules, const CsvTable& table,
                             const std::string& source, bool baseline) {
  for (const GateRule& rule : rules.rules) {
    if (baseline && !rule.NeedsBaseline()) continue;
    RETURN_IF_ERROR(RuleColumns(rules, rule, table, source));
  }
  return absl::OkStatus();
}

bool Matches(const CsvTable& t, size_t row,
             const std::map<std::string, std::vector<std::string>>& where) {
  for (const auto& [column, values] : where) {
    const std::string& v = t.rows[row][t.Column(column)];
    bool any = false;
    for (const std::string& accepted : values) any = any || v == accepted;
    if (!any) return false;
  }
  return true;
}

// The number in `column` of `row`, or why there is none.
absl::StatusOr<double> Cell(const CsvTable& t, size_t row, const std::string& column) {
  const std::string& text = t.rows[row][t.Column(column)];
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(column, " is empty"));
  double v;
  if (!absl::SimpleAtod(text, &v))
    return absl::InvalidArgumentError(absl::StrCat(column, " '", text, "' is not a number"));
  // Gated metrics are finite by construction; NaN or inf means the measurement broke.
  if (std::isnan(v)) return absl::InvalidArgumentError(absl::StrCat(column, " is NaN"));
  if (std::isinf(v))
    return absl::InvalidArgumentError(absl::StrCat(column, " is ", v > 0 ? "+inf" : "-inf"));
  return v;
}

// The rule's value for `row` of `t`: the metric, or the metric over the reference row's.
absl::StatusOr<double> RuleValue(const GateRule& rule, const CsvTable& t, size_t row) {
  absl::StatusOr<double> v = Cell(t, row, rule.metric);
  if (!v.ok() || rule.ratio_to.empty()) return v;
  std::vector<size_t> refs;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    bool ok = true;
    for (const auto& [c, value] : rule.ratio_to) ok = ok && t.rows[r][t.Column(c)] == value;
    for (const std::string& c : rule.ratio_same)
      ok = ok && t.rows[r][t.Column(c)] == t.rows[row][t.Column(c)];
    if (ok) refs.push_back(r);
  }
  if (refs.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ratio_to reference ", rule.MetricLabel(), " matches ", refs.size(), " rows",
                     refs.empty() ? "" : " (name more columns in ratio_to or ratio_same)"));
  }
  absl::StatusOr<double> ref = Cell(t, refs[0], rule.metric);
  if (!ref.ok())
    return absl::InvalidArgumentError(absl::StrCat("reference row: ", ref.status().message()));
  if (*ref == 0)
    return absl::InvalidArgumentError(absl::StrCat("reference row: ", rule.metric, " is 0"));
  return *v / *ref;
}

// Fills limit, passed and message of a rule check whose values are known.
void Judge(const GateRule& rule, GateCheck* check) {
  const double c = *check->current;
  const double b = check->baseline.value_or(0);
  double bound = 0;
  std::string what;
  switch (rule.kind) {
    case GateLimitKind::kMax:
      bound = rule.limit;
      what = "";
      break;
    case GateLimitKind::kMin:
      bound = rule.limit;
      break;
    case GateLimitKind::kMaxIncrease:
      bound = b + rule.limit;
      what = absl::StrCat(" (+", FormatNumber(rule.limit), ")");
      break;
    case GateLimitKind::kMaxIncreaseRatio:
      bound = b + rule.limit * std::fabs(b);
      what = absl::StrCat(" (", FormatPercent(rule.limit), ")");
      break;
    case GateLimitKind::kMaxDecrease:
      bound = b - rule.limit;
      what = absl::StrCat(" (-", FormatNumber(rule.limit), ")");
      break;
    case GateLimitKind::kMaxDecreaseRatio:
      bound = b - rule.limit * std::fabs(b);
      what = absl::StrCat(" (", FormatPercent(-rule.limit), ")");
      break;
  }
  const bool upper = rule.kind == GateLimitKind::kMax || rule.kind == GateLimitKind::kMaxIncrease ||
                     rule.kind == GateLimitKind::kMaxIncreaseRatio;
  check->limit = absl::StrCat(upper ? "<= " : ">= ", FormatNumber(bound), what);
  // Written so that a NaN (inf - inf) fails.
  check->passed = upper ? (c <= bound) : (c >= bound);
  if (!check->passed) {
    check->message = absl::StrCat(rule.MetricLabel(), " = ", FormatNumber(c),
                                  upper ? " exceeds " : " is below ", "the limit ", check->limit);
    if (check->baseline) absl::StrAppend(&check->message, " (baseline ", FormatNumber(b), ")");
  }
}

}  // namespace

std::string_view GateLimitName(GateLimitKind kind) {
  for (const auto& l : kLimitNames) {
    if (l.kind == kind) return l.name;
  }
  return "?";
}

std::string GateRule::MetricLabel() const {
  if (ratio_to.empty()) return metric;
  return absl::StrCat(metric, "/[", absl::StrJoin(ratio_to, " ", absl::PairFormatter("=")), "]");
}

std::string GateRule::Describe() const {
  std::string s = absl::StrCat(std::string(GateLimitName(kind)), " ", FormatNumber(limit));
  if (!where.empty()) {
    std::vector<std::string> parts;
    for (const auto& [c, values] : where)
      parts.push_back(absl::StrCat(c, "=", absl::StrJoin(values, "|")));
    absl::StrAppend(&s, " where ", absl::StrJoin(parts, " "));
  }
  return s;
}

absl::StatusOr<GateRules> ParseGateRules(std::string_view yaml_text, std::string_view source) {
  return RulesParser(std::string(source)).File(yaml_text);
}

absl::StatusOr<GateRules> ReadGateRulesFile(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path, "rules file"));
  return ParseGateRules(text, path);
}

std::string GateRowKey(const CsvTable& table, const std::vector<std::string>& key, size_t row) {
  std::vector<std::string> parts;
  for (const std::string& k : key)
    parts.push_back(absl::StrCat(k, "=", table.rows[row][table.Column(k)]));
  return absl::StrJoin(parts, " ");
}

absl::StatusOr<GateReport> EvaluateGate(const GateRules& rules, const CsvTable& baseline,
                                        std::string_view baseline_source_view,
                                        const CsvTable& current,
                                        std::string_view current_source_view) {
  const std::string baseline_source(baseline_source_view), current_source(current_source_view);
  Side base, cur;
  RETURN_IF_ERROR(Index(rules, baseline, baseline_source, &base));
  RETURN_IF_ERROR(Index(rules, current, current_source, &cur));
  RETURN_IF_ERROR(ValidateColumns(rules, current, current_source, false));
  RETURN_IF_ERROR(ValidateColumns(rules, baseline, baseline_source, true));

  GateReport report;
  report.baseline_source = baseline_source;
  report.current_source = current_source;
  report.rules_source = rules.source;
  report.key = rules.key;
  auto add = [&report](GateCheck check) {
    if (!check.passed) ++report.failures;
    report.checks.push_back(std::move(check));
  };
  auto row_check = [](GateCheckKind kind, std::string metric, std::string rule, std::string row,
                      bool passed, std::string message) {
    GateCheck c;
    c.kind = kind;
    c.metric = std::move(metric);
    c.rule = std::move(rule);
    c.row = std::move(row);
    c.passed = passed;
    c.message = std::move(message);
    return c;
  };

  // Row checks: missing, new, error.
  for (size_t r = 0; r < baseline.rows.size(); ++r) {
    if (cur.row_of_key.count(base.keys[r])) continue;
    add(row_check(GateCheckKind::kMissingRow, "(row)", "row present in current",
                  GateRowKey(baseline, rules.key, r), rules.allow_missing_in_current,
                  rules.allow_missing_in_current
                      ? "missing in current (allowed by allow_missing_in_current)"
                      : absl::StrCat("row of the baseline is missing in ", current_source)));
  }
  const int error_col = current.Column("error");
  std::vector<bool> errored(current.rows.size(), false);
  for (size_t r = 0; r < current.rows.size(); ++r) {
    const std::string row = GateRowKey(current, rules.key, r);
    if (!base.row_of_key.count(cur.keys[r])) {
      add(row_check(GateCheckKind::kNewRow, "(row)", "row present in baseline", row,
                    rules.allow_new_rows,
                    rules.allow_new_rows
                        ? "new in current (allowed by allow_new_rows)"
                        : absl::StrCat("row is not in the baseline ", baseline_source,
                                       " (update the baseline with --update if it is intended)")));
    }
    if (error_col >= 0 && !current.rows[r][error_col].empty()) {
      errored[r] = true;
      add(row_check(
          GateCheckKind::kErrorRow, "(row)", "row without error", row, rules.allow_errors,
          absl::StrCat(rules.allow_errors ? "error (allowed by allow_errors): " : "row failed: ",
                       current.rows[r][error_col])));
    }
  }

  // Metric rules.
  for (const GateRule& rule : rules.rules) {
    int matched = 0;
    for (size_t r = 0; r < current.rows.size(); ++r) {
      if (!Matches(current, r, rule.where)) continue;
      ++matched;
      if (errored[r]) continue;  // reported above; its numbers are empty
      GateCheck check = row_check(GateCheckKind::kRule, rule.MetricLabel(), rule.Describe(),
                                  GateRowKey(current, rules.key, r), false, "");
      std::optional<size_t> base_row;
      if (auto it = base.row_of_key.find(cur.keys[r]); it != base.row_of_key.end())
        base_row = it->second;
      if (rule.NeedsBaseline() && !base_row) continue;  // a new row: reported above
      absl::StatusOr<double> c = RuleValue(rule, current, r);
      if (c.ok()) check.current = *c;
      if (rule.NeedsBaseline()) {
        absl::StatusOr<double> b = RuleValue(rule, baseline, *base_row);
        if (b.ok()) check.baseline = *b;
        if (!b.ok()) {
          check.message = absl::StrCat("baseline: ", b.status().message());
          if (!c.ok()) absl::StrAppend(&check.message, "; current: ", c.status().message());
          add(std::move(check));
          continue;
        }
      } else if (base_row) {
        // Shown for context only; a bound does not need it.
        if (RuleColumns(rules, rule, baseline, baseline_source).ok()) {
          absl::StatusOr<double> b = RuleValue(rule, baseline, *base_row);
          if (b.ok()) check.baseline = *b;
        }
      }
      if (!c.ok()) {
        check.message = absl::StrCat("current: ", c.status().message());
        add(std::move(check));
        continue;
      }
      Judge(rule, &check);
      add(std::move(check));
    }
    if (matched == 0) {
      add(row_check(GateCheckKind::kRuleMatchedNone, rule.MetricLabel(), rule.Describe(), "(none)",
                    false,
                    absl::StrCat(rules.source, ":", rule.line, ": the rule selects no row of ",
                                 current_source, " (check its where: values)")));
    }
  }
  return report;
}

}  // namespace kvbench
