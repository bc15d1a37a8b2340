// The real stories260K and its TinyStories sequences, shared by the harness tests that run whole
// sweeps on it (runner_test, runtime_failure_test), and a CacheSpec shorthand.
#ifndef KVBENCH_TESTS_STORIES_FIXTURE_H_
#define KVBENCH_TESTS_STORIES_FIXTURE_H_

#include <string>
#include <utility>
#include <vector>

#include "base/check.h"
#include "harness/dataset.h"
#include "model/loader.h"
#include "policies/registry.h"

namespace kvbench {

// Loaded once per test binary.
inline const Model& Stories() {
  static const Model* model = [] {
    auto m = LoadModel(std::string(KVBENCH_SHARED_DIR) + "/models/stories260K/stories260K.gguf");
    KVBENCH_CHECK(m.ok(), "%s", std::string(m.status().message()).c_str());
    return m->release();
  }();
  return *model;
}

// The first `n` sequences of `context` tokens of the TinyStories validation text.
inline std::vector<std::vector<int>> Sequences(int context, int n) {
  auto texts = LoadTexts({.path = "../shared/data/tinystories-valid-200.txt"});
  KVBENCH_CHECK(texts.ok());
  auto seqs =
      BuildSequences(*texts, *Stories().tokenizer, {.context_tokens = context, .max_sequences = n});
  KVBENCH_CHECK(seqs.ok());
  return *seqs;
}

inline CacheSpec Spec(std::string policy, ParamMap params = {}, std::string store = "f32") {
  CacheSpec s;
  s.policy = std::move(policy);
  s.policy_params = std::move(params);
  s.k_store = s.v_store = std::move(store);
  return s;
}

}  // namespace kvbench

#endif  // KVBENCH_TESTS_STORIES_FIXTURE_H_
