#include "policies/random.h"

#include <memory>

#include "base/status.h"

namespace kvbench {
namespace {

// SplitMix64's finaliser (Steele et al.): consecutive inputs give independent-looking outputs.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

float RandomPolicy::Draw(uint64_t seed, int layer, int head, int position) {
  const uint64_t h =
      Mix(Mix(Mix(seed) ^ static_cast<uint64_t>(layer)) ^ static_cast<uint64_t>(head));
  const uint64_t bits = Mix(h ^ static_cast<uint64_t>(static_cast<uint32_t>(position)));
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);  // 24 bits: exact in a float
}

void RandomPolicy::OnAppend(int layer, int head, const float* keys, int n, int ld) {
  std::vector<float>& u = state_.at(layer, head);
  for (int i = 0; i < n; ++i) u.push_back(Draw(seed_, layer, head, pos0_ + i));
}

PolicyInfo RandomInfo() {
  return {.name = "random",
          .description = "keep a seeded random subset (the baseline)",
          .paper = "kvpress RandomPress",
          .default_when = "once",  // kvpress's press compresses once, after prefill
          .params = {BudgetSpec(),
                     {.name = "seed",
                      .type = ParamType::kInt,
                      .default_value = "0",
                      .help = "seed of the draws: the same seed keeps the same positions",
                      .choices = {}}},
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const int budget, CheckedBudget(p, "random", s));
            if (p.GetInt("seed") < 0) return InvalidParam(p, "random", "seed", "must be >= 0");
            return std::make_unique<RandomPolicy>(s, budget,
                                                  static_cast<uint64_t>(p.GetInt("seed")));
          }};
}

}  // namespace kvbench
