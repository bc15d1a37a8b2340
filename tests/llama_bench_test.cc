// kvbench bench (harness/llama_bench.h, cli/bench_command.cc): llama-bench's test names and
// statistics, and the command as a user runs it on the real stories260K GGUF (its file declares a
// 2048-token context).
#include "harness/llama_bench.h"

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/csv.h"
#include "model/loader.h"
#include "nlohmann/json.hpp"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

TEST(LlamaBenchTest, TestNamesAreLlamaBenchs) {
  EXPECT_EQ((BenchTest{.n_prompt = 512}).Name(), "pp512");
  EXPECT_EQ((BenchTest{.n_gen = 128}).Name(), "tg128");
  EXPECT_EQ((BenchTest{.n_prompt = 512, .n_gen = 128}).Name(), "pp512+tg128");
  EXPECT_EQ((BenchTest{.n_gen = 128, .n_depth = 4096}).Name(), "tg128 @ d4096");
}

TEST(LlamaBenchTest, RatesAreMeanAndSampleStddevOfEachRepetition) {
  // 100 tokens in 1 s, 0.5 s and 0.25 s: 100, 200 and 400 t/s. The mean rate is 233.33 (the rate
  // of the mean time, 171.4, is what llama-bench does not report); the sample stddev is 152.75.
  const BenchStats s = SummarizeSamples({1'000'000'000, 500'000'000, 250'000'000}, 100);
  ASSERT_EQ(s.samples_ts.size(), 3u);
  EXPECT_DOUBLE_EQ(s.samples_ts[1], 200.0);
  EXPECT_NEAR(s.avg_ts, 700.0 / 3, 1e-9);
  EXPECT_NEAR(s.stddev_ts,
              std::sqrt((std::pow(100 - 700.0 / 3, 2) + std::pow(200 - 700.0 / 3, 2) +
                         std::pow(400 - 700.0 / 3, 2)) /
                        2),
              1e-9);
  EXPECT_NEAR(s.avg_ns, 1'750'000'000.0 / 3, 1e-3);
  EXPECT_EQ(SummarizeSamples({5}, 1).stddev_ts, 0.0);  // one repetition: no spread
}

class LlamaBenchModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto model = LoadModel(KVBENCH_SHARED_DIR "/models/stories260K/stories260K.gguf");
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
  }
  std::unique_ptr<Model> model_;
};

TEST_F(LlamaBenchModelTest, RunsEveryRepetitionAndRejectsWhatCannotRun) {
  Decoder decoder(*model_);
  const CacheSpec full;
  auto stats = RunBenchTest(decoder, full, {.n_prompt = 16, .n_gen = 4, .n_depth = 8},
                            {.repetitions = 3, .warmup = false});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->samples_ns.size(), 3u);
  for (double ts : stats->samples_ts) EXPECT_GT(ts, 0.0);

  auto too_long = RunBenchTest(decoder, full, {.n_prompt = 2000, .n_depth = 100}, {});
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(too_long.status().message(), HasSubstr("needs 2100 tokens of context"));
  EXPECT_EQ(RunBenchTest(decoder, full, {.n_depth = 8}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);  // times nothing
  // A budget that covers the whole test evicts nothing: the registry's error, not a silent run.
  CacheSpec window{.policy = "window", .policy_params = {{"budget", "64"}}};
  EXPECT_FALSE(RunBenchTest(decoder, window, {.n_prompt = 16, .n_gen = 4}, {}).ok());
  EXPECT_TRUE(RunBenchTest(decoder, window, {.n_prompt = 64, .n_gen = 4}, {.repetitions = 1}).ok());
}

struct Result {
  int exit_code = -1;
  std::string out, err;
};

Result Kvbench(const std::string& args) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("kvbench_bench_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const int status = std::system(
      (std::string(KVBENCH_BINARY) + " bench " + args + " >" + dir + "/out 2>" + dir + "/err")
          .c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::stringstream out, err;
  out << std::ifstream(dir + "/out").rdbuf();
  err << std::ifstream(dir + "/err").rdbuf();
  r.out = out.str();
  r.err = err.str();
  std::filesystem::remove_all(dir);
  return r;
}

const std::string kModel = "-m " KVBENCH_SHARED_DIR "/models/stories260K/stories260K.gguf";

TEST(BenchCommandTest, JsonlRowsCoverTheMatrixWithLlamaBenchFields) {
  const Result r = Kvbench(kModel +
                           " -p 16 -n 4 -d 0,8 -t 1 -r 2 --no-warmup -o jsonl "
                           "--policy 'full,window(budget=3)' --k-store f32 --v-store f16,q8_0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> rows;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  // 2 depths x 2 policies x 2 V stores x (pp16, tg4).
  ASSERT_EQ(rows.size(), 16u);
  std::set<std::string> tests, type_v;
  for (const nlohmann::json& row : rows) {
    tests.insert(row["test"].get<std::string>());
    type_v.insert(row["type_v"].get<std::string>());
    ASSERT_EQ(row["samples_ts"].size(), 2u);
    const double mean =
        (row["samples_ts"][0].get<double>() + row["samples_ts"][1].get<double>()) / 2;
    EXPECT_NEAR(row["avg_ts"].get<double>(), mean, 1e-9 * mean);
    EXPECT_EQ(row["n_threads"], 1);
    EXPECT_GT(row["model_size"].get<uint64_t>(), 0u);
    EXPECT_GT(row["model_n_params"].get<uint64_t>(), 0u);
  }
  EXPECT_EQ(tests, (std::set<std::string>{"pp16", "tg4", "pp16 @ d8", "tg4 @ d8"}));
  EXPECT_EQ(type_v, (std::set<std::string>{"f16", "q8_0"}));
}

TEST(BenchCommandTest, MarkdownAndCsv) {
  const Result md = Kvbench(kModel + " -p 8 -n 2 -t 1 -r 1 --no-warmup");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_THAT(md.out, HasSubstr("| model | size | params | threads | policy |"));
  EXPECT_THAT(md.out, HasSubstr("| pp8 |"));
  EXPECT_THAT(md.out, HasSubstr(" ± "));
  const Result csv = Kvbench(kModel + " -p 8 -n 2 -t 1 -r 3 --no-warmup -o csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  auto table = ParseCsv(csv.out, "bench csv");
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->rows.size(), 2u);
  const int samples = table->Column("samples_ts");
  ASSERT_GE(samples, 0);
  EXPECT_EQ(std::count(table->rows[0][samples].begin(), table->rows[0][samples].end(), ' '), 2);
}

TEST(BenchCommandTest, BadInputIsANamedErrorWithNothingOnStdout) {
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {" -o xml", "-o xml"},
           {" -p 2000 -d 100", "needs 2100 tokens"},
           {" -p 12x", "'12x' is not a count"},
           {" --pg 512", "pairs"},
           {" --policy 'nosuch(budget=4)'", "nosuch"},
           {" -p 0 -n 0", "nothing to run"},
           // The second test does not fit: found before the first runs, so no row is printed.
           {" -p 16 -d 0,2040", "needs 2056 tokens"}}) {
    SCOPED_TRACE(args);
    const Result r = Kvbench(kModel + " -t 1 -r 1" + args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr(message));
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
}  // namespace kvbench
