// ResolveModelPath / LoadModel: the GGUF and llama2.c exports of stories260K are the same network
// (compared element by element), short names resolve to all three shared models, and unknown names
// list every place searched.
#include "model/loader.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvbench {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;

const std::string kModels = KVBENCH_SHARED_DIR "/models";

// Sets or clears $KVBENCH_MODELS for one scope.
class ScopedModelsEnv {
 public:
  explicit ScopedModelsEnv(const char* value) {
    if (const char* old = std::getenv("KVBENCH_MODELS")) old_ = old;
    if (value == nullptr) {
      ::unsetenv("KVBENCH_MODELS");
    } else {
      ::setenv("KVBENCH_MODELS", value, 1);
    }
  }
  ~ScopedModelsEnv() {
    if (old_.has_value()) {
      ::setenv("KVBENCH_MODELS", old_->c_str(), 1);
    } else {
      ::unsetenv("KVBENCH_MODELS");
    }
  }

 private:
  std::optional<std::string> old_;
};

fs::path FreshDir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("kvbench_loader_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void ExpectSameMatrix(const WeightMatrix& a, const WeightMatrix& b, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(a.dtype, DType::kF32);
  ASSERT_EQ(b.dtype, DType::kF32);
  ASSERT_EQ(a.rows, b.rows);
  ASSERT_EQ(a.cols, b.cols);
  const float* x = reinterpret_cast<const float*>(a.data);
  const float* y = reinterpret_cast<const float*>(b.data);
  int64_t mismatches = 0;
  for (int64_t k = 0; k < a.rows * a.cols; ++k) {
    // Bit-identical: compare the representations, so -0 vs 0 or NaN payloads would also show.
    if (std::memcmp(&x[k], &y[k], 4) != 0 && mismatches++ < 3) {
      ADD_FAILURE() << "element " << k << ": " << x[k] << " vs " << y[k];
    }
  }
  EXPECT_EQ(mismatches, 0);
}

void ExpectSameVector(const float* a, const float* b, int n, const std::string& what) {
  ASSERT_NE(a, nullptr) << what;
  ASSERT_NE(b, nullptr) << what;
  EXPECT_EQ(std::memcmp(a, b, sizeof(float) * n), 0) << what;
}

TEST(LoaderTest, GgufAndLlama2cStoriesAreTheSameNetwork) {
  absl::StatusOr<std::unique_ptr<Model>> g = LoadModel(kModels + "/stories260K/stories260K.gguf");
  absl::StatusOr<std::unique_ptr<Model>> l = LoadModel(kModels + "/stories260K/stories260K.bin");
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ((*g)->format, "gguf");
  EXPECT_EQ((*l)->format, "llama2c");
  const ModelConfig& a = (*g)->config;
  const ModelConfig& b = (*l)->config;
  EXPECT_EQ(a.dim, b.dim);
  EXPECT_EQ(a.n_layers, b.n_layers);
  EXPECT_EQ(a.n_heads, b.n_heads);
  EXPECT_EQ(a.n_kv_heads, b.n_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.hidden_dim, b.hidden_dim);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.rope_dims, b.rope_dims);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rms_eps, b.rms_eps);
  EXPECT_EQ(a.context_length, 2048);  // what the GGUF declares (trained on 512)
  EXPECT_EQ(b.context_length, 512);

  const ModelWeights& wg = (*g)->weights;
  const ModelWeights& wl = (*l)->weights;
  ExpectSameMatrix(wg.token_embedding, wl.token_embedding, "token_embedding");
  ExpectSameMatrix(wg.classifier, wl.classifier, "classifier");
  ExpectSameVector(wg.final_norm, wl.final_norm, a.dim, "final_norm");
  ASSERT_EQ(wg.layers.size(), 5u);
  ASSERT_EQ(wl.layers.size(), 5u);
  for (int i = 0; i < a.n_layers; ++i) {
    const LayerWeights& x = wg.layers[i];
    const LayerWeights& y = wl.layers[i];
    const std::string p = "layer " + std::to_string(i) + " ";
    ExpectSameVector(x.attn_norm, y.attn_norm, a.dim, p + "attn_norm");
    ExpectSameVector(x.ffn_norm, y.ffn_norm, a.dim, p + "ffn_norm");
    ExpectSameMatrix(x.wq, y.wq, p + "wq");
    ExpectSameMatrix(x.wk, y.wk, p + "wk");
    ExpectSameMatrix(x.wv, y.wv, p + "wv");
    ExpectSameMatrix(x.wo, y.wo, p + "wo");
    ExpectSameMatrix(x.w_gate, y.w_gate, p + "w_gate");
    ExpectSameMatrix(x.w_up, y.w_up, p + "w_up");
    ExpectSameMatrix(x.w_down, y.w_down, p + "w_down");
  }
  // Tied classifier: llama2.c shares the embedding's memory; the GGUF stores an equal copy.
  EXPECT_EQ(wl.classifier.data, wl.token_embedding.data);
  EXPECT_NE(wg.classifier.data, wg.token_embedding.data);
  EXPECT_EQ(wg.bytes_per_token(), wl.bytes_per_token());

  // Same tokenizer from both sources.
  ASSERT_NE((*g)->tokenizer, nullptr);
  ASSERT_NE((*l)->tokenizer, nullptr);
  ASSERT_EQ((*g)->tokenizer->vocab_size(), (*l)->tokenizer->vocab_size());
  for (int id = 0; id < (*g)->tokenizer->vocab_size(); ++id) {
    EXPECT_EQ((*g)->tokenizer->Piece(id), (*l)->tokenizer->Piece(id)) << id;
  }
}

TEST(LoaderTest, ShortNamesResolveToAllThreeModels) {
  for (const char* env : {static_cast<const char*>(nullptr), kModels.c_str()}) {
    SCOPED_TRACE(env == nullptr ? "compile-time fallback" : "$KVBENCH_MODELS");
    ScopedModelsEnv scoped(env);
    absl::StatusOr<std::string> stories = ResolveModelPath("stories260K");
    ASSERT_TRUE(stories.ok()) << stories.status();
    EXPECT_THAT(*stories, EndsWith("stories260K/stories260K.gguf"));
    EXPECT_TRUE(fs::equivalent(*stories, kModels + "/stories260K/stories260K.gguf"));
    absl::StatusOr<std::string> aidreams = ResolveModelPath("aidreams260K");
    ASSERT_TRUE(aidreams.ok()) << aidreams.status();
    EXPECT_THAT(*aidreams, EndsWith("aidreams260K/aidreams260K.bin"));
    absl::StatusOr<std::string> hf = ResolveModelPath("tinystories656k");
    ASSERT_TRUE(hf.ok()) << hf.status();
    EXPECT_TRUE(fs::is_directory(*hf));
    EXPECT_TRUE(fs::equivalent(*hf, kModels + "/tinystories656k"));
  }
  // A path is used as it is; a directory path stands for the model inside it.
  const std::string bin = kModels + "/stories260K/stories260K.bin";
  EXPECT_EQ(*ResolveModelPath(bin), bin);
  EXPECT_THAT(*ResolveModelPath(kModels + "/stories260K/"), EndsWith("stories260K.gguf"));
}

TEST(LoaderTest, ModelsEnvironmentComesFirst) {
  const fs::path dir = FreshDir("env");
  fs::create_symlink(kModels + "/stories260K/stories260K.bin", dir / "mine.bin");
  fs::create_directories(dir / "stories260K");  // shadows the shared one, but holds no model
  {
    ScopedModelsEnv scoped(("/nonexistent:" + dir.string()).c_str());
    absl::StatusOr<std::string> p = ResolveModelPath("mine");
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(*p, (dir / "mine.bin").string());
    absl::StatusOr<std::unique_ptr<Model>> m = LoadModel("mine");
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ((*m)->format, "llama2c");
    // The empty stories260K directory is skipped; the shared one is found later.
    absl::StatusOr<std::string> s = ResolveModelPath("stories260K");
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_TRUE(fs::equivalent(*s, kModels + "/stories260K/stories260K.gguf"));
  }
  ScopedModelsEnv none(nullptr);
  EXPECT_EQ(ResolveModelPath("mine").status().code(), absl::StatusCode::kNotFound);
}

TEST(LoaderTest, UnknownNameListsEveryPlaceSearched) {
  ScopedModelsEnv scoped("/tmp/kvbench-no-such-root");
  absl::StatusOr<std::string> p = ResolveModelPath("no_such_model");
  ASSERT_EQ(p.status().code(), absl::StatusCode::kNotFound) << p.status();
  EXPECT_THAT(
      std::string(p.status().message()),
      AllOf(HasSubstr("'no_such_model'"), HasSubstr("/tmp/kvbench-no-such-root/no_such_model"),
            HasSubstr("models/no_such_model.gguf"), HasSubstr("../shared/models/no_such_model"),
            HasSubstr(kModels + "/no_such_model.bin"), HasSubstr("KVBENCH_MODELS")));
  EXPECT_EQ(LoadModel("no_such_model").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ResolveModelPath("/abs/missing.gguf").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ResolveModelPath("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoaderTest, DispatchByContent) {
  const fs::path dir = FreshDir("dispatch");
  // A GGUF is recognised by its magic whatever its name.
  fs::copy_file(kModels + "/stories260K/stories260K.gguf", dir / "weights.dat");
  absl::StatusOr<std::unique_ptr<Model>> m = LoadModel((dir / "weights.dat").string());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->format, "gguf");
  // Neither GGUF nor .bin nor a Hugging Face directory: InvalidArgument naming the file.
  std::ofstream(dir / "notes.txt") << "hello";
  absl::Status s = LoadModel((dir / "notes.txt").string()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr((dir / "notes.txt").string()));
  // A directory without a model in it.
  fs::create_directories(dir / "empty");
  s = LoadModel((dir / "empty").string()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("empty.gguf"), HasSubstr("config.json")));
}

}  // namespace
}  // namespace kvbench
