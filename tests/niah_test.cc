// The needle-in-a-haystack task: the generator (deterministic, sized, needle where the depth
// says), its JSONL form, scoring and intervals, the `task:` block's errors, and on the real
// kvb-docs-12M: a window cache finds a needle inside its window and never one outside it, and the
// batched sweep answers exactly as each cache alone.
#include "tasks/niah.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/check.h"
#include "base/status.h"
#include "formats/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/csv.h"
#include "harness/dataset.h"
#include "harness/experiment.h"
#include "harness/niah_run.h"
#include "harness/run_metadata.h"
#include "harness/runner.h"
#include "model/loader.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

const std::string kModelDir = std::string(KVBENCH_SHARED_DIR) + "/models/kvb-docs-12M";
const std::string kDocs = std::string(KVBENCH_SHARED_DIR) + "/data/docs-valid.jsonl";

const Model& KvbDocs() {
  static const Model* model = [] {
    auto m = LoadModel(kModelDir);
    KVBENCH_CHECK(m.ok(), "%s", std::string(m.status().message()).c_str());
    return m->release();
  }();
  return *model;
}

NiahSources Sources() {
  static const NiahSources* sources = [] {
    auto* s = new NiahSources;
    DatasetSpec d{.path = kDocs, .format = "jsonl"};
    auto texts = LoadTexts(d);
    KVBENCH_CHECK(texts.ok(), "%s", std::string(texts.status().message()).c_str());
    s->documents = std::move(*texts);
    auto words = LoadNeedleWords(kModelDir + "/needle_words.json", "val");
    KVBENCH_CHECK(words.ok(), "%s", std::string(words.status().message()).c_str());
    s->words = std::move(*words);
    return s;
  }();
  return *sources;
}

std::string Value(const NiahCase& c) { return FirstSevenDigitNumber(c.answer); }

TEST(NiahCasesTest, DeterministicSizedAndPlaced) {
  const Tokenizer& tok = *KvbDocs().tokenizer;
  const NiahGridOptions grid{
      .lengths = {512, 1024}, .depths = {0, 0.5, 1}, .needles = {1, 3}, .samples = 2, .seed = 7};
  auto a = MakeNiahCases(grid, Sources(), tok);
  auto b = MakeNiahCases(grid, Sources(), tok);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(a->size(), 2u * 3 * 2 * 2);
  NiahGridOptions other = grid;
  other.seed = 8;
  auto c = MakeNiahCases(other, Sources(), tok);
  ASSERT_TRUE(c.ok());
  int differ = 0;
  for (size_t i = 0; i < a->size(); ++i) {
    const NiahCase &x = (*a)[i], &y = (*b)[i];
    EXPECT_EQ(x.context, y.context);
    EXPECT_EQ(x.question, y.question);
    EXPECT_EQ(x.answer, y.answer);
    differ += x.context != (*c)[i].context;
    // Sized as RULER does: BOS + context + question + the answer's room within the length, and
    // not far below it.
    const int total = 1 +
                      static_cast<int>(tok.Encode(x.context, false).size() +
                                       tok.Encode(x.question, false).size()) +
                      grid.answer_tokens;
    EXPECT_LE(total, x.length_tokens);
    EXPECT_GE(total, x.length_tokens - x.length_tokens / 16);
    // The asked needle: once, with the asked key, at its depth of the context's tokens (within a
    // line or two).
    const std::string key(absl::StripSuffix(
        x.question.substr(x.question.find("number for ") + 11,
                          x.question.find(" mentioned") - x.question.find("number for ") - 11),
        ""));
    const std::string needle =
        absl::StrCat("\nThe special magic number for ", key, " is: ", Value(x), ".\n");
    const size_t at = x.context.find(needle);
    ASSERT_NE(at, std::string::npos) << x.question;
    EXPECT_EQ(x.context.find(needle, at + 1), std::string::npos);
    const double before = tok.Encode(x.context.substr(0, at), false).size();
    const double relative = before / tok.Encode(x.context, false).size();
    EXPECT_NEAR(relative, x.depth, 0.05 * x.n_needles)
        << "length " << x.length_tokens << " depth " << x.depth;
    // Multi-key cases hold n_needles needle lines with distinct keys.
    int needles = 0;
    for (size_t p = x.context.find("The special magic number for "); p != std::string::npos;
         p = x.context.find("The special magic number for ", p + 1)) {
      ++needles;
    }
    EXPECT_EQ(needles, x.n_needles);
  }
  EXPECT_GT(differ, 0) << "another seed must give other cases";
}

TEST(NiahCasesTest, LengthTooShortForTheNeedle) {
  const NiahGridOptions grid{.lengths = {40}, .depths = {0.5}, .needles = {2}, .samples = 1};
  auto cases = MakeNiahCases(grid, Sources(), *KvbDocs().tokenizer);
  ASSERT_FALSE(cases.ok());
  EXPECT_THAT(cases.status().message(), HasSubstr("length 40 cannot hold 2 needle(s)"));
}

TEST(NiahCasesTest, JsonlRoundTripAndErrors) {
  const NiahGridOptions grid{.lengths = {256}, .depths = {0.25}, .samples = 3};
  auto cases = MakeNiahCases(grid, Sources(), *KvbDocs().tokenizer);
  ASSERT_TRUE(cases.ok());
  const std::string jsonl = NiahCasesToJsonl(*cases);
  const std::vector<std::string> lines = absl::StrSplit(jsonl, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("{\"context\":", 0), 0u) << "documented field order";
  auto back = NiahCasesFromJsonl(jsonl, "cases.jsonl");
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), cases->size());
  for (size_t i = 0; i < cases->size(); ++i) {
    EXPECT_EQ((*back)[i].context, (*cases)[i].context);
    EXPECT_EQ((*back)[i].answer, (*cases)[i].answer);
    EXPECT_EQ((*back)[i].depth, (*cases)[i].depth);
    EXPECT_EQ((*back)[i].length_tokens, 256);
  }
  const std::string bad_depth = absl::StrCat(
      lines[0], "\n",
      R"({"context": "x", "question": "q", "answer": " 1234567.", "length_tokens": 9, "depth": 1.5, "n_needles": 1})",
      "\n");
  auto error = NiahCasesFromJsonl(bad_depth, "cases.jsonl");
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(error.status().message(), HasSubstr("cases.jsonl:2: \"depth\""));
  auto no_answer = NiahCasesFromJsonl(
      R"({"context": "x", "question": "q", "length_tokens": 9, "depth": 0, "n_needles": 1})",
      "c.jsonl");
  ASSERT_FALSE(no_answer.ok());
  EXPECT_THAT(no_answer.status().message(), HasSubstr("c.jsonl:1: no string \"answer\""));
}

TEST(NiahScoreTest, FirstSevenDigitNumber) {
  EXPECT_EQ(FirstSevenDigitNumber(" 1234567."), "1234567");
  EXPECT_EQ(FirstSevenDigitNumber(" 12 3456789 and 7654321"), "3456789");
  EXPECT_EQ(FirstSevenDigitNumber(" 123456."), "");
  const NiahCase c{.answer = " 7654321."};
  EXPECT_TRUE(NiahCorrect(" 7654321.\nThe", c));
  EXPECT_FALSE(NiahCorrect(" 7654322.", c));
  EXPECT_FALSE(NiahCorrect(" 765432", c));
  EXPECT_FALSE(NiahCorrect(" 1111111 7654321", c)) << "the first number counts";
}

TEST(NiahScoreTest, WilsonInterval) {
  // Known values (z = 1.96): 5/10 -> [0.2366, 0.7634]; 0/10 -> [0, 0.2775]; 10/10 -> [0.7225, 1].
  Proportion p = WilsonInterval(5, 10);
  EXPECT_NEAR(p.estimate, 0.5, 1e-12);
  EXPECT_NEAR(p.low, 0.2366, 1e-4);
  EXPECT_NEAR(p.high, 0.7634, 1e-4);
  p = WilsonInterval(0, 10);
  EXPECT_EQ(p.low, 0);
  EXPECT_NEAR(p.high, 0.2775, 1e-4);
  p = WilsonInterval(10, 10);
  EXPECT_NEAR(p.low, 0.7225, 1e-4);
  EXPECT_NEAR(p.high, 1.0, 1e-12);
}

absl::StatusOr<Experiment> Parse(const std::string& task, const std::string& extra = "") {
  return ParseExperiment(absl::StrCat("model: ", kModelDir, "\ndataset: {path: ", kDocs, "}\n",
                                      extra, "task:\n", task, "policies:\n  - name: full\n"),
                         "niah.yaml", "niah");
}

TEST(NiahSpecTest, ParsesTheBlock) {
  auto e = Parse(
      "  name: niah\n  lengths: [1024, 2048]\n  depths: [0, 0.5, 1]\n  needles: [1, 4]\n"
      "  samples: 3\n  query_aware: true\n",
      "seed: 5\n");
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_TRUE(e->niah.has_value());
  EXPECT_EQ(e->niah->grid.lengths, (std::vector<int>{1024, 2048}));
  EXPECT_EQ(e->niah->grid.depths, (std::vector<double>{0, 0.5, 1}));
  EXPECT_EQ(e->niah->grid.needles, (std::vector<int>{1, 4}));
  EXPECT_EQ(e->niah->grid.samples, 3);
  EXPECT_EQ(e->niah->grid.seed, 5u) << "the experiment's seed by default";
  EXPECT_EQ(e->niah->Protocol(), "query_aware");
  EXPECT_THAT(e->ToJson(), HasSubstr("\"protocol\": \"query_aware\""));
}

TEST(NiahSpecTest, BadBlocksNameTheLine) {
  struct Bad {
    std::string task, extra, message;
  };
  const std::vector<Bad> cases = {
      {"  name: niah\n  lengths: [1024]\n  depths: [0, 1.5]\n", "",
       "niah.yaml:6: task.depths: 1.5 is outside [0, 1]"},
      {"  name: niah\n  lengths: [1024]\n  depths: [-0.1]\n", "", "niah.yaml:6: task.depths: -0.1"},
      {"  name: niah\n  lengths: [1024]\n  depths: [0.5, 0.5]\n", "", "lists 0.5 twice"},
      {"  name: niah\n  depths: [0]\n", "", "niah.yaml:4: task niah needs `lengths`"},
      {"  name: niah\n  lengths: [8]\n  depths: [0]\n", "", "niah.yaml:5: 'task.lengths' = 8"},
      {"  name: niah\n  lengths: [1024]\n  depths: [0]\n  needles: 0\n", "",
       "niah.yaml:7: 'task.needles' = 0"},
      {"  name: needle\n", "", "niah.yaml:4: unknown task 'needle'; valid: niah"},
      {"  name: niah\n  lengths: [1024]\n  depths: [0]\n  lenghts: 3\n", "",
       "niah.yaml:7: unknown key 'lenghts' in task"},
      {"  name: niah\n  lengths: [1024]\n  depths: [0]\n", "context_tokens: 512\n",
       "niah.yaml:3: 'context_tokens' does not apply to task niah"},
      {"  name: niah\n  cases: c.jsonl\n  depths: [0]\n", "",
       "task.depths does not apply with task.cases"},
  };
  for (const Bad& bad : cases) {
    auto e = Parse(bad.task, bad.extra);
    ASSERT_FALSE(e.ok()) << bad.task;
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(e.status().message(), HasSubstr(bad.message)) << bad.task;
  }
}

TEST(NiahSpecTest, LengthBeyondTheModelsContextNamesTheLine) {
  auto e = Parse("  name: niah\n  lengths: [1024, 8192]\n  depths: [0]\n");
  ASSERT_TRUE(e.ok()) << e.status();
  auto cases = LoadNiahCases(*e, KvbDocs());
  ASSERT_FALSE(cases.ok());
  EXPECT_EQ(cases.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(cases.status().message(),
              HasSubstr("niah.yaml:5: task.lengths: 8192 exceeds the model's context of 4096"));
}

// Rows of a run's CSV by label and depth.
std::map<std::string, std::vector<std::string>> RowsByLabelDepth(const std::string& csv) {
  auto table = ReadCsvFile(csv);
  KVBENCH_CHECK(table.ok(), "%s", std::string(table.status().message()).c_str());
  std::map<std::string, std::vector<std::string>> rows;
  for (const auto& row : table->rows) {
    rows[absl::StrCat(row[table->Column("label")], " @", row[table->Column("depth")])] = row;
  }
  return rows;
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / absl::StrCat("niah_test_", getpid(), name))
      .string();
}

absl::StatusOr<RunReport> RunYaml(const std::string& yaml, bool force,
                                  const std::string& cases_out = "") {
  ASSIGN_OR_RETURN(const Experiment e, ParseExperiment(yaml, "niah.yaml", "niah"));
  RunOptions options{.force = force, .log = nullptr, .cases_out = cases_out};
  return RunExperiment(e, KvbDocs(), options);
}

// The issue's check of the task itself: window(budget=W) keeps the last W context tokens, so a
// needle at depth 0 of a 1024-token case is gone and one at depth 1 is where the full cache finds
// it.
TEST(NiahRunTest, WindowFindsWhatItKeepsAndNothingElse) {
  const std::string csv = TempPath("window.csv");
  const std::string yaml =
      absl::StrCat("model: ", kModelDir, "\nthreads: 2\ndataset: {path: ", kDocs,
                   "}\ntask: {name: niah, lengths: [1024], depths: [0, 1], samples: 8}\n"
                   "policies:\n  - name: full\n  - {name: window, budget: 256}\n"
                   "  - {name: window, budget: 256, when: 'decoding:4'}\noutput: ",
                   csv, "\n");
  auto report = RunYaml(yaml, /*force=*/true);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->cases_run, 6);
  // window(when=decoding:4) has evicted nothing when the question comes (it would act after the
  // 4th decode step): an error row per cell, naming the budget, not the full cache's answers.
  EXPECT_EQ(report->cases_failed, 2);
  // The summary names caches as the divergence summary does: the parameters given, no defaults.
  EXPECT_THAT(report->summary, HasSubstr("\nwindow(budget=256) "));
  EXPECT_THAT(report->summary, HasSubstr("\nwindow(budget=256,when=decoding:4) "));
  EXPECT_THAT(report->summary, Not(HasSubstr("\nwindow(budget=256,positions=original")));
  auto rows = RowsByLabelDepth(csv);
  auto table = ReadCsvFile(csv);
  const int correct = table->Column("correct");
  const std::string full = "full(positions=original) k=f32 v=f32";
  const std::string window = "window(budget=256,positions=original,when=every_step) k=f32 v=f32";
  ASSERT_TRUE(rows.contains(window + " @0")) << "rows: " << rows.size();
  EXPECT_EQ(rows[window + " @0"][correct], "0") << "the needle is outside the window";
  const int full_at_end = std::stoi(rows[full + " @1"][correct]);
  const int window_at_end = std::stoi(rows[window + " @1"][correct]);
  EXPECT_GE(full_at_end, 6) << "the model retrieves at 1024 tokens (60-85% in training)";
  EXPECT_GE(window_at_end, full_at_end - 1) << "inside the window: the full cache's rate";
  EXPECT_EQ(rows[window + " @1"][table->Column("protocol")], "compress_after_context");
  const std::string later = "window(budget=256,positions=original,when=decoding:4) k=f32 v=f32";
  EXPECT_THAT(rows[later + " @0"][table->Column("error")],
              HasSubstr("budget 256 evicts nothing from the"));
  // evicted_tokens: the context tokens fed (BOS included) beyond the window's 256.
  const double context = std::stod(rows[window + " @1"][table->Column("context_tokens")]);
  EXPECT_NEAR(std::stod(rows[window + " @1"][table->Column("evicted_tokens")]), context - 256,
              0.01);  // both written with 6 significant digits
  EXPECT_EQ(rows[full + " @1"][table->Column("evicted_tokens")], "0");
  // KV bytes at the question: the window holds 256 of ~1000 context tokens.
  const double ratio = std::stod(rows[window + " @1"][table->Column("kv_bytes_ratio")]);
  EXPECT_GT(ratio, 3.5);
  EXPECT_LT(ratio, 4.1);

  // Resume: a second run has nothing to do.
  auto again = RunYaml(yaml, /*force=*/false);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->cases_run, 2);  // the error rows are retried
  EXPECT_EQ(again->cases_skipped, 4);
  std::filesystem::remove(csv);
  std::filesystem::remove(MetadataPath(csv));
}

// Mirrors share the context prefill and every cache is batched in the question and answer steps;
// each cache run alone must answer exactly the same, case by case.
TEST(NiahRunTest, LockstepAnswersEqualOneAtATime) {
  const std::vector<std::string> policies = {
      "{name: full}", "{name: snapkv, budget: 0.25}", "{name: h2o, budget: 0.25}",
      "{name: window, budget: 0.5}", "{name: full, store: q8_0}"};
  auto run = [&](const std::vector<std::string>& list, const std::string& tag) {
    const std::string csv = TempPath(tag + ".csv"), out = TempPath(tag + ".jsonl");
    std::string yaml = absl::StrCat("model: ", kModelDir, "\nthreads: 2\ndataset: {path: ", kDocs,
                                    "}\ntask: {name: niah, lengths: [768], depths: [0.5], "
                                    "samples: 3}\noutput: ",
                                    csv, "\npolicies:\n");
    for (const std::string& p : list) absl::StrAppend(&yaml, "  - ", p, "\n");
    auto report = RunYaml(yaml, /*force=*/true, out);
    KVBENCH_CHECK(report.ok(), "%s", std::string(report.status().message()).c_str());
    std::map<std::string, std::string> answers;  // "case policy" -> answer
    auto lines = ParseJsonLines(kvbench::ReadFile(out), out);
    KVBENCH_CHECK(lines.ok(), "%s", std::string(lines.status().message()).c_str());
    for (const JsonLine& line : *lines) {
      answers[absl::StrCat(line.value["case"].get<int>(), " ",
                           line.value["policy"].get<std::string>())] =
          line.value["answer"].get<std::string>();
    }
    std::filesystem::remove(csv);
    std::filesystem::remove(MetadataPath(csv));
    std::filesystem::remove(out);
    return answers;
  };
  const std::map<std::string, std::string> together = run(policies, "together");
  ASSERT_EQ(together.size(), 3 * policies.size());
  std::map<std::string, std::string> alone;
  for (size_t i = 0; i < policies.size(); ++i) {
    for (const auto& kv : run({policies[i]}, absl::StrCat("alone", i))) alone.insert(kv);
  }
  EXPECT_EQ(together, alone);
}

}  // namespace
}  // namespace kvbench
