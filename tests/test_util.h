// Helpers shared by several tests: the TinyStories text, a small synthetic model configuration
// with full-precision sessions, deterministic token sequences, and scratch files. Header-only so
// that tests/CMakeLists.txt (one executable per *_test.cc) needs no change.
#ifndef KVBENCH_TESTS_TEST_UTIL_H_
#define KVBENCH_TESTS_TEST_UTIL_H_

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "formats/half.h"
#include "gtest/gtest.h"
#include "model/cache_shape.h"
#include "model/config.h"
#include "model/session.h"
#include "policies/policy_cache.h"
#include "policies/registry.h"
#include "stores/f32_store.h"

namespace kvbench {

// The 200 TinyStories validation stories, "<|endoftext|>"-separated lines.
inline const std::string kTinyStoriesPath =
    std::string(KVBENCH_SHARED_DIR) + "/data/tinystories-valid-200.txt";

// The whole file, or "" when it cannot be read.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The stories of kTinyStoriesPath: split on lines "<|endoftext|>"; each story keeps its inner
// newlines but not the newline before the separator; empty stories are dropped.
inline std::vector<std::string> ReadTinyStories() {
  const std::string text = ReadFile(kTinyStoriesPath);
  std::vector<std::string> stories;
  const std::string separator = "<|endoftext|>\n";
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string::npos) end = text.size();
    std::string story = text.substr(start, end - start);
    if (!story.empty() && story.back() == '\n') story.pop_back();
    if (!story.empty()) stories.push_back(story);
    start = end + separator.size();
  }
  return stories;
}

// Writes `bytes` to `path` (replacing it); a failed write fails the test.
inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// A fresh, empty directory for the current test: <gtest TempDir>/<prefix><test name>.
inline std::string FreshTestDir(const std::string& prefix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / absl::StrCat(prefix, info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

struct FakeTensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16"
  std::vector<int64_t> shape;
  std::vector<float> values;  // encoded to dtype on write
};

// Writes a safetensors file: the header JSON and data are composed here, independent of the reader.
inline void WriteSafetensors(const std::string& path, const std::vector<FakeTensor>& tensors) {
  std::string header = "{", data;
  for (const FakeTensor& t : tensors) {
    const size_t begin = data.size();
    for (float v : t.values) {
      if (t.dtype == "F32") {
        data.append(reinterpret_cast<const char*>(&v), 4);
      } else {
        const uint16_t h = t.dtype == "F16" ? F32ToFp16(v) : F32ToBf16(v);
        data.append(reinterpret_cast<const char*>(&h), 2);
      }
    }
    absl::StrAppend(&header, header.size() > 1 ? "," : "", "\"", t.name, "\":{\"dtype\":\"",
                    t.dtype, "\",\"shape\":[", absl::StrJoin(t.shape, ","), "],\"data_offsets\":[",
                    begin, ",", data.size(), "]}");
  }
  header += "}";
  while ((8 + header.size()) % 8 != 0) header += ' ';  // writers pad so that data is aligned
  std::string file;
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) file.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  WriteBytes(path, file + header + data);
}

// A small GQA configuration for synthetic models (model/synthetic.h): 3 layers, 8 query heads
// over 2 KV heads of 8 dims, vocabulary 97, context 256.
inline ModelConfig SmallSyntheticConfig() {
  ModelConfig c;
  c.dim = 64;
  c.n_layers = 3;
  c.n_heads = 8;
  c.n_kv_heads = 2;
  c.head_dim = 8;
  c.hidden_dim = 96;
  c.vocab_size = 97;
  c.context_length = 256;
  c.rope_dims = 8;
  return c;
}

// A session over the model's whole context with `Policy` and f32 K and V stores.
template <typename Policy>
std::unique_ptr<Session> NewF32Session(const Model& m) {
  const CacheShape shape = CacheShape::ForModel(m.config, m.config.context_length);
  return std::make_unique<Session>(std::make_unique<PolicyCache>(
      shape, std::make_unique<Policy>(), std::make_unique<F32Store>(shape),
      std::make_unique<F32Store>(shape)));
}

// `n` tokens uniform in [0, vocab), reproducible from `seed`.
inline std::vector<int> RandomTokens(int n, int vocab, uint64_t seed) {
  std::mt19937 rng(seed);
  std::vector<int> t(n);
  for (int& x : t) x = static_cast<int>(rng() % vocab);
  return t;
}

// `n` distinct deterministic sequences of `len` tokens, each starting with BOS (1).
inline std::vector<std::vector<int>> PatternSequences(int n, int len, int vocab) {
  std::vector<std::vector<int>> out(n, std::vector<int>(len));
  for (int s = 0; s < n; ++s) {
    out[s][0] = 1;
    for (int i = 1; i < len; ++i) out[s][i] = (i * 37 + s * 101 + 7) % vocab;
  }
  return out;
}

// A cache spec with `policy` and its parameters on f32 stores.
inline CacheSpec PolicySpec(const std::string& policy, ParamMap params = {}) {
  CacheSpec spec;
  spec.policy = policy;
  spec.policy_params = std::move(params);
  return spec;
}

}  // namespace kvbench

#endif  // KVBENCH_TESTS_TEST_UTIL_H_
