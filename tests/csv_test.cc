// CSV quoting, parsing errors and a write/read round trip through the atomic writer.
#include "harness/csv.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvbench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CsvEscapeTest, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(CsvEscape("plain"), "plain");
  EXPECT_EQ(CsvEscape(""), "");
  EXPECT_EQ(CsvEscape("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvEscape("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvEscape("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvEscape(" padded"), "\" padded\"");
}

TEST(CsvParseTest, ReadsQuotedFieldsAndCrlf) {
  auto t = ParseCsv("a,b,c\r\n1,\"x,y\",\"q\"\"q\"\r\n,\"multi\nline\",3", "t.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->header, ElementsAre("a", "b", "c"));
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_THAT(t->rows[0], ElementsAre("1", "x,y", "q\"q"));
  EXPECT_THAT(t->rows[1], ElementsAre("", "multi\nline", "3"));
  EXPECT_EQ(t->Column("c"), 2);
  EXPECT_EQ(t->Column("zz"), -1);
}

TEST(CsvParseTest, ErrorsNameTheLine) {
  auto short_row = ParseCsv("a,b\n1,2\n3\n", "r.csv");
  ASSERT_FALSE(short_row.ok());
  EXPECT_EQ(short_row.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(short_row.status().message(), HasSubstr("r.csv:3:"));
  auto open_quote = ParseCsv("a\n\"never closed\n", "q.csv");
  ASSERT_FALSE(open_quote.ok());
  EXPECT_THAT(open_quote.status().message(), HasSubstr("q.csv:2: unterminated"));
  EXPECT_FALSE(ParseCsv("a,b\nx\"y,2\n", "s.csv").ok());
  EXPECT_FALSE(ParseCsv("a,b\n\"x\"y,2\n", "s.csv").ok());
}

TEST(CsvParseTest, EmptyTextIsEmptyTable) {
  auto t = ParseCsv("", "e.csv");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->header.empty());
  EXPECT_TRUE(t->rows.empty());
}

TEST(CsvRoundTripTest, FileWriteAndReadBack) {
  CsvTable table;
  table.header = {"policy", "params", "error", "kld_mean"};
  table.rows = {{"h2o", "heavy=8,recent=8", "", "0.0123"},
                {"window", "budget=64", "store 'q9': unknown, \"bad\"\nsecond line", ""},
                {"  spaced  ", "", "", "1e-05"}};
  const std::string dir = ::testing::TempDir() + "/csv_round_trip/nested";
  std::filesystem::remove_all(dir);
  const std::string path = dir + "/out.csv";
  ASSERT_TRUE(WriteFileAtomically(path, FormatCsv(table)).ok());
  auto back = ReadCsvFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->header, table.header);
  EXPECT_EQ(back->rows, table.rows);
  // No temporary file is left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(CsvRoundTripTest, MissingFileIsNotFound) {
  auto t = ReadCsvFile(::testing::TempDir() + "/does/not/exist.csv");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kvbench
