// kvbench compare: a planted regression (h2o's KL up by 10 of its standard errors) is flagged, the
// same numbers moved within their standard errors are not, NIAH accuracy goes through the
// two-proportion test, and mismatched inputs are errors.
#include "report/compare.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "report/stats.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

const std::string kData = std::string(KVBENCH_TESTDATA_DIR) + "/report/";

ResultsFile Load(const std::string& name) {
  auto file = LoadResults(kData + name);
  EXPECT_TRUE(file.ok()) << file.status();
  return *file;
}

// Adds `shift_in_se` standard errors to `column` of every row whose policy is `policy` ("" all).
void Shift(ResultsFile* file, const std::string& column, const std::string& se_column,
           double shift_in_se, const std::string& policy) {
  const int c = file->table.Column(column);
  for (size_t r = 0; r < file->table.rows.size(); ++r) {
    if (!policy.empty() && file->Text(r, "policy") != policy) continue;
    const auto v = file->Number(r, column), se = file->Number(r, se_column);
    if (v && se) file->table.rows[r][c] = std::to_string(*v + shift_in_se * *se);
  }
}

const MetricChange* Find(const Comparison& c, const std::string& row_prefix,
                         const std::string& metric) {
  for (const RowComparison& row : c.rows)
    if (row.key.rfind(row_prefix, 0) == 0)
      for (const MetricChange& m : row.metrics)
        if (m.metric == metric) return &m;
  return nullptr;
}

TEST(CompareTest, IdenticalFilesChangeNothing) {
  const ResultsFile a = Load("divergence_ci.csv");
  auto c = CompareResults(a, a);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rows.size(), 9u);  // 10 rows, tova's is an error row
  EXPECT_EQ(c->regressions, 0);
  EXPECT_EQ(c->improvements, 0);
  EXPECT_EQ(c->errors.size(), 2u);  // tova's error, on both sides
}

TEST(CompareTest, PlantedRegressionIsFlaggedAndNoiseIsNot) {
  const ResultsFile base = Load("divergence_ci.csv");
  ResultsFile noise = base;
  Shift(&noise, "kld_mean", "kld_mean_se", 1.0, "");  // every KL up by one se: |z| = 0.71
  Shift(&noise, "top1_agree", "top1_agree_se", -1.0, "");
  auto quiet = CompareResults(base, noise);
  ASSERT_TRUE(quiet.ok());
  EXPECT_EQ(quiet->regressions, 0) << ComparisonText(*quiet);

  ResultsFile worse = base;
  Shift(&worse, "kld_mean", "kld_mean_se", 10.0, "h2o");  // z = 10 / sqrt(2) = 7.1
  auto loud = CompareResults(base, worse);
  ASSERT_TRUE(loud.ok());
  EXPECT_EQ(loud->regressions, 1) << ComparisonText(*loud);
  const MetricChange* h2o = Find(*loud, "h2o", "kld_mean");
  ASSERT_NE(h2o, nullptr);
  EXPECT_EQ(h2o->verdict, Verdict::kRegressed);
  EXPECT_NEAR(*h2o->z, 10 / std::sqrt(2.0), 1e-3);
  EXPECT_THAT(ComparisonMarkdown(*loud), HasSubstr("**REGRESSED**"));
  // The same shift the other way is an improvement, not a regression.
  ResultsFile better = base;
  Shift(&better, "kld_mean", "kld_mean_se", -10.0, "h2o");
  EXPECT_EQ(CompareResults(base, better)->improvements, 1);
  EXPECT_EQ(CompareResults(base, better)->regressions, 0);
}

TEST(CompareTest, NiahAccuracyUsesTwoProportions) {
  const ResultsFile base = Load("niah_fixture.csv");
  ResultsFile current = base;
  // sinks at 2048 tokens, depth 0.5: 2 / 10 -> 10 / 10 (z = 3.65: significant).
  const int correct = current.table.Column("correct"), accuracy = current.table.Column("accuracy");
  for (size_t r = 0; r < current.table.rows.size(); ++r) {
    if (current.Text(r, "policy") == "sinks" && current.Text(r, "length_tokens") == "2048" &&
        current.Text(r, "depth") == "0.5") {
      ASSERT_EQ(current.Text(r, "correct"), "2");
      current.table.rows[r][correct] = "10";
      current.table.rows[r][accuracy] = "1";
    }
  }
  auto c = CompareResults(base, current);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->improvements, 1) << ComparisonText(*c);
  EXPECT_EQ(c->regressions, 0);
  ASSERT_TRUE(TwoProportionZ(2, 10, 10, 10).has_value());
  EXPECT_NEAR(*TwoProportionZ(2, 10, 10, 10), 3.651, 1e-3);
  // Reversed, it is a regression.
  EXPECT_EQ(CompareResults(current, base)->regressions, 1);
}

TEST(CompareTest, MismatchedInputsAreErrors) {
  const auto kinds = CompareResults(Load("divergence_ci.csv"), Load("prefix_sweep.csv"));
  EXPECT_EQ(kinds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(kinds.status().message()), HasSubstr("cannot compare a divergence CSV"));
  ResultsFile twice = Load("divergence_ci.csv");
  twice.table.rows.push_back(twice.table.rows[0]);
  const auto duplicate = CompareResults(twice, Load("divergence_ci.csv"));
  EXPECT_EQ(duplicate.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(duplicate.status().message()), HasSubstr("have the same"));
}

}  // namespace
}  // namespace kvbench
