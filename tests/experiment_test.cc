// Experiment YAML: schema errors with line numbers, sweep expansion, token-count rules, datasets.
#include "harness/experiment.h"

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/dataset.h"
#include "harness/experiment_sweep.h"
#include "harness/sweep.h"
#include "model/loader.h"

namespace kvbench {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kMinimal[] = R"(model: stories260K
dataset:
  prompts: ["Once upon a time"]
policies:
  - name: full
)";

absl::StatusOr<Experiment> Parse(const std::string& yaml) {
  return ParseExperiment(yaml, "exp.yaml", "exp");
}

TEST(ExperimentTest, MinimalGetsDefaults) {
  auto e = Parse(kMinimal);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->name, "exp");
  EXPECT_EQ(e->output, "results/exp.csv");
  EXPECT_EQ(e->context_tokens, 256);
  EXPECT_EQ(e->prompt_tokens, 128);
  EXPECT_EQ(e->score_tokens, 128);
  EXPECT_EQ(e->reference.policy, "full");
  EXPECT_EQ(e->reference.k_store, "f32");
  EXPECT_TRUE(e->measure_divergence && e->measure_latency && e->measure_memory);
  ASSERT_EQ(e->policies.size(), 1u);
  EXPECT_EQ(e->policies[0].spec.policy, "full");
  EXPECT_EQ(e->policies[0].line, 5);
}

TEST(ExperimentTest, FullSchema) {
  auto e = Parse(R"(name: sweep1
model: tinystories656k
threads: 1
seed: 7
dataset:
  path: ../shared/data/tinystories-valid-200.jsonl
  concatenate: false
context_tokens: 100
score_tokens: 40
max_sequences: 3
policies:
  - name: window
    budget: [32, 64]
    store: [f32, q8_0]
  - name: full
    k_store: kivi
    v_store: f32
    k_params: {bits: [2, 4]}
reference: {name: full, store: f32}
measure: [divergence]
repetitions: 2
warmup: 0
lockstep_batch: 4
output: out/x.csv
)");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->name, "sweep1");
  EXPECT_EQ(e->threads, 1);
  EXPECT_EQ(e->seed, 7u);
  EXPECT_EQ(e->dataset.format, "jsonl");  // from the extension
  EXPECT_FALSE(e->dataset.concatenate);
  EXPECT_EQ(e->prompt_tokens, 60);
  EXPECT_EQ(e->score_tokens, 40);
  EXPECT_TRUE(e->measure_divergence);
  EXPECT_FALSE(e->measure_latency);
  EXPECT_FALSE(e->measure_memory);
  EXPECT_EQ(e->lockstep_batch, 4);
  EXPECT_EQ(e->output, "out/x.csv");
  // First axis slowest: budget outer, store inner; then the kivi entry's two bit widths.
  ASSERT_EQ(e->policies.size(), 6u);
  const auto& p = e->policies;
  EXPECT_THAT(p[0].spec.policy_params, ElementsAre(Pair("budget", "32")));
  EXPECT_EQ(p[0].spec.k_store, "f32");
  EXPECT_EQ(p[1].spec.k_store, "q8_0");
  EXPECT_EQ(p[1].spec.v_store, "q8_0");
  EXPECT_THAT(p[2].spec.policy_params, ElementsAre(Pair("budget", "64")));
  EXPECT_EQ(p[2].spec.k_store, "f32");
  EXPECT_EQ(p[4].spec.k_store, "kivi");
  EXPECT_EQ(p[4].spec.v_store, "f32");
  EXPECT_THAT(p[4].spec.k_params, ElementsAre(Pair("bits", "2")));
  EXPECT_TRUE(p[4].spec.v_params.empty());
  EXPECT_THAT(p[5].spec.k_params, ElementsAre(Pair("bits", "4")));
  EXPECT_EQ(p[5].line, 15);
}

TEST(ExperimentTest, UnknownTopLevelKeyNamesTheLine) {
  auto e = Parse(std::string(kMinimal) + "repetitons: 3\n");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(e.status().message(), HasSubstr("exp.yaml:6: unknown key 'repetitons'"));
  EXPECT_THAT(e.status().message(), HasSubstr("repetitions"));  // lists the valid keys
}

TEST(ExperimentTest, UnknownPolicyParameterNamesTheLine) {
  auto e = Parse(R"(dataset: {prompts: [a]}
policies:
  - name: window
    budgte: 32
)");
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(), HasSubstr("exp.yaml:4: unknown key 'budgte' in policies[0]"));
  EXPECT_THAT(e.status().message(), HasSubstr("budget"));
}

TEST(ExperimentTest, UnknownDatasetKey) {
  auto e = Parse("dataset: {prompts: [a], shuffle: true}\npolicies: [{name: full}]\n");
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(), HasSubstr("exp.yaml:1: unknown key 'shuffle' in dataset"));
}

// yaml-cpp keeps the first of two equal keys and hides the second: every mapping of the file
// (top level, dataset, a policy entry) refuses a repeated key with both lines.
TEST(ExperimentTest, RepeatedKeysAreErrors) {
  auto top = Parse(std::string(kMinimal) + "model: tinystories656k\n");
  ASSERT_FALSE(top.ok());
  EXPECT_THAT(top.status().message(),
              HasSubstr("exp.yaml:6: key 'model' appears twice in one mapping (first at line 1)"));
  auto dataset = Parse(
      "model: stories260K\ndataset:\n  prompts: [a]\n  prompts: [b]\n"
      "policies: [{name: full}]\n");
  ASSERT_FALSE(dataset.ok());
  EXPECT_THAT(dataset.status().message(), HasSubstr("exp.yaml:4: key 'prompts' appears twice"));
  auto policy = Parse(
      "model: stories260K\ndataset: {prompts: [a]}\npolicies:\n"
      "  - {name: window, budget: 8, budget: 16}\n");
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(policy.status().message(), HasSubstr("exp.yaml:4: key 'budget' appears twice"));
}

// YAML caps an implicit key at 1024 characters and yaml-cpp reports a longer one as "illegal map
// value" past its end; the error names the key and the limit, at the key's line, block or flow.
// A long value is not limited.
TEST(ExperimentTest, KeyOverYamlLimitIsNamedAsSuch) {
  const std::string key(1500, 'k');
  for (const std::string& yaml :
       {absl::StrCat(kMinimal, key, ": 1\n"),
        absl::StrCat("model: stories260K\ndataset: {prompts: [a]}\npolicies:\n  - name: window\n",
                     "    ", key, ": 2\n"),
        absl::StrCat("model: stories260K\ndataset: {prompts: [a]}\npolicies:\n",
                     "  - {name: window, \"", key, "\": 2}\n")}) {
    auto e = Parse(yaml);
    ASSERT_FALSE(e.ok());
    EXPECT_THAT(e.status().message(),
                AllOf(HasSubstr("a key of "), HasSubstr(" characters ('"), HasSubstr("kkkk"),
                      HasSubstr("YAML allows at most 1024")))
        << e.status();
  }
  auto block = Parse(absl::StrCat(kMinimal, key, ": 1\n"));
  EXPECT_THAT(block.status().message(), HasSubstr("exp.yaml:6: a key of 1500 characters"));
  // Other syntax errors keep yaml-cpp's message.
  auto other = Parse(absl::StrCat(kMinimal, "name: a: b\n"));
  EXPECT_THAT(other.status().message(), HasSubstr("exp.yaml:6: illegal map value"));
  // At the limit, the key is read (and refused as unknown, like any other).
  auto at_limit = Parse(absl::StrCat(kMinimal, std::string(1024, 'k'), ": 1\n"));
  EXPECT_THAT(at_limit.status().message(), HasSubstr("unknown key 'kkkk"));
  auto long_value = Parse(absl::StrCat(kMinimal, "name: ", std::string(5000, 'n'), "\n"));
  EXPECT_TRUE(long_value.ok()) << long_value.status();
}

TEST(ExperimentTest, WrongTypes) {
  auto threads = Parse(std::string(kMinimal) + "threads: many\n");
  ASSERT_FALSE(threads.ok());
  EXPECT_THAT(threads.status().message(),
              HasSubstr("exp.yaml:6: 'threads' must be an integer, got 'many'"));
  auto reps = Parse(std::string(kMinimal) + "repetitions: [1, 2]\n");
  ASSERT_FALSE(reps.ok());
  EXPECT_THAT(reps.status().message(), HasSubstr("exp.yaml:6: 'repetitions' must be an integer"));
  auto measure = Parse(std::string(kMinimal) + "measure: [speed]\n");
  ASSERT_FALSE(measure.ok());
  EXPECT_THAT(measure.status().message(), HasSubstr("measure 'speed'"));
  auto policies = Parse("dataset: {prompts: [a]}\npolicies: {name: full}\n");
  ASSERT_FALSE(policies.ok());
  EXPECT_THAT(policies.status().message(), HasSubstr("exp.yaml:2: 'policies' must be a list"));
  auto nested = Parse("dataset: {prompts: [a]}\npolicies:\n  - name: window\n    budget: {a: 1}\n");
  ASSERT_FALSE(nested.ok());
  EXPECT_THAT(nested.status().message(), HasSubstr("exp.yaml:4:"));
}

TEST(ExperimentTest, EmptySweepIsAnError) {
  auto e = Parse(R"(dataset: {prompts: [a]}
policies:
  - name: window
    budget: []
)");
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(), HasSubstr("exp.yaml:4: 'budget' is an empty list"));
  auto none = Parse("dataset: {prompts: [a]}\npolicies: []\n");
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(), HasSubstr("exp.yaml:2: 'policies' is an empty list"));
}

TEST(ExperimentTest, UnknownNamesListValidOnes) {
  auto policy = Parse("dataset: {prompts: [a]}\npolicies:\n  - name: lru\n");
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(policy.status().message(),
              HasSubstr("exp.yaml:3: unknown policy 'lru'; valid: full"));
  auto store = Parse("dataset: {prompts: [a]}\npolicies:\n  - name: full\n    store: [f32, q9]\n");
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("exp.yaml:4: unknown store 'q9'"));
  auto store_param = Parse(
      "dataset: {prompts: [a]}\npolicies:\n  - name: full\n    k_store: kivi\n"
      "    k_params: {bitz: 2}\n");
  ASSERT_FALSE(store_param.ok());
  EXPECT_THAT(store_param.status().message(),
              HasSubstr("exp.yaml:5: unknown store parameter 'bitz'"));
}

TEST(ExperimentTest, DuplicateCasesAndMixedStoreKeys) {
  auto dup =
      Parse("dataset: {prompts: [a]}\npolicies:\n  - name: full\n  - name: full\n    store: f32\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.status().message(), HasSubstr("appears twice (also from line 3)"));
  auto mixed = Parse(
      "dataset: {prompts: [a]}\npolicies:\n  - name: full\n    store: f32\n    k_store: f32\n");
  ASSERT_FALSE(mixed.ok());
  EXPECT_THAT(mixed.status().message(), HasSubstr("not both"));
}

TEST(ExperimentTest, TokenCounts) {
  auto only_context = Parse(std::string(kMinimal) + "context_tokens: 101\n");
  ASSERT_TRUE(only_context.ok());
  EXPECT_EQ(only_context->prompt_tokens, 51);
  EXPECT_EQ(only_context->score_tokens, 50);
  auto two = Parse(std::string(kMinimal) + "prompt_tokens: 10\nscore_tokens: 5\n");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->context_tokens, 15);
  auto bad =
      Parse(std::string(kMinimal) + "context_tokens: 10\nprompt_tokens: 5\nscore_tokens: 6\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("must equal prompt_tokens (5) + score_tokens (6)"));
  auto lonely = Parse(std::string(kMinimal) + "prompt_tokens: 10\n");
  EXPECT_FALSE(lonely.ok());
}

// Every value the registry can judge without the model is judged when the file is read, with the
// line of the value and the valid range: before, each of these parsed, ran and became an error row
// with exit 0 (or, for ints beyond int, aborted the process).
TEST(ExperimentTest, ParameterValuesAreCheckedWhenRead) {
  struct Probe {
    std::string entry;    // the policy entry, on line 4
    std::string message;  // part of the error
  };
  const std::vector<Probe> probes = {
      {"{name: window, budget: 0}", "parameter 'budget' = '0' is not positive"},
      {"{name: window, budget: -5}", "parameter 'budget' = '-5' is not positive"},
      {"{name: window, budget: 150%}", "is not a percentage <= 100%"},
      {"{name: window, budget: \"8.0\"}", "is not a ratio <= 1"},
      {"{name: window, budget: 1e30}", "is not a token count of at most 2147483647"},
      {"{name: window, budget: 3000000000}", "is not a token count of at most 2147483647"},
      {"{name: window, budget: 9223372036854775807}", "is not a token count of at most"},
      {"{name: window, budget: 99999999999999999999}", "is not a token count of at most"},
      {"{name: window, budget: 300}", "exceeds the context of 256 tokens"},
      {"{name: h2o, budget: 32, heavy_ratio: 2.0}",
       "parameter 'heavy_ratio' = 2.0 must be between 0 and 1"},
      {"{name: sinks, budget: 32, n_sink: 3000000000}",
       "parameter 'n_sink' = '3000000000' is not an integer between -2147483648 and 2147483647"},
      {"{name: sinks, budget: 32, n_sink: 40}", "parameter 'n_sink' = 40"},
      {"{name: snapkv, budget: 32, window: 3000000000}", "parameter 'window' = '3000000000'"},
      {"{name: snapkv, budget: 128}", "keeps the whole prompt of 128 tokens"},
      {"{name: window, budget: 32, positions: sideways}",
       "parameter 'positions' = 'sideways' is not one of original, cache"},
      {"{name: full, store: kivi, store_params: {bits: 3}}",
       "k_store: store kivi: parameter 'bits' = 3 is not one of 2, 4, 8"},
      {"{name: full, store: kivi, store_params: {group: 3000000000}}",
       "parameter 'group' = '3000000000' is not an integer"},
      {"{name: full, v_store: fp8_e4m3, v_params: {amax: -1}}",
       "v_store: store fp8_e4m3: parameter 'amax' = -1 is not in [0, "},
  };
  for (const Probe& probe : probes) {
    auto e = Parse(absl::StrCat("model: stories260K\ndataset: {prompts: [a]}\npolicies:\n  - ",
                                probe.entry, "\n"));
    ASSERT_FALSE(e.ok()) << probe.entry;
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << probe.entry;
    EXPECT_THAT(e.status().message(), HasSubstr("exp.yaml:4: policies[0]: ")) << probe.entry;
    EXPECT_THAT(e.status().message(), HasSubstr(probe.message)) << probe.entry;
  }
}

// The line is the offending value's, also inside a sweep and in store_params.
TEST(ExperimentTest, ParameterErrorsPointAtTheValue) {
  auto budget = Parse(R"(dataset: {prompts: [a]}
policies:
  - name: h2o
    heavy_ratio: 0.5
    budget: [32, 64, 0.0]
)");
  ASSERT_FALSE(budget.ok());
  EXPECT_THAT(budget.status().message(),
              HasSubstr("exp.yaml:5: policies[0]: policy h2o: parameter 'budget' = '0.0'"));
  auto bits = Parse(R"(dataset: {prompts: [a]}
policies:
  - name: full
    k_store: kivi
    k_params:
      group: 32
      bits: [2, 3]
)");
  ASSERT_FALSE(bits.ok());
  EXPECT_THAT(bits.status().message(), HasSubstr("exp.yaml:7: policies[0]: k_store: store kivi"));
  auto reference = Parse(
      "dataset: {prompts: [a]}\nreference: {name: window, budget: 0}\n"
      "policies: [{name: full}]\n");
  ASSERT_FALSE(reference.ok());
  EXPECT_THAT(reference.status().message(), HasSubstr("exp.yaml:2: reference: policy window"));
}

// A sweep axis applies to the points whose policy (or store) declares it: window does not take
// `aggregate`, so it runs once, h2o twice (before: 2 of the 4 cases were error rows).
TEST(ExperimentTest, SweepAxesApplyWhereDeclared) {
  auto e = Parse(R"(dataset: {prompts: [a]}
policies:
  - name: [window, h2o]
    budget: 32
    aggregate: [mean, max]
  - name: full
    store: [q8_0, kivi]
    store_params: {bits: [2, 4]}
)");
  ASSERT_TRUE(e.ok()) << e.status();
  std::vector<std::string> labels;
  for (const PolicyCase& c : e->policies) labels.push_back(c.spec.Label());
  EXPECT_THAT(
      labels,
      ElementsAre(
          "window(budget=32,positions=original,when=every_step) k=f32 v=f32",
          "h2o(aggregate=mean,budget=32,heavy_ratio=0.5,positions=original,when=every_step) "
          "k=f32 v=f32",
          "h2o(aggregate=max,budget=32,heavy_ratio=0.5,positions=original,when=every_step) "
          "k=f32 v=f32",
          "full(positions=original) k=q8_0 v=q8_0", HasSubstr("k=kivi(bits=2,"),
          HasSubstr("k=kivi(bits=4,")));
  // Still an error: a parameter no named policy declares, and a point given twice.
  auto typo = Parse(
      "dataset: {prompts: [a]}\npolicies:\n  - {name: [window, h2o], budget: 8, "
      "agregate: max}\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.status().message(), HasSubstr("exp.yaml:3: unknown key 'agregate'"));
  auto twice = Parse("dataset: {prompts: [a]}\npolicies:\n  - {name: window, budget: [8, 8]}\n");
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.status().message(), HasSubstr("appears twice"));
}

// Budget limits of a task are those of its longest case: a budget beyond every case is an error
// when read, one that fits the longest case is left to the run.
TEST(ExperimentTest, TaskBudgetsAreCheckedAgainstTheLongestCase) {
  const std::string task =
      "model: stories260K\ndataset: {prompts: [a]}\n"
      "task: {name: niah, lengths: [256, 512], depths: [0.5]}\n"
      "policies:\n";
  auto too_big = Parse(task + "  - {name: snapkv, budget: 600}\n");
  ASSERT_FALSE(too_big.ok());
  EXPECT_THAT(too_big.status().message(), HasSubstr("exp.yaml:5: policies[0]: policy snapkv"));
  auto fits = Parse(task + "  - {name: snapkv, budget: [300, 0.25]}\n");
  EXPECT_TRUE(fits.ok()) << fits.status();
}

// The shipped experiments pass the read-time checks (they ran before those existed).
TEST(ExperimentTest, ShippedConfigsPass) {
  const std::filesystem::path configs =
      std::filesystem::path(KVBENCH_TESTDATA_DIR) / "../../configs";
  int read = 0;
  for (const auto& entry : std::filesystem::directory_iterator(configs)) {
    if (entry.path().extension() != ".yaml" || entry.path().stem() == "prefix_sweep") continue;
    // Every point of a config's model / context_tokens / prompt_tokens sweep (context_sweep.yaml).
    auto e = LoadExperimentSweep(entry.path().string());
    EXPECT_TRUE(e.ok()) << entry.path() << ": " << e.status();
    ++read;
  }
  EXPECT_GE(read, 8);
}

TEST(ExperimentTest, ReferenceCannotSweep) {
  auto e = Parse(std::string(kMinimal) + "reference: {name: full, store: [f32, q8_0]}\n");
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(), HasSubstr("reference cannot sweep"));
}

TEST(ExperimentTest, SyntaxErrorHasLine) {
  auto e = Parse("dataset: {prompts: [a]\npolicies: [\n");
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(), HasSubstr("exp.yaml:"));
}

TEST(ExperimentTest, ToJsonMentionsEveryCase) {
  auto e = Parse(
      "dataset: {prompts: [\"say \\\"hi\\\"\"]}\npolicies:\n  - name: window\n    budget: [8, "
      "16]\n");
  ASSERT_TRUE(e.ok()) << e.status();
  const std::string json = e->ToJson();
  EXPECT_THAT(json, HasSubstr("\"budget\": \"8\""));
  EXPECT_THAT(json, HasSubstr("\"budget\": \"16\""));
  EXPECT_THAT(json, HasSubstr("say \\\"hi\\\""));
}

TEST(SweepTest, ExpandsInNestedLoopOrder) {
  auto points = ExpandSweep({{"a", {"1", "2"}}, {"b", {"x", "y", "z"}}});
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 6u);
  EXPECT_THAT((*points)[0], ElementsAre(Pair("a", "1"), Pair("b", "x")));
  EXPECT_THAT((*points)[2], ElementsAre(Pair("a", "1"), Pair("b", "z")));
  EXPECT_THAT((*points)[3], ElementsAre(Pair("a", "2"), Pair("b", "x")));
  EXPECT_THAT((*points)[5], ElementsAre(Pair("a", "2"), Pair("b", "z")));
}

TEST(SweepTest, NoAxesIsOnePoint) {
  auto points = ExpandSweep({});
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 1u);
  EXPECT_TRUE((*points)[0].empty());
}

TEST(SweepTest, EmptyAxisAndTooManyPoints) {
  EXPECT_FALSE(ExpandSweep({{"a", {"1"}}, {"b", {}}}).ok());
  std::vector<std::string> ten = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  auto big = ExpandSweep({{"a", ten}, {"b", ten}, {"c", ten}}, /*max_points=*/999);
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.status().message(), HasSubstr("more than 999 points"));
}

TEST(DatasetTest, SplitOnSeparator) {
  EXPECT_THAT(SplitOnSeparator("one\n<|endoftext|>\n two \n<|endoftext|>\n\n<|endoftext|>",
                               "<|endoftext|>"),
              ElementsAre("one", "two"));
  EXPECT_THAT(SplitOnSeparator("no separator", "##"), ElementsAre("no separator"));
}

TEST(DatasetTest, SharedPathFallsBackToTheSharedDir) {
  auto path = ResolveDataPath("../shared/data/tinystories-valid-200.txt");
  ASSERT_TRUE(path.ok()) << path.status();
  auto missing = ResolveDataPath("../shared/data/nope.txt");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(KVBENCH_SHARED_DIR));
}

// /dev/zero, a FIFO or a folder exists: refused as what it is, never reported as missing (and
// never opened: a FIFO without a writer would block).
TEST(DatasetTest, PathThatIsNotARegularFileIsNamedAsSuch) {
  const std::string dir = ::testing::TempDir() + "/dataset_not_regular";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string fifo = dir + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {std::string("/dev/zero"), dir, fifo}) {
    auto resolved = ResolveDataPath(path);
    ASSERT_FALSE(resolved.ok()) << path;
    EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(resolved.status().message(),
                HasSubstr(absl::StrCat("cannot read ", path, ": not a regular file")));
  }
}

TEST(DatasetTest, TextAndJsonlGiveTheSameStories) {
  DatasetSpec text{.path = "../shared/data/tinystories-valid-200.txt"};
  DatasetSpec jsonl{.path = "../shared/data/tinystories-valid-200.jsonl", .format = "jsonl"};
  auto a = LoadTexts(text);
  auto b = LoadTexts(jsonl);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->size(), 200u);
  EXPECT_EQ(b->size(), 200u);
  EXPECT_EQ((*a)[0].substr(0, 10), "Spot. Spot");
  EXPECT_EQ((*a)[0], (*b)[0]);
}

TEST(DatasetTest, BuildSequences) {
  auto model = LoadModel("stories260K");
  ASSERT_TRUE(model.ok()) << model.status();
  const Tokenizer& tok = *(*model)->tokenizer;
  const std::vector<std::string> texts = {"Once upon a time there was a cat.", "The dog ran.",
                                          "Lily liked to play in the park with her friends."};
  auto seqs =
      BuildSequences(texts, tok, {.context_tokens = 8, .max_sequences = 100, .concatenate = true});
  ASSERT_TRUE(seqs.ok()) << seqs.status();
  size_t total = 0;
  for (const auto& t : texts) total += tok.Encode(t, true).size();
  EXPECT_EQ(seqs->size(), total / 8);
  for (const auto& s : *seqs) {
    EXPECT_EQ(s.size(), 8u);
    EXPECT_EQ(s[0], tok.bos_id());
  }
  auto capped =
      BuildSequences(texts, tok, {.context_tokens = 8, .max_sequences = 1, .concatenate = true});
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->size(), 1u);
  // One per text: only texts of at least 10 tokens make a sequence.
  auto separate = BuildSequences(
      texts, tok, {.context_tokens = 10, .max_sequences = 100, .concatenate = false});
  ASSERT_TRUE(separate.ok());
  EXPECT_EQ(separate->size(), 2u);
  const std::vector<int> third = tok.Encode(texts[2], true);
  EXPECT_EQ((*separate)[1], std::vector<int>(third.begin(), third.begin() + 10));
  auto too_long =
      BuildSequences(texts, tok, {.context_tokens = 1000, .max_sequences = 1, .concatenate = true});
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace kvbench
