// A results table's rows as JSON Lines, JSON and Markdown (harness/row_formats.h): which cells
// become numbers, nulls and strings, column order, and the default paths beside the CSV.
#include "harness/row_formats.h"

#include <string>

#include "formats/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

CsvTable Table() {
  return {.header = {"label", "kld_mean", "budget", "code", "git_sha", "error"},
          .rows = {{"window(budget=4)", "0.0123", "4", "0123", "1234567", ""},
                   {"h2o(budget=8)", "nan", "8", "7", "1234567", "INTERNAL: x | y"}}};
}

TEST(RowFormatsTest, JsonLinesTypeCellsByColumn) {
  const std::string jsonl = FormatRows(Table(), RowFormat::kJsonl);
  EXPECT_EQ(jsonl,
            "{\"label\":\"window(budget=4)\",\"kld_mean\":0.0123,\"budget\":4,\"code\":\"0123\","
            "\"git_sha\":\"1234567\",\"error\":null}\n"
            "{\"label\":\"h2o(budget=8)\",\"kld_mean\":\"nan\",\"budget\":8,\"code\":\"7\","
            "\"git_sha\":\"1234567\",\"error\":\"INTERNAL: x | y\"}\n");
}

TEST(RowFormatsTest, JsonIsTheArrayOfTheSameObjects) {
  auto rows = ParseJson(FormatRows(Table(), RowFormat::kJson));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_TRUE(rows->is_array());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0]["kld_mean"].get<double>(), 0.0123);
  EXPECT_EQ((*rows)[1]["budget"].get<int>(), 8);
  EXPECT_TRUE((*rows)[0]["error"].is_null());
}

TEST(RowFormatsTest, MarkdownEscapesPipes) {
  const std::string md = FormatRows(Table(), RowFormat::kMarkdown);
  EXPECT_THAT(md, HasSubstr("| label | kld_mean | budget | code | git_sha | error |\n| --- |"));
  EXPECT_THAT(md, HasSubstr("| INTERNAL: x \\| y |\n"));
}

TEST(RowFormatsTest, FormatsParseAndHaveTheirPaths) {
  EXPECT_EQ(*ParseRowFormat("jsonl"), RowFormat::kJsonl);
  EXPECT_EQ(*ParseRowFormat("md"), RowFormat::kMarkdown);
  EXPECT_THAT(ParseRowFormat("sql").status().message(), HasSubstr("--format 'sql'"));
  EXPECT_EQ(RowFormatPath("results/x.csv", RowFormat::kJsonl), "results/x.jsonl");
  EXPECT_EQ(RowFormatPath("results/x.csv", RowFormat::kJson), "results/x.rows.json");
  EXPECT_EQ(RowFormatPath("results/x.csv", RowFormat::kMarkdown), "results/x.md");
  EXPECT_EQ(FormatRows(Table(), RowFormat::kCsv), FormatCsv(Table()));
}

}  // namespace
}  // namespace kvbench
