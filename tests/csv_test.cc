// CSV quoting, parsing errors and a write/read round trip through the atomic writer; the results
// table every sweep resumes from (harness/result_table.h).
#include "harness/csv.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "formats/read_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/result_table.h"

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

TEST(ResultTableTest, ResumesGoodRowsRetriesErrorsAndKeepsOtherConfigurations) {
  const std::vector<std::string> columns = {"label", "config_hash", "error"};
  const std::string dir = ::testing::TempDir() + "/result_table";
  std::filesystem::remove_all(dir);
  const std::string path = dir + "/out.csv";
  const CsvTable existing{
      .header = columns, .rows = {{"a", "h1", ""}, {"b", "h2", "Internal: boom"}, {"x", "h9", ""}}};
  ASSERT_TRUE(WriteFileAtomically(path, FormatCsv(existing)).ok());

  auto table = ResultTable::Open(path, columns, /*force=*/false);
  ASSERT_TRUE(table.ok()) << table.status();
  // h1 is done, h2 failed (retried), h3 is new; h9 belongs to another configuration.
  EXPECT_THAT(table->TakePending({"h1", "h2", "h3"}), ElementsAre(1u, 2u));
  ResultRow row(columns);
  row.Set("label", "b");
  row.Set("config_hash", "h2");
  ASSERT_TRUE(table->Append(std::move(row).Take()).ok());
  auto back = ReadCsvFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->rows, (std::vector<std::vector<std::string>>{
                            {"a", "h1", ""}, {"x", "h9", ""}, {"b", "h2", ""}}));

  auto forced = ResultTable::Open(path, columns, /*force=*/true);
  ASSERT_TRUE(forced.ok());
  EXPECT_THAT(forced->TakePending({"h1", "h2"}), ElementsAre(0u, 1u));
  EXPECT_EQ(forced->table().rows.size(), 1u);  // only h9's row is left
}

TEST(ResultTableTest, AnotherHeaderNeedsForce) {
  const std::string dir = ::testing::TempDir() + "/result_table_header";
  std::filesystem::remove_all(dir);
  const std::string path = dir + "/out.csv";
  ASSERT_TRUE(WriteFileAtomically(path, "old,columns\n1,2\n").ok());
  const std::vector<std::string> columns = {"config_hash", "error"};
  auto refused = ResultTable::Open(path, columns, /*force=*/false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("pass --force"));
  auto forced = ResultTable::Open(path, columns, /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(forced->table().header, columns);
  EXPECT_TRUE(forced->table().rows.empty());
}

// Two sweeps appending to one CSV at once (threads here; processes take the same flock): every
// row of both is there afterwards. Before the lock and merge, each run rewrote the file from its
// own view and the last writer's rows replaced the other's.
TEST(ResultTableTest, ConcurrentWritersLoseNothing) {
  const std::vector<std::string> columns = {"label", "config_hash", "error"};
  const std::string dir = ::testing::TempDir() + "/result_table_concurrent";
  std::filesystem::remove_all(dir);
  const std::string path = dir + "/shared.csv";
  constexpr int kRows = 40;
  auto writer = [&](const std::string& run, absl::Status* status) {
    auto table = ResultTable::Open(path, columns, /*force=*/false);
    if (!table.ok()) {
      *status = table.status();
      return;
    }
    std::vector<std::string> hashes;
    for (int i = 0; i < kRows; ++i) hashes.push_back(absl::StrCat(run, i));
    table->TakePending(hashes);
    for (const std::string& hash : hashes) {
      ResultRow row(columns);
      row.Set("label", run);
      row.Set("config_hash", hash);
      if (absl::Status s = table->Append(std::move(row).Take()); !s.ok()) {
        *status = s;
        return;
      }
    }
  };
  absl::Status a_status, b_status;
  std::thread a(writer, "a", &a_status), b(writer, "b", &b_status);
  a.join();
  b.join();
  ASSERT_TRUE(a_status.ok()) << a_status;
  ASSERT_TRUE(b_status.ok()) << b_status;
  auto back = ReadCsvFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  std::set<std::string> hashes;
  for (const std::vector<std::string>& row : back->rows) hashes.insert(row[1]);
  EXPECT_EQ(back->rows.size(), 2u * kRows);
  EXPECT_EQ(hashes.size(), 2u * kRows);
  EXPECT_TRUE(std::filesystem::is_regular_file(path + ".lock"));
}

// A CSV that exists but cannot be read or parsed is an error, with or without --force: it was
// taken for an absent file and replaced.
TEST(ResultTableTest, UnreadableOrMalformedCsvIsAnError) {
  const std::vector<std::string> columns = {"config_hash", "error"};
  const std::string dir = ::testing::TempDir() + "/result_table_unreadable";
  std::filesystem::remove_all(dir);
  const std::string path = dir + "/out.csv";
  ASSERT_TRUE(WriteFileAtomically(path, "config_hash,error\nh1,\nh2\n").ok());
  for (bool force : {false, true}) {
    auto malformed = ResultTable::Open(path, columns, force);
    ASSERT_FALSE(malformed.ok()) << force;
    EXPECT_EQ(malformed.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(malformed.status().message(), HasSubstr("out.csv:3:"));
  }
  auto text = ReadFile(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "config_hash,error\nh1,\nh2\n");  // untouched

  // A file its user may not read. Root reads anything, so the check runs in a child that gives up
  // root first (EXPECT_EXIT forks).
  ASSERT_TRUE(WriteFileAtomically(path, "config_hash,error\nh1,\n").ok());
  std::filesystem::permissions(dir, std::filesystem::perms::all);
  std::filesystem::permissions(path, std::filesystem::perms::none);
  EXPECT_EXIT(
      {
        if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) std::_Exit(3);
        auto table = ResultTable::Open(path, columns, /*force=*/true);
        std::_Exit(!table.ok() && table.status().code() == absl::StatusCode::kPermissionDenied ? 0
                                                                                               : 1);
      },
      ::testing::ExitedWithCode(0), "");
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
}

}  // namespace
}  // namespace kvbench
