// Crash safety of long cases on the real stories260K: a failed check or an exhausted allocation
// inside one policy's cache becomes that case's error row while the sweep goes on (even inside a
// lockstep batch), and a lockstep divergence pass resumed from its checkpoint ends with the
// numbers of an uninterrupted pass, bit for bit.
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/csv.h"
#include "harness/dataset.h"
#include "harness/divergence.h"
#include "harness/divergence_checkpoint.h"
#include "harness/experiment.h"
#include "harness/niah_checkpoint.h"
#include "harness/runner.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "model/ops.h"
#include "policies/registry.h"
#include "policies/window.h"
#include "tests/stories_fixture.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

// A sliding window that breaks the first time it must evict: a failed invariant check, or an
// allocation that fails, as a buggy policy or a too-large case would.
enum class Breakage { kCheck, kAllocation };

class BrokenWindow : public WindowPolicy {
 public:
  BrokenWindow(int budget, Breakage breakage) : WindowPolicy(budget), breakage_(breakage) {}
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override {
    if (!WindowPolicy::SelectKeep(layer, head, positions, keep)) return false;
    if (breakage_ == Breakage::kAllocation) throw std::bad_alloc();
    KVBENCH_CHECK(keep->size() > positions.size(), "window keeps %zu of %zu", keep->size(),
                  positions.size());
    return true;
  }

 private:
  Breakage breakage_;
};

PolicyInfo BrokenWindowInfo(const std::string& name, Breakage breakage) {
  return {.name = name,
          .description = "test: a window that fails when it evicts",
          .paper = "",
          .params = {BudgetSpec()},
          .make = [name, breakage](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const int budget, CheckedBudget(p, name, s));
            return std::make_unique<BrokenWindow>(budget, breakage);
          }};
}

Experiment SweepOf(const std::string& policies, const std::string& output) {
  auto e = ParseExperiment(absl::StrCat(R"(name: runtime_failures
model: stories260K
threads: 1
dataset: {path: ../shared/data/tinystories-valid-200.txt}
context_tokens: 64
prompt_tokens: 24
max_sequences: 2
policies:
)",
                                        policies, R"(
measure: [divergence, memory]
repetitions: 1
)"),
                           "runtime_failures.yaml", "runtime_failures");
  KVBENCH_CHECK(e.ok(), "%s", std::string(e.status().message()).c_str());
  e->output = output;
  return *e;
}

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/runtime_failure_test_" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(RuntimeFailureTest, BrokenCachesInALockstepBatchAreErrorRowsTheOthersUnchanged) {
  SetNumThreads(2);
  ScopedTestPolicy check(BrokenWindowInfo("broken_check", Breakage::kCheck));
  ScopedTestPolicy alloc(BrokenWindowInfo("broken_alloc", Breakage::kAllocation));
  const std::string dir = FreshDir("batch");
  const Experiment healthy = SweepOf(R"(  - {name: window, budget: 16}
  - {name: h2o, budget: 16})",
                                     dir + "/healthy.csv");
  const Experiment broken = SweepOf(R"(  - {name: window, budget: 16}
  - {name: broken_check, budget: 16}
  - {name: broken_alloc, budget: 16}
  - {name: h2o, budget: 16})",
                                    dir + "/broken.csv");
  ASSERT_TRUE(RunExperiment(healthy, Stories(), {.log = nullptr}).ok());
  auto report = RunExperiment(broken, Stories(), {.log = nullptr});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->cases_run, 4);
  EXPECT_EQ(report->cases_failed, 2);
  auto good = ReadCsvFile(dir + "/healthy.csv");
  auto rows = ReadCsvFile(dir + "/broken.csv");
  ASSERT_TRUE(good.ok() && rows.ok());
  ASSERT_EQ(rows->rows.size(), 4u);
  const int error = rows->Column("error"), kld = rows->Column("kld_mean"),
            policy = rows->Column("policy");
  EXPECT_EQ(rows->rows[1][policy], "broken_check");
  EXPECT_THAT(rows->rows[1][error], HasSubstr("INTERNAL: runtime failure in this case: "));
  EXPECT_THAT(rows->rows[1][error], HasSubstr("check failed: keep->size() > positions.size()"));
  EXPECT_THAT(rows->rows[2][error], HasSubstr("RESOURCE_EXHAUSTED: runtime failure in this case"));
  EXPECT_EQ(rows->rows[1][kld], "");
  // The healthy caches of the failed batch were evaluated again, alone: the same numbers.
  for (int r : {0, 3}) {
    EXPECT_EQ(rows->rows[r][error], "") << r;
    const int g = r == 0 ? 0 : 1;
    EXPECT_EQ(rows->rows[r][kld], good->rows[g][good->Column("kld_mean")]) << r;
    EXPECT_EQ(rows->rows[r][rows->Column("kv_bytes_logical")],
              good->rows[g][good->Column("kv_bytes_logical")]);
  }
}

TEST(DivergenceCheckpointTest, RoundTripIsExact) {
  DivergenceCheckpoint c{.run_key = "0123456789abcdef", .policy_keys = {"aaaa", "bbbb"}};
  c.state.sequences_done = 3;
  c.state.reference_memory = MemoryTally::FromSums({.sum = {.logical = 1ull << 40,
                                                            .allocated = 7,
                                                            .peak = 9,
                                                            .payload = 5,
                                                            .index = 2,
                                                            .entries = 11},
                                                    .evicted_sum = 0.1,
                                                    .n = 3});
  const double inf = std::numeric_limits<double>::infinity();
  for (int i = 0; i < 2; ++i) {
    DivergenceState::Lane lane;
    lane.positions = {
        {.kld = 0.1 * (i + 1),
         .top1_agree = true,
         .dp = -0.0,
         .logp_ref = -1e-300,
         .logp_pol = -inf},
        {.kld = 5e-324, .top1_agree = false, .dp = 1.0 / 3, .logp_ref = -2.5, .logp_pol = -7.25}};
    lane.greedy_prefix_sum = 17 + i;
    lane.greedy_matches = 40;
    lane.greedy_compared = 48;
    lane.memory = MemoryTally::FromSums({.sum = {.logical = 100}, .evicted_sum = 1.0 / 7, .n = 3});
    c.state.policies.push_back(lane);
  }
  const std::string text = FormatDivergenceCheckpoint(c);
  auto back = ParseDivergenceCheckpoint(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(FormatDivergenceCheckpoint(*back), text);
  EXPECT_EQ(back->policy_keys, c.policy_keys);
  const PositionDivergence& p = back->state.policies[0].positions[0];
  EXPECT_EQ(p.kld, 0.1);
  EXPECT_TRUE(std::signbit(p.dp));
  EXPECT_EQ(p.logp_ref, -1e-300);
  EXPECT_EQ(p.logp_pol, -inf);
  EXPECT_EQ(back->state.policies[1].positions[1].kld, 5e-324);
  EXPECT_EQ(back->state.policies[1].memory.evicted_tokens(), 1.0 / 7 / 3);
  EXPECT_EQ(back->state.reference_memory.sums().sum.logical, 1ull << 40);

  auto lanes = SelectLanes(*back, {"bbbb"});
  ASSERT_TRUE(lanes.has_value());
  EXPECT_EQ(lanes->policies[0].greedy_prefix_sum, 18);
  EXPECT_FALSE(SelectLanes(*back, {"aaaa", "cccc"}).has_value());

  // Torn or edited files are refused with the line (the run then starts the pass over).
  for (const std::string& bad :
       {text.substr(0, text.size() / 2), absl::StrCat("x", text), std::string("")}) {
    auto parsed = ParseDivergenceCheckpoint(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss) << bad.size();
  }
  std::string edited = text;
  edited.replace(edited.find("positions 2"), 11, "positions 9");
  EXPECT_THAT(ParseDivergenceCheckpoint(edited).status().message(), HasSubstr("line "));
}

TEST(DivergenceCheckpointTest, ResumedPassEqualsAnUninterruptedOne) {
  SetNumThreads(1);
  Decoder decoder(Stories());
  const auto seqs = Sequences(80, 3);
  const std::vector<CacheSpec> specs = {
      Spec("window", {{"budget", "16"}}), Spec("h2o", {{"budget", "24"}}),
      Spec("snapkv", {{"budget", "24"}, {"window", "8"}}), Spec("full", {}, "q4_0")};
  DivergenceOptions options{.prompt_tokens = 32, .score_tokens = 48};
  std::vector<std::string> saved;  // the checkpoint text after each sequence
  options.on_sequence = [&](const DivergenceState& state) {
    saved.push_back(FormatDivergenceCheckpoint(
        {.run_key = "k", .policy_keys = {"w", "h", "s", "q"}, .state = state}));
    return absl::OkStatus();
  };
  auto whole = EvaluateDivergence(decoder, CacheSpec{}, specs, seqs, 80, options);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_EQ(saved.size(), 3u);
  for (int done : {1, 2, 3}) {  // killed after `done` sequences, resumed from the file
    auto checkpoint = ParseDivergenceCheckpoint(saved[done - 1]);
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    EXPECT_EQ(checkpoint->state.sequences_done, done);
    DivergenceOptions resume{.prompt_tokens = 32, .score_tokens = 48};
    resume.resume = &checkpoint->state;
    int fed = 0;
    resume.on_tokens = [&](int64_t tokens) { fed += tokens; };
    auto resumed = EvaluateDivergence(decoder, CacheSpec{}, specs, seqs, 80, resume);
    ASSERT_TRUE(resumed.ok()) << resumed.status();
    EXPECT_EQ(fed, (3 - done) * 2 * (32 + 47));  // only the sequences left are fed
    EXPECT_EQ(resumed->reference_memory_end.logical, whole->reference_memory_end.logical);
    for (size_t i = 0; i < specs.size(); ++i) {
      ASSERT_TRUE(resumed->policies[i].ok()) << resumed->policies[i].status();
      const PolicyDivergence &a = *whole->policies[i], &b = *resumed->policies[i];
      ASSERT_EQ(a.positions.size(), b.positions.size());
      for (size_t p = 0; p < a.positions.size(); ++p) {
        ASSERT_EQ(a.positions[p].kld, b.positions[p].kld) << specs[i].Label() << " " << p;
        ASSERT_EQ(a.positions[p].logp_pol, b.positions[p].logp_pol);
        ASSERT_EQ(a.positions[p].dp, b.positions[p].dp);
      }
      EXPECT_EQ(a.summary.kld_mean, b.summary.kld_mean);
      EXPECT_EQ(a.greedy_match_len, b.greedy_match_len);
      EXPECT_EQ(a.token_match_rate, b.token_match_rate);
      EXPECT_EQ(a.memory_end.logical, b.memory_end.logical);
      EXPECT_EQ(a.evicted_tokens, b.evicted_tokens);
    }
  }
}

TEST(NiahCheckpointTest, RoundTripIsExact) {
  NiahCheckpoint c{.run_key = "r", .cell = 2, .cases_done = 5, .keys = {"a", "b"}};
  c.tallies.resize(2);
  c.tallies[0] = {.n = 5,
                  .correct = 3,
                  .context_tokens = 5120,
                  .kv_bytes = 1.0 / 3,
                  .prefill_ms = 12.5,
                  .error = absl::OkStatus()};
  c.tallies[1].error = absl::ResourceExhaustedError("runtime failure in this case: out of memory");
  const std::string text = FormatNiahCheckpoint(c);
  auto back = ParseNiahCheckpoint(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(FormatNiahCheckpoint(*back), text);
  EXPECT_EQ(back->tallies[0].kv_bytes, 1.0 / 3);
  EXPECT_EQ(back->tallies[1].error, c.tallies[1].error);
  EXPECT_EQ(ParseNiahCheckpoint(text.substr(0, text.size() - 5)).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace kvbench
