// LoadLlama2cModel: the shared llama2.c checkpoints, the exact-size rule, header validation,
// unshared classifiers and the tokenizer search beside the checkpoint.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/loader.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

const std::string kModels = KVBENCH_SHARED_DIR "/models";
const std::string kStoriesBin = kModels + "/stories260K/stories260K.bin";
const std::string kStoriesTok = kModels + "/stories260K/tok512.bin";
const std::string kAidreamsBin = kModels + "/aidreams260K/aidreams260K.bin";

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot read " << path << " (the shared models are required)";
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// A fresh, empty directory per test.
fs::path FreshDir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("kvbench_llama2c_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

int32_t HeaderField(const std::string& bytes, int k) {
  int32_t v;
  std::memcpy(&v, bytes.data() + 4 * k, 4);
  return v;
}

void SetHeaderField(std::string* bytes, int k, int32_t v) {
  std::memcpy(bytes->data() + 4 * k, &v, 4);
}

TEST(Llama2cTest, LoadsStories260K) {
  absl::StatusOr<std::unique_ptr<Model>> m = LoadLlama2cModel(kStoriesBin);
  ASSERT_TRUE(m.ok()) << m.status();
  const ModelConfig& c = (*m)->config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.context_length, 512);
  EXPECT_EQ(c.rope_dims, 8);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.rms_eps, 1e-5f);
  EXPECT_EQ((*m)->format, "llama2c");
  EXPECT_EQ((*m)->path, kStoriesBin);
  // 1 embedding + 9 per layer + rms_final + 2 freq_cis tables.
  ASSERT_EQ((*m)->tensors.size(), 1u + 9u * 5u + 3u);
  EXPECT_EQ((*m)->tensors[0].name, "token_embedding");
  EXPECT_EQ((*m)->tensors[0].shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ((*m)->tensors[3].name, "layers.0.wk");
  EXPECT_EQ((*m)->tensors[3].shape, (std::vector<int64_t>{32, 64}));
  uint64_t total = 0;
  for (const TensorInfo& t : (*m)->tensors) total += t.bytes;
  EXPECT_EQ(total + 28, fs::file_size(kStoriesBin));  // the tensor list covers the whole file

  // Views point into the mapping, in file order; the classifier is the embedding (shared).
  const ModelWeights& w = (*m)->weights;
  ASSERT_EQ((*m)->mappings.size(), 1u);
  const std::byte* base = (*m)->mappings[0]->data();
  EXPECT_EQ(w.token_embedding.data, base + 28);
  EXPECT_EQ(w.classifier.data, w.token_embedding.data);
  EXPECT_EQ(w.layers[0].attn_norm, reinterpret_cast<const float*>(base + 28 + 512 * 64 * 4));
  EXPECT_EQ(w.layers[1].wq.data, base + 28 + (512 * 64 + 5 * 64 + 64 * 64) * 4);
  EXPECT_EQ(w.layers[4].w_down.rows, 64);
  EXPECT_EQ(w.layers[4].w_down.cols, 172);
  EXPECT_EQ(w.final_norm,
            reinterpret_cast<const float*>(base + fs::file_size(kStoriesBin) - (64 + 512 * 8) * 4));
  EXPECT_TRUE((*m)->owned.empty());

  ASSERT_NE((*m)->tokenizer, nullptr);  // found tok512.bin beside the checkpoint
  EXPECT_EQ((*m)->tokenizer->vocab_size(), 512);
  EXPECT_EQ((*m)->tokenizer->Piece(1), "<s>");
}

TEST(Llama2cTest, LoadsAidreams260KWithoutGqa) {
  absl::StatusOr<std::unique_ptr<Model>> m = LoadLlama2cModel(kAidreamsBin);
  ASSERT_TRUE(m.ok()) << m.status();
  const ModelConfig& c = (*m)->config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.n_layers, 4);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.context_length, 128);
  EXPECT_EQ((*m)->weights.layers[3].wk.rows, 64);
  ASSERT_NE((*m)->tokenizer, nullptr);
  EXPECT_EQ((*m)->tokenizer->vocab_size(), 512);
}

TEST(Llama2cTest, FileSizeMustMatchTheHeaderExactly) {
  const std::string bytes = ReadAll(kStoriesBin);
  const fs::path dir = FreshDir("size");
  fs::copy_file(kStoriesTok, dir / "tok512.bin");
  for (long delta : {-1L, -4L, +1L, +4L, -static_cast<long>(bytes.size()) + 28}) {
    SCOPED_TRACE(delta);
    std::string copy = bytes;
    if (delta < 0) {
      copy.resize(copy.size() + delta);
    } else {
      copy.append(static_cast<size_t>(delta), '\0');
    }
    const fs::path path = dir / "model.bin";
    WriteBytes(path, copy);
    absl::Status s = LoadLlama2cModel(path.string()).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(
        std::string(s.message()),
        AllOf(HasSubstr(path.string()), HasSubstr("is " + std::to_string(copy.size()) + " bytes"),
              HasSubstr("implies 1056540 bytes")));
  }
  for (size_t n : {0, 4, 27}) {
    WriteBytes(dir / "short.bin", bytes.substr(0, n));
    absl::Status s = LoadLlama2cModel((dir / "short.bin").string()).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("truncated"));
  }
}

TEST(Llama2cTest, RejectsBadHeaders) {
  const std::string bytes = ReadAll(kStoriesBin);
  const fs::path dir = FreshDir("header");
  struct Case {
    int field;
    int32_t value;
    std::string needle;
  };
  const Case cases[] = {
      {0, 0, "dim = 0 is invalid"}, {0, 63, "dim 63"},
      {3, 0, "n_heads 0"},          {3, -8, "n_heads -8"},
      {4, 3, "n_kv_heads = 3"},  // 8 heads are not a multiple of 3 kv heads
      {4, 16, "n_kv_heads = 16"},   {1, -1, "hidden_dim = -1"},
      {2, 1 << 30, "n_layers"},     {5, std::numeric_limits<int32_t>::min(), "vocab_size = 0"},
      {6, 0, "context_length = 0"}, {0, 1 << 30, "dim"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.needle);
    std::string copy = bytes;
    SetHeaderField(&copy, c.field, c.value);
    WriteBytes(dir / "bad.bin", copy);
    absl::Status s = LoadLlama2cModel((dir / "bad.bin").string(), kStoriesTok).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("bad.bin"), HasSubstr(c.needle)));
  }
  // Huge but individually valid sizes must not overflow the size computation.
  std::string copy = bytes;
  SetHeaderField(&copy, 0, 1 << 16);
  SetHeaderField(&copy, 1, 1 << 18);
  SetHeaderField(&copy, 2, 1024);
  SetHeaderField(&copy, 3, 1024);
  SetHeaderField(&copy, 4, 1024);
  SetHeaderField(&copy, 5, -(1 << 22));
  SetHeaderField(&copy, 6, 1 << 24);
  WriteBytes(dir / "huge.bin", copy);
  absl::Status s = LoadLlama2cModel((dir / "huge.bin").string(), kStoriesTok).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("implies"));

  WriteBytes(dir / "v1.bin", "ak42" + std::string(252, '\0'));
  s = LoadLlama2cModel((dir / "v1.bin").string()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("ak42"));
}

TEST(Llama2cTest, UnsharedClassifierIsReadFromTheEnd) {
  std::string bytes = ReadAll(kStoriesBin);
  ASSERT_EQ(HeaderField(bytes, 5), 512);
  SetHeaderField(&bytes, 5, -512);
  // wcls: the embedding negated, so it differs from token_embedding in every element.
  std::vector<float> wcls(512 * 64);
  std::memcpy(wcls.data(), bytes.data() + 28, wcls.size() * 4);
  for (float& v : wcls) v = -v;
  bytes.append(reinterpret_cast<const char*>(wcls.data()), wcls.size() * 4);
  const fs::path dir = FreshDir("unshared");
  WriteBytes(dir / "model.bin", bytes);
  absl::StatusOr<std::unique_ptr<Model>> m =
      LoadLlama2cModel((dir / "model.bin").string(), kStoriesTok);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->config.vocab_size, 512);
  const WeightMatrix& cls = (*m)->weights.classifier;
  EXPECT_NE(cls.data, (*m)->weights.token_embedding.data);
  EXPECT_EQ(cls.rows, 512);
  EXPECT_EQ(cls.cols, 64);
  EXPECT_EQ(std::memcmp(cls.data, wcls.data(), wcls.size() * 4), 0);
  EXPECT_EQ((*m)->tensors.back().name, "wcls");

  // The same file without the classifier is one classifier too short.
  bytes.resize(bytes.size() - wcls.size() * 4);
  WriteBytes(dir / "model.bin", bytes);
  absl::Status s = LoadLlama2cModel((dir / "model.bin").string(), kStoriesTok).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("unshared"));
}

TEST(Llama2cTest, TokenizerSearchBesideTheCheckpoint) {
  const fs::path dir = FreshDir("tokenizer");
  fs::copy_file(kStoriesBin, dir / "model.bin");
  // Nothing beside it: NotFound naming every candidate.
  absl::Status s = LoadLlama2cModel((dir / "model.bin").string()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr((dir / "tokenizer.bin").string()),
                                              HasSubstr((dir / "tok512.bin").string()),
                                              HasSubstr((dir / "tok*.bin").string())));

  // Any tok*.bin is the last resort...
  fs::copy_file(kStoriesTok, dir / "tok_other.bin");
  absl::StatusOr<std::unique_ptr<Model>> m = LoadLlama2cModel((dir / "model.bin").string());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->tokenizer->vocab_size(), 512);
  // ...tok<vocab>.bin beats it, and tokenizer.bin beats both: a broken tokenizer.bin proves it is
  // the one chosen.
  WriteBytes(dir / "tokenizer.bin", "xx");
  s = LoadLlama2cModel((dir / "model.bin").string()).status();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("tokenizer.bin"));
  // An explicit path wins over everything.
  m = LoadLlama2cModel((dir / "model.bin").string(), kStoriesTok);
  EXPECT_TRUE(m.ok()) << m.status();
}

}  // namespace
}  // namespace kvbench
