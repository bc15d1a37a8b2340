// What config_hash adds beyond the experiment's text (harness/input_identity.h): the dataset's
// content, the resolved model file's identity and kvbench's version.
#include "harness/input_identity.h"

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/version.h"
#include "formats/atomic_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

std::string Dir(const std::string& name) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/input_identity_", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A dataset edited in place under the same path gets another identity (before, the hash held the
// path only and the old rows were reused).
TEST(InputIdentityTest, DatasetContentNotPath) {
  const std::string path = Dir("dataset") + "/stories.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "Once upon a time").ok());
  const DatasetSpec spec{.path = path};
  auto before = DatasetIdentity(spec);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(*DatasetIdentity(spec), *before);  // stable
  ASSERT_TRUE(WriteFileAtomically(path, "Once upon a time.").ok());
  auto after = DatasetIdentity(spec);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*after, *before);
  EXPECT_EQ(*DatasetIdentity(DatasetSpec{.prompts = {"a"}}), "dataset.content=inline");
  EXPECT_FALSE(DatasetIdentity(DatasetSpec{.path = path + ".missing"}).ok());
}

// A model file replaced under the same name (another size or modification time) gets another
// identity; a folder (a Hugging Face checkpoint) covers each file in it.
TEST(InputIdentityTest, ModelFileSizeAndTime) {
  const std::string dir = Dir("model");
  const std::string file = dir + "/m.gguf";
  ASSERT_TRUE(WriteFileAtomically(file, "GGUF....").ok());
  auto before = ModelFileIdentity(file);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_THAT(*before, HasSubstr("size=8"));
  EXPECT_EQ(*ModelFileIdentity(file), *before);
  const auto t = std::filesystem::last_write_time(file);
  std::filesystem::last_write_time(file, t + std::chrono::seconds(5));
  EXPECT_NE(*ModelFileIdentity(file), *before);

  ASSERT_TRUE(WriteFileAtomically(dir + "/config.json", "{}").ok());
  auto folder = ModelFileIdentity(dir);
  ASSERT_TRUE(folder.ok()) << folder.status();
  EXPECT_THAT(*folder, HasSubstr("config.json size=2"));
  EXPECT_THAT(*folder, HasSubstr("m.gguf size=8"));
  EXPECT_FALSE(ModelFileIdentity(dir + "/none.gguf").ok());
}

TEST(InputIdentityTest, KeyNamesTheVersion) {
  Experiment e;
  e.model = Dir("key") + "/m.gguf";
  ASSERT_TRUE(WriteFileAtomically(e.model, "GGUF").ok());
  e.dataset.prompts = {"a"};
  auto key = InputsKey(e);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_THAT(*key, HasSubstr(absl::StrCat("kvbench.version=", kKvbenchVersion)));
  EXPECT_THAT(*key, HasSubstr("model.file="));
  EXPECT_THAT(*key, HasSubstr("dataset.content=inline"));
}

}  // namespace
}  // namespace kvbench
