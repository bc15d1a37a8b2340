// End-to-end harness on the real stories260K: full vs itself, lockstep == one at a time, error
// rows, and resume after an interrupted run.
#include "harness/runner.h"

#include <filesystem>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "formats/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/csv.h"
#include "harness/dataset.h"
#include "harness/divergence.h"
#include "harness/result_table.h"
#include "harness/run_metadata.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "model/ops.h"
#include "tests/stories_fixture.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

TEST(DivergenceTest, FullAgainstItselfIsExact) {
  SetNumThreads(1);
  Decoder decoder(Stories());
  const auto seqs = Sequences(48, 2);
  auto run = EvaluateDivergence(decoder, CacheSpec{}, {CacheSpec{}}, seqs, 48,
                                {.prompt_tokens = 24, .score_tokens = 24});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(run->policies[0].ok());
  const PolicyDivergence& d = *run->policies[0];
  EXPECT_EQ(d.summary.n, 48);
  EXPECT_EQ(d.summary.kld_max, 0.0);
  EXPECT_EQ(d.summary.kld_mean, 0.0);
  EXPECT_EQ(d.summary.top1_agree, 1.0);
  EXPECT_EQ(d.summary.ln_ppl_ratio, 0.0);
  EXPECT_EQ(d.summary.ppl, d.summary.ppl_ref);
  EXPECT_EQ(d.summary.dp_rms, 0.0);
  EXPECT_EQ(d.greedy_match_len, 24.0);
  EXPECT_EQ(d.token_match_rate, 1.0);
  // A real model on real text: perplexity well above 1 and far below the vocabulary size.
  EXPECT_GT(d.summary.ppl_ref, 1.5);
  EXPECT_LT(d.summary.ppl_ref, 100.0);
}

TEST(DivergenceTest, EvictionDivergesAndBadSpecIsReportedInItsSlot) {
  SetNumThreads(1);
  Decoder decoder(Stories());
  const auto seqs = Sequences(64, 1);
  auto run = EvaluateDivergence(
      decoder, CacheSpec{}, {Spec("window", {{"budget", "8"}}), Spec("window", {{"budget", "-3"}})},
      seqs, 64, {.prompt_tokens = 16, .score_tokens = 48});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(run->policies[0].ok());
  EXPECT_GT(run->policies[0]->summary.kld_mean, 0.0);
  EXPECT_LT(run->policies[0]->summary.top1_agree, 1.0);
  EXPECT_LT(run->policies[0]->memory_end.logical, run->reference_memory_end.logical);
  ASSERT_FALSE(run->policies[1].ok());
  EXPECT_EQ(run->policies[1].status().code(), absl::StatusCode::kInvalidArgument);
}

// The point of lockstep: batching the policies changes nothing but the cost.
void ExpectLockstepEqualsAlone(int threads) {
  SetNumThreads(threads);
  Decoder decoder(Stories());
  const auto seqs = Sequences(96, 2);
  const std::vector<CacheSpec> specs = {
      Spec("window", {{"budget", "16"}}), Spec("sinks", {{"budget", "24"}}),
      Spec("h2o", {{"budget", "32"}}), Spec("none"), Spec("full", {}, "q8_0")};
  const DivergenceOptions options{.prompt_tokens = 48, .score_tokens = 48};
  auto lockstep = EvaluateDivergence(decoder, CacheSpec{}, specs, seqs, 96, options);
  ASSERT_TRUE(lockstep.ok()) << lockstep.status();
  for (size_t i = 0; i < specs.size(); ++i) {
    auto alone = EvaluateDivergence(decoder, CacheSpec{}, {specs[i]}, seqs, 96, options);
    ASSERT_TRUE(alone.ok()) << alone.status();
    ASSERT_TRUE(alone->policies[0].ok()) << alone->policies[0].status();
    ASSERT_TRUE(lockstep->policies[i].ok());
    const PolicyDivergence &a = *alone->policies[0], &l = *lockstep->policies[i];
    ASSERT_EQ(a.positions.size(), l.positions.size());
    for (size_t p = 0; p < a.positions.size(); ++p) {
      ASSERT_EQ(a.positions[p].kld, l.positions[p].kld) << specs[i].Label() << " position " << p;
      ASSERT_EQ(a.positions[p].logp_pol, l.positions[p].logp_pol)
          << specs[i].Label() << " position " << p;
      ASSERT_EQ(a.positions[p].logp_ref, l.positions[p].logp_ref)
          << specs[i].Label() << " position " << p;
      ASSERT_EQ(a.positions[p].top1_agree, l.positions[p].top1_agree);
    }
    EXPECT_EQ(a.greedy_match_len, l.greedy_match_len) << specs[i].Label();
    EXPECT_EQ(a.token_match_rate, l.token_match_rate) << specs[i].Label();
    EXPECT_EQ(a.memory_end.logical, l.memory_end.logical) << specs[i].Label();
  }
}

TEST(DivergenceTest, LockstepEqualsOneAtATimeOneThread) { ExpectLockstepEqualsAlone(1); }
TEST(DivergenceTest, LockstepEqualsOneAtATimeTwoThreads) { ExpectLockstepEqualsAlone(2); }

Experiment TwoCaseExperiment(const std::string& output) {
  auto e = ParseExperiment(R"(name: resume
model: stories260K
threads: 1
dataset: {path: ../shared/data/tinystories-valid-200.txt}
context_tokens: 48
prompt_tokens: 24
max_sequences: 1
policies:
  - name: window
    budget: [8, 16]
measure: [divergence, memory]
repetitions: 1
)",
                           "resume.yaml", "resume");
  KVBENCH_CHECK(e.ok(), "%s", std::string(e.status().message()).c_str());
  e->output = output;
  return *e;
}

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/runner_test_" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(RunnerTest, ResumeAfterAnInterruptedRunAddsNoDuplicates) {
  const std::string csv = FreshDir("resume") + "/out.csv";
  const Experiment e = TwoCaseExperiment(csv);
  const RunOptions quiet{.log = nullptr};
  auto first = RunExperiment(e, Stories(), quiet);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->cases_run, 2);
  auto full = ReadCsvFile(csv);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_EQ(full->rows.size(), 2u);
  EXPECT_EQ(full->header, ResultColumns());

  // Simulate a kill after the first case: only its row made it to disk.
  CsvTable truncated = *full;
  truncated.rows.resize(1);
  ASSERT_TRUE(WriteFileAtomically(csv, FormatCsv(truncated)).ok());
  auto resumed = RunExperiment(e, Stories(), quiet);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->cases_skipped, 1);
  EXPECT_EQ(resumed->cases_run, 1);
  auto after = ReadCsvFile(csv);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->rows.size(), 2u);
  EXPECT_EQ(after->rows[0], full->rows[0]);  // the surviving row is untouched
  const int hash = after->Column("config_hash"), kld = after->Column("kld_mean");
  EXPECT_NE(after->rows[0][hash], after->rows[1][hash]);
  EXPECT_EQ(after->rows[1][hash], full->rows[1][hash]);
  EXPECT_EQ(after->rows[1][kld], full->rows[1][kld]);  // deterministic: the same numbers again

  // Nothing left to do; --force recomputes both without duplicating them.
  auto again = RunExperiment(e, Stories(), quiet);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->cases_run, 0);
  EXPECT_EQ(again->cases_skipped, 2);
  auto forced = RunExperiment(e, Stories(), {.force = true, .log = nullptr});
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->cases_run, 2);
  auto final_table = ReadCsvFile(csv);
  ASSERT_TRUE(final_table.ok());
  EXPECT_EQ(final_table->rows.size(), 2u);
}

TEST(RunnerTest, FailingCaseBecomesAnErrorRowAndTheSweepGoesOn) {
  const std::string csv = FreshDir("errors") + "/out.csv";
  Experiment e = TwoCaseExperiment(csv);
  e.policies[0].spec.policy_params["budget"] = "0";  // invalid: a budget keeps at least one token
  auto report = RunExperiment(e, Stories(), {.log = nullptr});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->cases_failed, 1);
  auto table = ReadCsvFile(csv);
  ASSERT_TRUE(table.ok());
  ASSERT_EQ(table->rows.size(), 2u);
  const int error = table->Column("error"), kld = table->Column("kld_mean"),
            budget = table->Column("budget");
  EXPECT_THAT(table->rows[0][error], HasSubstr("budget"));
  EXPECT_EQ(table->rows[0][kld], "");
  EXPECT_EQ(table->rows[0][budget], "0");
  EXPECT_EQ(table->rows[1][error], "");
  EXPECT_NE(table->rows[1][kld], "");
  EXPECT_THAT(report->summary, HasSubstr("error:"));
  // Every row has every column; provenance is filled.
  for (const auto& row : table->rows) {
    EXPECT_EQ(row.size(), ResultColumns().size());
    EXPECT_EQ(row[table->Column("config_hash")].size(), 16u);
    EXPECT_FALSE(row[table->Column("timestamp")].empty());
    EXPECT_FALSE(row[table->Column("git_sha")].empty());
  }
  // An error row is retried on the next run (and fails again, still one row).
  auto retry = RunExperiment(e, Stories(), {.log = nullptr});
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->cases_run, 1);
  EXPECT_EQ(ReadCsvFile(csv)->rows.size(), 2u);
}

// evicted_tokens is what the policy removed by the last scored token (24 + 24 - 1 = 47 fed):
// window(8) 39; full none, without complaint. A budget of 47 evicts nothing from those 47 tokens
// though it is below the 48-token context: an error row naming the budget, not full's numbers.
// The memory columns split kv_bytes_logical into the K/V payload and the 4-byte positions.
TEST(RunnerTest, EvictedTokensAndABudgetThatEvictsNothing) {
  const std::string csv = FreshDir("evicted") + "/out.csv";
  Experiment e = TwoCaseExperiment(csv);
  e.policies[1].spec.policy_params["budget"] = "47";
  e.policies.push_back(e.policies[0]);
  e.policies.back().spec = CacheSpec{};  // full, f32
  auto report = RunExperiment(e, Stories(), {.log = nullptr});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->cases_failed, 1);
  auto table = ReadCsvFile(csv);
  ASSERT_TRUE(table.ok());
  ASSERT_EQ(table->rows.size(), 3u);
  const auto cell = [&](int row, const char* column) {
    return table->rows[row][table->Column(column)];
  };
  EXPECT_EQ(cell(0, "evicted_tokens"), "39");
  EXPECT_EQ(cell(0, "error"), "");
  EXPECT_EQ(cell(1, "evicted_tokens"), "0");
  EXPECT_THAT(cell(1, "error"), HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(cell(1, "error"), HasSubstr("budget 47 evicts nothing from the 48-token context"));
  EXPECT_EQ(cell(2, "evicted_tokens"), "0");
  EXPECT_EQ(cell(2, "error"), "");
  // window(8), f32: 8 entries x layers x KV heads x head_dim floats, K and V; 4 bytes per entry.
  const ModelConfig& c = Stories().config;
  const uint64_t entries = 8ull * c.n_layers * c.n_kv_heads;
  EXPECT_EQ(cell(0, "kv_bytes_payload"), absl::StrCat(entries * c.head_dim * 4 * 2));
  EXPECT_EQ(cell(0, "kv_bytes_index"), absl::StrCat(entries * 4));
  EXPECT_EQ(cell(0, "kv_bytes_logical"), absl::StrCat(entries * (c.head_dim * 8 + 4)));
}

TEST(RunnerTest, LatencyMemoryAndMetadata) {
  const std::string csv = FreshDir("latency") + "/sub/out.csv";
  Experiment e = TwoCaseExperiment(csv);
  e.measure_latency = true;
  e.repetitions = 2;
  e.warmup = 1;
  auto report = RunExperiment(e, Stories(), {.lockstep_check = true, .log = nullptr});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->cases_run, 4);
  EXPECT_GT(report->lockstep_seconds, 0);
  EXPECT_GT(report->alone_seconds, 0);
  auto table = ReadCsvFile(csv);
  ASSERT_TRUE(table.ok());
  ASSERT_EQ(table->rows.size(), 4u);
  const auto& row = table->rows[0];
  double tps = 0, ratio = 0, logical = 0;
  ASSERT_TRUE(absl::SimpleAtod(row[table->Column("decode_tokens_per_s")], &tps));
  ASSERT_TRUE(absl::SimpleAtod(row[table->Column("kv_bytes_ratio")], &ratio));
  ASSERT_TRUE(absl::SimpleAtod(row[table->Column("kv_bytes_logical")], &logical));
  EXPECT_GT(tps, 0);
  EXPECT_GT(logical, 0);
  // window(8) keeps 8 of 48 positions: the f32 payload shrinks 6x (metadata aside).
  EXPECT_GT(ratio, 4.0);
  EXPECT_EQ(row[table->Column("repetition")], "0");
  EXPECT_EQ(table->rows[1][table->Column("repetition")], "1");
  auto meta = ParseJsonFile(MetadataPath(csv));
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ((*meta)["experiment"]["name"], "resume");
  EXPECT_EQ((*meta)["run"]["cases_total"], 4);
  EXPECT_TRUE((*meta)["versions"]["git_sha"].is_string());
  EXPECT_NE((*meta)["run"]["finished"], "");
}

TEST(RunnerTest, HashIsStable) {
  EXPECT_EQ(HashHex(""), "cbf29ce484222325");  // FNV-1a offset basis
  EXPECT_EQ(HashHex("a"), "af63dc4c8601ec8c");
}

}  // namespace
}  // namespace kvbench
