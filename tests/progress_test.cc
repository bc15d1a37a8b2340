// The progress line (harness/progress.h) with a fake clock and a file as the sink: the ETA is the
// rate so far applied to the units left, the line never reaches the terminal's last column,
// redraws are throttled, and a stream that is not a terminal gets nothing under --progress auto.
#include "harness/progress.h"

#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

// Everything written to `f` so far.
std::string Contents(FILE* f) {
  std::fflush(f);
  const long end = std::ftell(f);
  std::string s(end, '\0');
  std::rewind(f);
  if (std::fread(s.data(), 1, s.size(), f) != s.size()) s.clear();
  std::fseek(f, 0, SEEK_END);
  return s;
}

TEST(ProgressTest, EtaIsTheRateSoFarOverTheUnitsLeft) {
  EXPECT_EQ(EtaSeconds(0, 100, 5.0), std::nullopt);    // no rate yet
  EXPECT_DOUBLE_EQ(*EtaSeconds(25, 100, 10.0), 30.0);  // 2.5 units/s, 75 left
  EXPECT_DOUBLE_EQ(*EtaSeconds(99, 100, 99.0), 1.0);
  EXPECT_DOUBLE_EQ(*EtaSeconds(100, 100, 7.0), 0.0);
  EXPECT_DOUBLE_EQ(*EtaSeconds(120, 100, 7.0), 0.0);  // past a planned total: done, not negative
}

TEST(ProgressTest, KindsAreTimedApartAndAnUnstartedKindIsPricedByWeight) {
  // 1000 lockstep tokens of 10 lanes (weight 10), then 2000 alone tokens (weight 1).
  std::vector<ProgressKind> kinds = {{.total = 1000, .weight = 10}, {.total = 2000, .weight = 1}};
  EXPECT_EQ(EtaSeconds(kinds), std::nullopt);
  kinds[0].done = 500;
  kinds[0].seconds = 50;  // 0.1 s per lockstep token; an alone token is priced 0.1 / 10
  EXPECT_DOUBLE_EQ(*EtaSeconds(kinds), 500 * 0.1 + 2000 * 0.01);
  kinds[0].done = 1000;
  kinds[0].seconds = 100;
  kinds[1].done = 100;
  kinds[1].seconds = 4;  // measured: 0.04 s per alone token, the weight no longer matters
  EXPECT_DOUBLE_EQ(*EtaSeconds(kinds), 1900 * 0.04);
  // One kind: the rate so far over the units left, as EtaSeconds(done, total, elapsed).
  EXPECT_DOUBLE_EQ(*EtaSeconds({{.total = 100, .done = 25, .seconds = 10}}),
                   *EtaSeconds(25, 100, 10.0));
}

TEST(ProgressTest, AdvanceChargesTheTimeSinceTheLastAdvanceToItsKind) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  double now = 0;
  {
    Progress p(f, /*enabled=*/true, {{.total = 100, .weight = 4}, {.total = 100}}, "tokens",
               {.width = 200, .min_interval_s = 0, .clock = [&] { return now; }});
    now = 40;
    p.Advance(100, 0);  // lockstep done in 40 s; alone priced 0.4 / 4 = 0.1 s: 10 s to go
    EXPECT_THAT(Contents(f), testing::EndsWith("100/200 tokens  40 s  ETA 10 s"));
    now = 44;
    p.Advance(20, 1);  // 20 alone tokens in 4 s: 0.2 s each, 80 left
    EXPECT_THAT(Contents(f), testing::EndsWith("120/200 tokens  44 s  ETA 16 s"));
    EXPECT_EQ(p.done(), 120);
    EXPECT_EQ(p.total(), 200);
  }
  std::fclose(f);
}

TEST(ProgressTest, DurationsReadAsSecondsMinutesHours) {
  EXPECT_EQ(FormatDuration(0.4), "0 s");
  EXPECT_EQ(FormatDuration(59.4), "59 s");
  EXPECT_EQ(FormatDuration(185), "3m05s");
  EXPECT_EQ(FormatDuration(2 * 3600 + 7 * 60 + 20), "2h07m");
}

TEST(ProgressTest, LineShowsCountsElapsedAndEta) {
  const std::string line = ProgressText(250, 1000, "tokens", 10.0, "case 2/4 h2o", 200);
  EXPECT_EQ(line, "[#####...............]  25%  250/1000 tokens  10 s  ETA 30 s  case 2/4 h2o");
  EXPECT_THAT(ProgressText(0, 1000, "tokens", 3.0, "", 200), HasSubstr("ETA ?"));
  EXPECT_THAT(ProgressText(15'300, 40'000, "tokens", 3.0, "", 200), HasSubstr("15.3k/40.0k"));
}

TEST(ProgressTest, LineStopsBeforeTheTerminalsLastColumn) {
  const std::string what(300, 'x');
  for (int width : {20, 80, 132}) {
    EXPECT_EQ(ProgressText(1, 2, "tokens", 1.0, what, width).size(), width - 1u) << width;
  }
  // A UTF-8 character at the cut is dropped whole, not split.
  const std::string head = ProgressText(1, 2, "tokens", 1.0, "", 200);
  const std::string cut =
      ProgressText(1, 2, "tokens", 1.0, "\xc3\xa9\xc3\xa9", static_cast<int>(head.size()) + 6);
  EXPECT_EQ(cut, head + "  \xc3\xa9");
}

TEST(ProgressTest, RedrawsInPlaceAtMostEveryInterval) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  double now = 100.0;
  {
    Progress p(f, /*enabled=*/true, 1000, "tokens",
               {.width = 200, .min_interval_s = 0.125, .clock = [&] { return now; }});
    p.SetLabel("divergence");  // draws at once
    now += 0.0625;             // binary fractions: the sums are exact
    p.Advance(10);             // within the interval: no redraw
    now += 0.0625;
    p.Advance(240);  // 0.125 s since the last draw, 250 done: 0.375 s to go
    EXPECT_EQ(Contents(f),
              "\r\033[K[....................]   0%  0/1000 tokens  0 s  ETA ?  divergence"
              "\r\033[K[#####...............]  25%  250/1000 tokens  0 s  ETA 0 s  divergence");
    now += 30;
    p.Advance(250);  // 500 after 30.125 s: 30 s to go
    EXPECT_THAT(Contents(f), testing::EndsWith("500/1000 tokens  30 s  ETA 30 s  divergence"));
    p.AddTotal(1000);  // more work found: 500 of 2000 after 31.125 s, 93 s to go
    now += 1;
    p.Advance(0);  // a redraw
    EXPECT_THAT(Contents(f), testing::EndsWith("500/2000 tokens  31 s  ETA 1m33s  divergence"));
  }
  // The destructor erases the line.
  EXPECT_THAT(Contents(f), testing::EndsWith("\r\033[K"));
  std::fclose(f);
}

TEST(ProgressTest, NotATerminalGetsNothingUnderAuto) {
  FILE* f = std::tmpfile();  // a regular file, as under CI or `2> log`
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(ProgressEnabled(ProgressMode::kAuto, f));
  EXPECT_FALSE(ProgressEnabled(ProgressMode::kNever, f));
  EXPECT_TRUE(ProgressEnabled(ProgressMode::kAlways, f));
  EXPECT_FALSE(ProgressEnabled(ProgressMode::kAlways, nullptr));
  {
    Progress p(f, ProgressEnabled(ProgressMode::kAuto, f), 10, "tokens");
    p.SetLabel("case 1/1");
    p.Advance(10);
    p.Clear();
  }
  EXPECT_EQ(Contents(f), "");
  std::fclose(f);
}

TEST(ProgressTest, ModeParsesOrNamesTheFlag) {
  EXPECT_EQ(*ParseProgressMode("auto"), ProgressMode::kAuto);
  EXPECT_EQ(*ParseProgressMode("always"), ProgressMode::kAlways);
  EXPECT_EQ(*ParseProgressMode("never"), ProgressMode::kNever);
  const auto bad = ParseProgressMode("sometimes");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--progress 'sometimes'"));
}

}  // namespace
}  // namespace kvbench
