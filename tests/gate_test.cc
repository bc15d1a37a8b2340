// The regression gate on hand-made CSVs and rules: every limit kind catches a regression and lets
// the unchanged run pass, row checks (missing, new, error), malformed inputs as exit-code-2 errors,
// --update, and the three renderings (table, Markdown, well-formed JUnit XML).
#include "harness/gate.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/csv.h"
#include "harness/gate_report.h"
#include "harness/gate_run.h"
#include "harness/runner.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A run with the reference and two policies. decode_ms_p50 of h2o is 1.2x the reference's.
constexpr char kBaseline[] =
    "experiment,model,policy,k_store,v_store,params,kld_mean,top1_agree,decode_ms_p50,kv_bytes_"
    "peak,error\n"
    "ci,m,full,f32,f32,,0,1,10.0,1000,\n"
    "ci,m,h2o,f32,f32,budget=64,0.020,0.95,12.0,500,\n"
    "ci,m,window,f32,f32,window=64,0.030,0.90,11.0,500,\n";

constexpr char kKey[] = "key: [model, policy, k_store, v_store, params]\n";

CsvTable Parse(const std::string& text) {
  absl::StatusOr<CsvTable> t = ParseCsv(text, "test.csv");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : CsvTable{};
}

GateRules Rules(const std::string& yaml) {
  absl::StatusOr<GateRules> r = ParseGateRules(yaml, "rules.yaml");
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : GateRules{};
}

// Replaces one cell (row by policy, column by name) of kBaseline.
std::string WithCell(const std::string& csv, const std::string& policy, const std::string& column,
                     const std::string& value) {
  CsvTable t = Parse(csv);
  const int p = t.Column("policy"), c = t.Column(column);
  EXPECT_GE(c, 0) << column;
  for (auto& row : t.rows) {
    if (row[p] == policy) row[c] = value;
  }
  return FormatCsv(t);
}

GateReport Evaluate(const std::string& rules_yaml, const std::string& baseline,
                    const std::string& current) {
  absl::StatusOr<GateReport> r =
      EvaluateGate(Rules(rules_yaml), Parse(baseline), "base.csv", Parse(current), "cur.csv");
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : GateReport{};
}

std::vector<const GateCheck*> Failures(const GateReport& r) {
  std::vector<const GateCheck*> out;
  for (const GateCheck& c : r.checks) {
    if (!c.passed) out.push_back(&c);
  }
  return out;
}

TEST(GateTest, IdenticalRunPasses) {
  const GateReport r = Evaluate(absl::StrCat(kKey,
                                             "rules:\n"
                                             "  - {metric: kld_mean, max_increase: 0.001}\n"
                                             "  - {metric: top1_agree, max_decrease_ratio: 0.01}\n"
                                             "  - {metric: kv_bytes_peak, max: 1000}\n"),
                                kBaseline, kBaseline);
  EXPECT_TRUE(r.passed());
  EXPECT_EQ(r.checks.size(), 9u);  // 3 rules x 3 rows
  EXPECT_EQ(r.failures, 0);
}

// Each limit kind: the first edit crosses the limit on h2o, the second stays within it on window.
struct KindCase {
  std::string rule;
  std::string column;
  std::string h2o_value;     // regression
  std::string window_value;  // within the limit
  std::string limit_text;    // expected in the failing check's limit
};

class GateKindTest : public ::testing::TestWithParam<KindCase> {};

TEST_P(GateKindTest, CatchesRegressionAndAcceptsChangeWithinLimit) {
  const KindCase& k = GetParam();
  std::string current = WithCell(kBaseline, "h2o", k.column, k.h2o_value);
  current = WithCell(current, "window", k.column, k.window_value);
  const GateReport r =
      Evaluate(absl::StrCat(kKey, "rules:\n  - {metric: ", k.column, ", ", k.rule, "}\n"),
               kBaseline, current);
  const auto failures = Failures(r);
  ASSERT_EQ(failures.size(), 1u) << FormatGateTable(r);
  EXPECT_EQ(failures[0]->row, "model=m policy=h2o k_store=f32 v_store=f32 params=budget=64");
  EXPECT_EQ(failures[0]->kind, GateCheckKind::kRule);
  EXPECT_THAT(failures[0]->limit, HasSubstr(k.limit_text));
  EXPECT_THAT(failures[0]->message, HasSubstr(k.column));
  // The unchanged run passes the same rule.
  EXPECT_TRUE(Evaluate(absl::StrCat(kKey, "rules:\n  - {metric: ", k.column, ", ", k.rule, "}\n"),
                       kBaseline, kBaseline)
                  .passed());
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, GateKindTest,
    ::testing::Values(
        // 0.020 -> 0.026 is +0.006 > 0.005; 0.030 -> 0.034 is +0.004.
        KindCase{"max_increase: 0.005", "kld_mean", "0.026", "0.034", "<= 0.025 (+0.005)"},
        // 500 -> 560 is +12% > 10%; 500 -> 540 is +8%.
        KindCase{"max_increase_ratio: 0.10", "kv_bytes_peak", "560", "540", "<= 550 (+10%)"},
        // 0.95 -> 0.92 is -0.03 > 0.02; 0.90 -> 0.89 is -0.01.
        KindCase{"max_decrease: 0.02", "top1_agree", "0.92", "0.89", ">= 0.93 (-0.02)"},
        // 0.95 -> 0.90 is -5.3% > 5%; 0.90 -> 0.86 is -4.4%.
        KindCase{"max_decrease_ratio: 0.05", "top1_agree", "0.90", "0.86", ">= 0.9025 (-5%)"},
        KindCase{"max: 0.05", "kld_mean", "0.051", "0.05", "<= 0.05"},
        KindCase{"min: 0.85", "top1_agree", "0.849", "0.85", ">= 0.85"}));

TEST(GateTest, RatioToIgnoresMachineSpeedButCatchesRelativeSlowdown) {
  const std::string ratio_rule = absl::StrCat(
      kKey,
      "rules:\n  - {metric: decode_ms_p50, max_increase_ratio: 0.10, ratio_to: {policy: full}}\n");
  const std::string absolute_rule =
      absl::StrCat(kKey, "rules:\n  - {metric: decode_ms_p50, max_increase_ratio: 0.10}\n");
  // A machine twice as slow: every time doubles, every ratio stays.
  std::string slow = WithCell(kBaseline, "full", "decode_ms_p50", "20");
  slow = WithCell(slow, "h2o", "decode_ms_p50", "24");
  slow = WithCell(slow, "window", "decode_ms_p50", "22");
  EXPECT_TRUE(Evaluate(ratio_rule, kBaseline, slow).passed());
  EXPECT_EQ(Evaluate(absolute_rule, kBaseline, slow).failures, 3);
  // h2o alone gets slower: 12/10 = 1.2 -> 14/10 = 1.4.
  const GateReport r =
      Evaluate(ratio_rule, kBaseline, WithCell(kBaseline, "h2o", "decode_ms_p50", "14"));
  const auto failures = Failures(r);
  ASSERT_EQ(failures.size(), 1u) << FormatGateTable(r);
  EXPECT_THAT(failures[0]->row, HasSubstr("policy=h2o"));
  EXPECT_EQ(failures[0]->metric, "decode_ms_p50/[policy=full]");
  EXPECT_DOUBLE_EQ(*failures[0]->baseline, 1.2);
  EXPECT_DOUBLE_EQ(*failures[0]->current, 1.4);
}

TEST(GateTest, RatioToWithoutUniqueReferenceFails) {
  // Two rows hold k_store=f32 and policy... the filter {k_store: f32} matches all three.
  const GateReport r = Evaluate(
      absl::StrCat(kKey, "rules:\n  - {metric: decode_ms_p50, max: 5, ratio_to: {k_store: f32}}\n"),
      kBaseline, kBaseline);
  ASSERT_EQ(r.failures, 3);
  EXPECT_THAT(Failures(r)[0]->message, HasSubstr("matches 3 rows"));
  // A reference whose value is 0 cannot divide.
  const GateReport zero = Evaluate(
      absl::StrCat(kKey, "rules:\n  - {metric: kld_mean, max: 5, ratio_to: {policy: full}}\n"),
      kBaseline, kBaseline);
  EXPECT_EQ(zero.failures, 3);
  EXPECT_THAT(Failures(zero)[0]->message, HasSubstr("kld_mean is 0"));
}

TEST(GateTest, WhereSelectsRowsAndARuleMatchingNothingFails) {
  const GateReport r = Evaluate(
      absl::StrCat(kKey,
                   "rules:\n  - {metric: kld_mean, max: 0.025, where: {policy: [h2o, full]}}\n"),
      kBaseline, kBaseline);
  EXPECT_TRUE(r.passed());
  EXPECT_EQ(r.checks.size(), 2u);  // window (0.030) is not selected
  const GateReport typo =
      Evaluate(absl::StrCat(kKey, "rules:\n  - {metric: kld_mean, max: 1, where: {policy: h20}}\n"),
               kBaseline, kBaseline);
  ASSERT_EQ(typo.failures, 1);
  EXPECT_EQ(typo.checks[0].kind, GateCheckKind::kRuleMatchedNone);
  EXPECT_THAT(typo.checks[0].message, HasSubstr("rules.yaml:3"));
}

TEST(GateTest, MissingRowFailsUnlessAllowed) {
  const std::string current =
      "experiment,model,policy,k_store,v_store,params,kld_mean,top1_agree,decode_ms_p50,"
      "kv_bytes_peak,error\n"
      "ci,m,full,f32,f32,,0,1,10.0,1000,\n"
      "ci,m,h2o,f32,f32,budget=64,0.020,0.95,12.0,500,\n";
  const std::string rules = "rules:\n  - {metric: kld_mean, max_increase: 0.01}\n";
  const GateReport r = Evaluate(absl::StrCat(kKey, rules), kBaseline, current);
  ASSERT_EQ(r.failures, 1);
  EXPECT_EQ(Failures(r)[0]->kind, GateCheckKind::kMissingRow);
  EXPECT_THAT(Failures(r)[0]->row, HasSubstr("policy=window"));
  EXPECT_THAT(Failures(r)[0]->message, HasSubstr("missing in cur.csv"));
  EXPECT_TRUE(
      Evaluate(absl::StrCat(kKey, "allow_missing: true\n", rules), kBaseline, current).passed());
  EXPECT_TRUE(
      Evaluate(absl::StrCat(kKey, "allow_missing_in_current: true\n", rules), kBaseline, current)
          .passed());
  // allow_new_rows says nothing about missing ones.
  EXPECT_FALSE(
      Evaluate(absl::StrCat(kKey, "allow_new_rows: true\n", rules), kBaseline, current).passed());
}

TEST(GateTest, NewRowFailsUnlessAllowedAndBoundsStillApply) {
  const std::string current =
      absl::StrCat(kBaseline, "ci,m,tova,f32,f32,budget=64,0.5,0.9,12.0,500,\n");
  const std::string rules =
      "rules:\n  - {metric: kld_mean, max_increase: 0.01}\n  - {metric: kld_mean, max: 0.1}\n";
  const GateReport r = Evaluate(absl::StrCat(kKey, rules), kBaseline, current);
  // The new row itself, and its kld_mean over the absolute bound.
  ASSERT_EQ(r.failures, 2) << FormatGateTable(r);
  EXPECT_EQ(Failures(r)[0]->kind, GateCheckKind::kNewRow);
  EXPECT_THAT(Failures(r)[1]->message, HasSubstr("kld_mean = 0.5 exceeds the limit <= 0.1"));
  const GateReport allowed =
      Evaluate(absl::StrCat(kKey, "allow_new_rows: true\n", rules), kBaseline, current);
  ASSERT_EQ(allowed.failures, 1);
  EXPECT_EQ(Failures(allowed)[0]->kind, GateCheckKind::kRule);
  EXPECT_TRUE(
      Evaluate(
          absl::StrCat(kKey,
                       "allow_missing: true\nrules:\n  - {metric: kld_mean, max_increase: 0.01}\n"),
          kBaseline, current)
          .passed());
}

TEST(GateTest, ErrorRowFailsOnceWithItsMessage) {
  std::string current = WithCell(kBaseline, "h2o", "error", "Internal: store rejected the shape");
  current = WithCell(current, "h2o", "kld_mean", "");
  const std::string rules =
      "rules:\n  - {metric: kld_mean, max_increase: 0.01}\n  - {metric: top1_agree, min: 0.5}\n";
  const GateReport r = Evaluate(absl::StrCat(kKey, rules), kBaseline, current);
  ASSERT_EQ(r.failures, 1) << FormatGateTable(r);
  EXPECT_EQ(Failures(r)[0]->kind, GateCheckKind::kErrorRow);
  EXPECT_THAT(Failures(r)[0]->message, HasSubstr("store rejected the shape"));
  // Allowed: the error row is reported, its metric rules are not evaluated.
  EXPECT_TRUE(
      Evaluate(absl::StrCat(kKey, "allow_errors: true\n", rules), kBaseline, current).passed());
}

TEST(GateTest, EmptyOrNaNValueFailsWithReason) {
  const std::string rules =
      absl::StrCat(kKey, "rules:\n  - {metric: kld_mean, max_increase: 0.01}\n");
  GateReport r = Evaluate(rules, kBaseline, WithCell(kBaseline, "h2o", "kld_mean", "nan"));
  ASSERT_EQ(r.failures, 1);
  EXPECT_THAT(Failures(r)[0]->message, HasSubstr("current: kld_mean is NaN"));
  r = Evaluate(rules, kBaseline, WithCell(kBaseline, "h2o", "kld_mean", ""));
  ASSERT_EQ(r.failures, 1);
  EXPECT_THAT(Failures(r)[0]->message, HasSubstr("kld_mean is empty"));
  r = Evaluate(rules, WithCell(kBaseline, "window", "kld_mean", "abc"), kBaseline);
  ASSERT_EQ(r.failures, 1);
  EXPECT_THAT(Failures(r)[0]->message, HasSubstr("baseline: kld_mean 'abc' is not a number"));
  // An infinite metric is a broken measurement, even when the baseline was broken the same way.
  r = Evaluate(rules, WithCell(kBaseline, "h2o", "kld_mean", "inf"),
               WithCell(kBaseline, "h2o", "kld_mean", "inf"));
  ASSERT_EQ(r.failures, 1);
  EXPECT_THAT(Failures(r)[0]->message, HasSubstr("kld_mean is +inf"));
}

// ---------------------------------------------------------------------------------------------
// Malformed inputs.

void ExpectRulesError(const std::string& yaml, const std::string& fragment) {
  absl::StatusOr<GateRules> r = ParseGateRules(yaml, "rules.yaml");
  ASSERT_FALSE(r.ok()) << yaml;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(fragment)) << r.status();
}

TEST(GateRulesTest, MalformedRulesNameLineAndProblem) {
  ExpectRulesError("key: [model\nrules: []\n", "malformed YAML");
  ExpectRulesError(
      absl::StrCat(kKey, "rules:\n  - metric: kld_mean\n    ", std::string(1100, 'x'), ": 1\n"),
      "rules.yaml:4: malformed YAML: a key of 1100 characters ('xxxx");
  ExpectRulesError(absl::StrCat(kKey, "rules:\n  - metric: kld_mean\n    max_increse: 0.1\n"),
                   "rules.yaml:4: unknown rule key 'max_increse'");
  ExpectRulesError(absl::StrCat(kKey, "tolerance: 3\nrules:\n  - {metric: kld_mean, max: 1}\n"),
                   "rules.yaml:2: unknown key 'tolerance'");
  ExpectRulesError(absl::StrCat(kKey, "rules:\n  - {metric: kld_mean}\n"), "has 0 limits");
  ExpectRulesError(absl::StrCat(kKey, "rules:\n  - {metric: kld_mean, max: 1, min: 0}\n"),
                   "has 2 limits");
  ExpectRulesError(absl::StrCat(kKey, "rules:\n  - {metric: kld_mean, max: lots}\n"),
                   "'lots' is not a finite number");
  ExpectRulesError(absl::StrCat(kKey, "rules:\n  - {metric: kld_mean, max_increase: -0.1}\n"),
                   "is negative");
  ExpectRulesError(absl::StrCat(kKey, "rules:\n  - {max: 1}\n"), "without 'metric'");
  ExpectRulesError("rules:\n  - {metric: kld_mean, max: 1}\n", "missing 'key'");
  ExpectRulesError(kKey, "missing 'rules'");
  ExpectRulesError(absl::StrCat(kKey, "allow_missing: maybe\nrules:\n  - {metric: a, max: 1}\n"),
                   "rules.yaml:2: allow_missing: 'maybe' is not true or false");
  ExpectRulesError(absl::StrCat(kKey, "rules:\n  - {metric: a, max: 1, ratio_same: [model]}\n"),
                   "ratio_same without ratio_to");
  ExpectRulesError("key: [model, model]\nrules:\n  - {metric: a, max: 1}\n", "listed twice");
  ExpectRulesError("- just\n- a list\n", "expected a map");
  ExpectRulesError(absl::StrCat(kKey, "rules:\n  - {metric: a, max: 1, where: [policy]}\n"),
                   "where: expected a map");
  ExpectRulesError(absl::StrCat(kKey, "? [a, b]\n: 1\nrules:\n  - {metric: a, max: 1}\n"),
                   "rules.yaml:");
}

TEST(GateRulesTest, UnknownColumnsAreNamed) {
  auto eval = [](const std::string& yaml, const std::string& baseline, const std::string& current) {
    return EvaluateGate(Rules(yaml), Parse(baseline), "base.csv", Parse(current), "cur.csv");
  };
  absl::StatusOr<GateReport> r =
      eval(absl::StrCat(kKey, "rules:\n  - {metric: kld_meen, max: 1}\n"), kBaseline, kBaseline);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("rules.yaml:3: metric 'kld_meen' is not a column of cur.csv"));
  r = eval(absl::StrCat(kKey, "rules:\n  - {metric: kld_mean, max: 1, where: {polcy: h2o}}\n"),
           kBaseline, kBaseline);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("where column 'polcy'"));
  r = eval("key: [model, budget]\nrules:\n  - {metric: kld_mean, max: 1}\n", kBaseline, kBaseline);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("key column 'budget' is not a column of base.csv"));
  // A relative rule needs the column in the baseline too; a bound does not.
  const std::string old_baseline = FormatCsv([] {
    CsvTable t = Parse(kBaseline);
    t.header[t.Column("kld_mean")] = "kl";
    return t;
  }());
  r = eval(absl::StrCat(kKey, "rules:\n  - {metric: kld_mean, max_increase: 1}\n"), old_baseline,
           kBaseline);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("'kld_mean' is not a column of base.csv"));
  r = eval(absl::StrCat(kKey, "rules:\n  - {metric: kld_mean, max: 1}\n"), old_baseline, kBaseline);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->passed());
  // Duplicate keys (two repetitions without `repetition` in key:).
  r = eval(absl::StrCat(kKey, "rules:\n  - {metric: kld_mean, max: 1}\n"), kBaseline,
           absl::StrCat(kBaseline, "ci,m,h2o,f32,f32,budget=64,0.020,0.95,12.0,500,\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("cur.csv: data rows 2 and 4 have the same key"));
}

// ---------------------------------------------------------------------------------------------
// RunGate: files, exit codes, outputs.

class GateRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::path(::testing::TempDir()) /
        absl::StrCat("gate_test_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Runs the gate; captures stdout and stderr.
  int Run(GateRunOptions o) {
    FILE* out = std::tmpfile();
    FILE* err = std::tmpfile();
    o.out = out;
    o.err = err;
    const int code = RunGate(o);
    auto slurp = [](FILE* f) {
      std::string s;
      std::rewind(f);
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
      std::fclose(f);
      return s;
    };
    out_ = slurp(out);
    err_ = slurp(err);
    return code;
  }

  GateRunOptions Options(const std::string& baseline, const std::string& current,
                         const std::string& rules) {
    GateRunOptions o;
    o.baseline_path = Write("base.csv", baseline);
    o.current_path = Write("cur.csv", current);
    o.rules_path = Write("rules.yaml", rules);
    return o;
  }

  std::filesystem::path dir_;
  std::string out_, err_;
};

const std::string kRules = absl::StrCat(kKey,
                                        "rules:\n"
                                        "  - metric: kld_mean\n"
                                        "    max_increase: 0.005\n"
                                        "  - metric: decode_ms_p50\n"
                                        "    max_increase_ratio: 0.10\n"
                                        "    ratio_to: {policy: full}\n"
                                        "    where: {policy: [h2o, window]}\n");

TEST_F(GateRunTest, ExitCodesAndTable) {
  EXPECT_EQ(Run(Options(kBaseline, kBaseline, kRules)), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("status  metric"));
  EXPECT_THAT(out_, HasSubstr("PASS: 5 checks, 0 failed"));

  EXPECT_EQ(Run(Options(kBaseline, WithCell(kBaseline, "h2o", "kld_mean", "0.03"), kRules)), 1);
  EXPECT_THAT(out_, HasSubstr("\nFAIL    kld_mean "));
  EXPECT_THAT(out_,
              HasSubstr("failures:\n  model=m policy=h2o k_store=f32 v_store=f32 params=budget=64: "
                        "kld_mean = 0.03 exceeds the limit <= 0.025 (+0.005) (baseline 0.02)"));
  EXPECT_THAT(out_, HasSubstr("FAIL: 5 checks, 1 failed"));
}

TEST_F(GateRunTest, BadInputsExitTwo) {
  GateRunOptions o = Options(kBaseline, kBaseline, kRules);
  o.current_path = (dir_ / "absent.csv").string();
  EXPECT_EQ(Run(o), 2);
  EXPECT_THAT(err_, HasSubstr("absent.csv"));

  EXPECT_EQ(Run(Options(kBaseline, "model,policy\n\"m,h2o\n", kRules)), 2);  // unterminated quote
  EXPECT_THAT(err_, HasSubstr("cur.csv"));
  EXPECT_EQ(Run(Options("model,policy\nm\n", kBaseline, kRules)), 2);  // short record
  EXPECT_THAT(err_, HasSubstr("base.csv"));
  EXPECT_EQ(Run(Options(kBaseline, kBaseline, "key: [model\n")), 2);
  EXPECT_THAT(err_, HasSubstr("malformed YAML"));
  EXPECT_EQ(Run(Options(kBaseline, kBaseline,
                        absl::StrCat(kKey, "rules:\n  - {metric: kld, bogus: 1}\n"))),
            2);
  EXPECT_THAT(err_, HasSubstr("rules.yaml:3: unknown rule key 'bogus'"));
  EXPECT_EQ(
      Run(Options(kBaseline, kBaseline, absl::StrCat(kKey, "rules:\n  - {metric: kld, max: 1}\n"))),
      2);
  EXPECT_THAT(err_, HasSubstr("metric 'kld' is not a column"));
  EXPECT_EQ(Run(Options(kBaseline, "", kRules)), 2);  // empty CSV: no header, no key columns
  EXPECT_EQ(Run({}), 2);
  EXPECT_THAT(err_, HasSubstr("--baseline, --current and --rules are required"));
}

TEST_F(GateRunTest, UpdateRewritesBaselineAndReportsChanges) {
  std::string current = WithCell(kBaseline, "h2o", "kld_mean", "0.03");
  current = absl::StrCat(current, "ci,m,tova,f32,f32,budget=64,0.01,0.97,12.0,500,\n");
  GateRunOptions o = Options(kBaseline, current, kRules);
  o.update = true;
  EXPECT_EQ(Run(o), 0) << err_;
  EXPECT_EQ(Read(o.baseline_path), FormatCsv(Parse(current)));
  ASSERT_THAT(out_, HasSubstr("updated baseline"));
  const std::string changes = out_.substr(out_.find("updated baseline"));
  EXPECT_THAT(changes,
              HasSubstr("changed model=m policy=h2o k_store=f32 v_store=f32 params=budget=64\n"
                        "  kld_mean: 0.020 -> 0.03\n"));
  EXPECT_THAT(changes, HasSubstr("added   model=m policy=tova"));
  EXPECT_THAT(changes, Not(HasSubstr("policy=window")));  // unchanged
  // The gate now passes against the new baseline.
  o.update = false;
  EXPECT_EQ(Run(o), 0) << out_;
}

TEST_F(GateRunTest, UpdateRefusesErrorRowsAndBootstrapsAMissingBaseline) {
  GateRunOptions o =
      Options(kBaseline, WithCell(kBaseline, "h2o", "error", "Internal: boom"), kRules);
  o.update = true;
  EXPECT_EQ(Run(o), 1);
  EXPECT_THAT(err_, HasSubstr("--update refused"));
  EXPECT_THAT(err_, HasSubstr("boom"));
  EXPECT_EQ(Read(o.baseline_path), kBaseline);

  o.baseline_path = (dir_ / "baselines" / "new.csv").string();
  o.current_path = Write("cur.csv", kBaseline);
  EXPECT_EQ(Run(o), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("created baseline"));
  EXPECT_EQ(Read(o.baseline_path), FormatCsv(Parse(kBaseline)));
  o.update = false;
  EXPECT_EQ(Run(o), 0);
  o.baseline_path = (dir_ / "baselines" / "other.csv").string();  // without --update: bad input
  EXPECT_EQ(Run(o), 2);
}

// Creating a baseline applies the checks replacing one does: a run with error rows, or without a
// column the rules name, is refused and no baseline is written (before, --update froze either into
// a new baseline with exit 0).
TEST_F(GateRunTest, UpdateCreatesOnlyHealthyBaselines) {
  GateRunOptions o =
      Options(kBaseline, WithCell(kBaseline, "h2o", "error", "Internal: boom"), kRules);
  o.update = true;
  o.baseline_path = (dir_ / "baselines" / "fresh.csv").string();
  EXPECT_EQ(Run(o), 1);
  EXPECT_THAT(err_, HasSubstr("--update refused"));
  EXPECT_THAT(err_, HasSubstr("boom"));
  EXPECT_THAT(err_, HasSubstr("not created"));
  EXPECT_FALSE(std::filesystem::exists(o.baseline_path));

  o.current_path = Write("cur.csv", "model,policy\nm,full\n");  // no kld_mean column
  EXPECT_EQ(Run(o), 2);
  EXPECT_THAT(err_, HasSubstr("is not a column"));
  EXPECT_FALSE(std::filesystem::exists(o.baseline_path));
}

// Duplicate keys in a rules file are errors with both lines: a second `metric:` in one rule (it
// replaced the first) and a second top-level `rules:` (it was ignored).
TEST_F(GateRunTest, DuplicateRuleKeysAreErrors) {
  EXPECT_EQ(Run(Options(kBaseline, kBaseline,
                        absl::StrCat(kKey,
                                     "rules:\n  - metric: kld_mean\n    metric: ppl\n"
                                     "    max_increase: 1\n"))),
            2);
  EXPECT_THAT(err_, HasSubstr("key 'metric' appears twice in one mapping"));
  EXPECT_EQ(Run(Options(kBaseline, kBaseline,
                        absl::StrCat(kKey, "rules:\n  - {metric: kld_mean, max_increase: 1}\n",
                                     "rules:\n  - {metric: ppl, max_increase: 1}\n"))),
            2);
  EXPECT_THAT(err_, HasSubstr("key 'rules' appears twice in one mapping"));
}

// A minimal XML 1.0 well-formedness check: balanced, properly nested tags; attribute values
// quoted; '<' never raw inside text or attributes; '&' only as a known entity or character
// reference; no control character other than tab, CR, LF.
::testing::AssertionResult WellFormedXml(const std::string& xml) {
  std::vector<std::string> stack;
  auto entity_ok = [&xml](size_t i) {
    const size_t semi = xml.find(';', i);
    if (semi == std::string::npos) return false;
    const std::string e = xml.substr(i + 1, semi - i - 1);
    if (e == "amp" || e == "lt" || e == "gt" || e == "quot" || e == "apos") return true;
    if (e.size() > 1 && e[0] == '#')
      return e.find_first_not_of("0123456789", 1) == std::string::npos ||
             (e[1] == 'x' && e.size() > 2 &&
              e.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string::npos);
    return false;
  };
  int roots = 0;
  for (size_t i = 0; i < xml.size();) {
    const unsigned char u = static_cast<unsigned char>(xml[i]);
    if (u < 0x20 && u != '\n' && u != '\r' && u != '\t')
      return ::testing::AssertionFailure() << "control char at " << i;
    if (xml[i] == '&') {
      if (!entity_ok(i)) return ::testing::AssertionFailure() << "bad entity at " << i;
      ++i;
      continue;
    }
    if (xml[i] != '<') {
      if (xml[i] == '>')
        return ::testing::AssertionFailure()
               << "raw '>' in text at " << i;  // legal, but we escape it
      ++i;
      continue;
    }
    if (xml.compare(i, 5, "<?xml") == 0) {
      if (i != 0) return ::testing::AssertionFailure() << "XML declaration not first";
      i = xml.find("?>", i);
      if (i == std::string::npos)
        return ::testing::AssertionFailure() << "unterminated declaration";
      i += 2;
      continue;
    }
    const bool closing = xml[i + 1] == '/';
    size_t j = i + (closing ? 2 : 1);
    const size_t name_start = j;
    while (j < xml.size() && (std::isalnum(static_cast<unsigned char>(xml[j])) || xml[j] == '_'))
      ++j;
    const std::string name = xml.substr(name_start, j - name_start);
    if (name.empty()) return ::testing::AssertionFailure() << "empty tag name at " << i;
    // Attributes: name="value" with no raw '<' and valid entities.
    while (j < xml.size() && xml[j] != '>' && xml[j] != '/') {
      if (xml[j] == ' ') {
        ++j;
        continue;
      }
      const size_t eq = xml.find('=', j);
      if (eq == std::string::npos || xml[eq + 1] != '"')
        return ::testing::AssertionFailure() << "bad attribute at " << j;
      const size_t end = xml.find('"', eq + 2);
      if (end == std::string::npos)
        return ::testing::AssertionFailure() << "unterminated attribute at " << j;
      for (size_t k = eq + 2; k < end; ++k) {
        if (xml[k] == '<') return ::testing::AssertionFailure() << "raw '<' in attribute at " << k;
        if (xml[k] == '&' && !entity_ok(k))
          return ::testing::AssertionFailure() << "bad entity in attribute at " << k;
      }
      j = end + 1;
    }
    if (j >= xml.size()) return ::testing::AssertionFailure() << "unterminated tag " << name;
    const bool self_closing = xml[j] == '/';
    if (self_closing && (j + 1 >= xml.size() || xml[j + 1] != '>'))
      return ::testing::AssertionFailure() << "bad '/'";
    i = j + (self_closing ? 2 : 1);
    if (closing) {
      if (stack.empty() || stack.back() != name)
        return ::testing::AssertionFailure() << "mismatched </" << name << ">";
      stack.pop_back();
    } else if (!self_closing) {
      if (stack.empty()) ++roots;
      stack.push_back(name);
    }
  }
  if (!stack.empty()) return ::testing::AssertionFailure() << "unclosed <" << stack.back() << ">";
  if (roots != 1) return ::testing::AssertionFailure() << roots << " root elements";
  return ::testing::AssertionSuccess();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t i = text.find(what); i != std::string::npos; i = text.find(what, i + 1)) ++n;
  return n;
}

TEST_F(GateRunTest, JUnitIsWellFormedWithOneFailurePerFailedCheck) {
  // Hostile text in a key column and in an error message.
  std::string baseline = WithCell(kBaseline, "window", "params", "w=<64>&\"q\"'s");
  std::string current =
      WithCell(baseline, "window", "error", "Internal: bad \x01 <tag> & \xff byte");
  current = WithCell(current, "h2o", "kld_mean", "0.5");
  GateRunOptions o = Options(baseline, current, kRules);
  o.junit_path = (dir_ / "out" / "junit.xml").string();
  o.markdown_path = (dir_ / "out" / "summary.md").string();
  EXPECT_EQ(Run(o), 1);
  const std::string xml = Read(o.junit_path);
  EXPECT_TRUE(WellFormedXml(xml)) << xml;
  // The checker itself rejects what the escaping prevents.
  EXPECT_FALSE(WellFormedXml("<a b=\"<\"/>"));
  EXPECT_FALSE(WellFormedXml("<a>&bogus;</a>"));
  EXPECT_FALSE(WellFormedXml("<a><b></a></b>"));
  EXPECT_FALSE(WellFormedXml("<a>\x01</a>"));
  // Failures: the error row, h2o's kld_mean; window's rules are skipped (error row).
  EXPECT_EQ(Count(xml, "<failure "), 2u) << xml;
  EXPECT_EQ(Count(xml, "<testcase "), 4u)
      << xml;  // error row + kld (full, h2o) + decode ratio (h2o)
  EXPECT_THAT(xml, HasSubstr("tests=\"4\" failures=\"2\""));
  EXPECT_THAT(xml, HasSubstr("params=w=&lt;64&gt;&amp;&quot;q&quot;&apos;s"));
  EXPECT_THAT(xml, HasSubstr("bad \xEF\xBF\xBD &lt;tag&gt; &amp; \xEF\xBF\xBD byte"));

  const std::string md = Read(o.markdown_path);
  EXPECT_THAT(md, HasSubstr("## kvbench gate: FAIL"));
  EXPECT_THAT(md, HasSubstr("4 checks, 2 failed"));
  EXPECT_THAT(md, HasSubstr("| status | metric | row | baseline | current | change | limit |\n"));
  EXPECT_THAT(
      md,
      HasSubstr(
          "| **FAIL** | kld_mean | model=m policy=h2o k_store=f32 v_store=f32 params=budget=64 | "
          "0.02 | 0.5 | +0.48 (+2400.00%) | <= 0.025 (+0.005) |"));
  EXPECT_THAT(md, HasSubstr("| **PASS** | decode_ms_p50/[policy=full] |"));
}

TEST(GateReportTest, XmlEscapeKeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(XmlEscape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
  EXPECT_EQ(XmlEscape("caf\xC3\xA9 \xE2\x86\x92"), "caf\xC3\xA9 \xE2\x86\x92");
  EXPECT_EQ(XmlEscape("\x02"), "\xEF\xBF\xBD");
  EXPECT_EQ(XmlEscape("\xC3"), "\xEF\xBF\xBD");  // truncated sequence
  EXPECT_EQ(XmlEscape("\xE2\x28\xA1"), "\xEF\xBF\xBD(\xEF\xBF\xBD");
  EXPECT_EQ(XmlEscape("a\nb"), "a&#10;b");
}

// The project's CI rules parse and name only columns the harness writes: a results table with the
// runner's exact header passes against itself.
TEST(GateConfigTest, CiRulesMatchTheHarnessColumns) {
  absl::StatusOr<GateRules> rules =
      ReadGateRulesFile(KVBENCH_TESTDATA_DIR "/../../configs/gates/ci.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status();
  CsvTable t;
  t.header = ResultColumns();
  for (const char* policy : {"full", "h2o"}) {
    std::vector<std::string> row(t.header.size(), "0.5");
    auto set = [&](const std::string& column, const std::string& value) {
      ASSERT_GE(t.Column(column), 0) << column;
      row[t.Column(column)] = value;
    };
    set("model", "stories260K");
    set("policy", policy);
    set("k_store", "f32");
    set("v_store", "f32");
    set("params", policy == std::string("h2o") ? "budget=64" : "");
    set("repetition", "0");
    set("kld_max", policy == std::string("h2o") ? "3" : "0");
    set("error", "");
    t.rows.push_back(row);
  }
  absl::StatusOr<GateReport> r = EvaluateGate(*rules, t, "base.csv", t, "cur.csv");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->passed()) << FormatGateTable(*r);
  EXPECT_GE(r->checks.size(), 2 * rules->rules.size() - 1);
}

TEST(GateRulesTest, RepeatedKeysAreErrors) {
  auto r = ParseGateRules(
      "key: [policy]\nrules:\n  - metric: kld_mean\n    metric: top1_agree\n    max_increase: "
      "0.1\n",
      "rules.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(
      std::string(r.status().message()),
      HasSubstr("rules.yaml:4: key 'metric' appears twice in one mapping (first at line 3)"));
}

}  // namespace
}  // namespace kvbench
