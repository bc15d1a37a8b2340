// Experiment-level sweeps (harness/experiment_sweep.h): lists of model, context_tokens and
// prompt_tokens expand into one experiment per combination, in loop order, each checked as a file
// giving that value, with line-numbered errors naming the point.
#include "harness/experiment_sweep.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/yaml_reader.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::StatusOr<std::vector<Experiment>> Parse(const std::string& yaml) {
  const YamlReader reader("exp.yaml");
  absl::StatusOr<YAML::Node> root = reader.Load(yaml);
  if (!root.ok()) return root.status();
  return ParseExperimentSweep(*root, "exp.yaml", "exp");
}

constexpr char kPolicies[] =
    "dataset: {prompts: [\"one two three\"]}\n"
    "policies:\n"
    "  - name: window\n"
    "    budget: 8\n";

TEST(ExperimentSweepTest, NoListIsOneExperiment) {
  auto sweep = Parse(std::string("context_tokens: 32\n") + kPolicies);
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  ASSERT_EQ(sweep->size(), 1u);
  EXPECT_EQ((*sweep)[0].context_tokens, 32);
}

TEST(ExperimentSweepTest, ContextListGivesOneExperimentPerValue) {
  auto sweep = Parse(std::string("context_tokens: [32, 48, 64]\nprompt_tokens: 16\n") + kPolicies);
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  ASSERT_EQ(sweep->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*sweep)[i].context_tokens, 32 + 16 * static_cast<int>(i));
    EXPECT_EQ((*sweep)[i].prompt_tokens, 16);
    EXPECT_EQ((*sweep)[i].score_tokens, 16 + 16 * static_cast<int>(i));  // the rest is scored
    EXPECT_EQ((*sweep)[i].output, (*sweep)[0].output);                   // one CSV
    EXPECT_EQ((*sweep)[i].name, "exp");
  }
}

TEST(ExperimentSweepTest, ModelVariesSlowestThenContextThenPrompt) {
  auto sweep = Parse(std::string("model: [a, b]\ncontext_tokens: [32, 64]\n"
                                 "prompt_tokens: [8, 16]\n") +
                     kPolicies);
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  ASSERT_EQ(sweep->size(), 8u);
  std::vector<std::string> points;
  for (const Experiment& e : *sweep) {
    points.push_back(e.model + "/" + std::to_string(e.context_tokens) + "/" +
                     std::to_string(e.prompt_tokens));
  }
  EXPECT_THAT(points, testing::ElementsAre("a/32/8", "a/32/16", "a/64/8", "a/64/16", "b/32/8",
                                           "b/32/16", "b/64/8", "b/64/16"));
}

TEST(ExperimentSweepTest, ABadValueIsAnErrorOnItsLineNamingThePoint) {
  auto sweep = Parse(std::string("context_tokens:\n  - 32\n  - many\n") + kPolicies);
  ASSERT_FALSE(sweep.ok());
  EXPECT_EQ(sweep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(sweep.status().message()), StartsWith("exp.yaml:3: "));
  EXPECT_THAT(std::string(sweep.status().message()), HasSubstr("(sweep point context_tokens=many)"));
}

TEST(ExperimentSweepTest, APointThatFailsACrossCheckIsNamed) {
  // prompt_tokens 48 fits a 64-token context but not a 32-token one.
  auto sweep = Parse(std::string("context_tokens: [64, 32]\nprompt_tokens: 48\n") + kPolicies);
  ASSERT_FALSE(sweep.ok());
  EXPECT_THAT(std::string(sweep.status().message()), StartsWith("exp.yaml:"));
  EXPECT_THAT(std::string(sweep.status().message()), HasSubstr("(sweep point context_tokens=32)"));
}

TEST(ExperimentSweepTest, AnEmptyListIsAnError) {
  auto sweep = Parse(std::string("model: stories260K\ncontext_tokens: []\n") + kPolicies);
  ASSERT_FALSE(sweep.ok());
  EXPECT_EQ(sweep.status().message(), "exp.yaml:2: context_tokens: an empty sweep");
}

}  // namespace
}  // namespace kvbench
