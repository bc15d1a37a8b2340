// Parameter values are checked when they are parsed, against the type the getters return: a value
// that cannot be represented is an error naming the limit, never a narrowing cast or an abort.
#include "base/params.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

const std::vector<ParamSpec>& Specs() {
  static const auto* const kSpecs = new std::vector<ParamSpec>{
      {.name = "budget",
       .type = ParamType::kBudget,
       .default_value = "",
       .help = "",
       .choices = {}},
      {.name = "n_sink", .type = ParamType::kInt, .default_value = "4", .help = "", .choices = {}},
  };
  return *kSpecs;
}

std::string ParseError(const ParamMap& given) {
  auto p = Params::Parse("policy sinks", Specs(), given);
  return p.ok() ? std::string("ok") : std::string(p.status().message());
}

TEST(ParamsTest, TokenBudgetsBeyondIntAreErrors) {
  for (const char* budget : {"1e30", "3000000000", "9223372036854775807", "99999999999999999999"}) {
    EXPECT_THAT(ParseError({{"budget", budget}}), HasSubstr("a token count of at most 2147483647"))
        << budget;
  }
  auto p = Params::Parse("policy sinks", Specs(), {{"budget", "2147483647"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->GetBudget("budget", 0), 2147483647);
}

TEST(ParamsTest, RatioAboveOneSaysItIsARatio) {
  EXPECT_THAT(ParseError({{"budget", "8.0"}}), HasSubstr("a ratio <= 1"));
  EXPECT_THAT(ParseError({{"budget", "8.0"}}), HasSubstr("write a token count without one"));
  EXPECT_THAT(ParseError({{"budget", "150%"}}), HasSubstr("a percentage <= 100%"));
}

TEST(ParamsTest, NonPositiveAndFractionalTokenCountsAreErrors) {
  EXPECT_THAT(ParseError({{"budget", "0"}}), HasSubstr("positive"));
  EXPECT_THAT(ParseError({{"budget", "-5"}}), HasSubstr("positive"));
  EXPECT_THAT(ParseError({{"budget", "1e-1"}}), HasSubstr("a whole number of tokens"));
}

TEST(ParamsTest, IntegersBeyondIntAreErrorsNotAborts) {
  EXPECT_THAT(ParseError({{"budget", "8"}, {"n_sink", "3000000000"}}),
              HasSubstr("'n_sink' = '3000000000' is not an integer between -2147483648 and "
                        "2147483647"));
  auto p = Params::Parse("policy sinks", Specs(), {{"budget", "8"}, {"n_sink", "2147483647"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->GetInt("n_sink"), 2147483647);
}

}  // namespace
}  // namespace kvbench
