// Outputs are regular files or new paths (issue 19): a folder, a device, a FIFO or a symbolic link
// as an output is an error before any work, and the thing named is left as it was.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "formats/atomic_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/result_table.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class OutputPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kvbench_output_path_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "target.csv") << "keep me\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const char* name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

TEST_F(OutputPathTest, RefusesWhatIsNotARegularFile) {
  fs::create_directories(dir_ / "folder");
  fs::create_symlink(dir_ / "target.csv", dir_ / "link.csv");
  ASSERT_EQ(::mkfifo(Path("fifo").c_str(), 0600), 0);
  const struct {
    std::string path;
    const char* what;
  } cases[] = {{Path("folder"), "is a folder"},
               {Path("link.csv"), "is a symbolic link"},
               {Path("fifo"), "is a FIFO"},
               {"/dev/null", "is a device"},
               {"/dev/full", "is a device"}};
  for (const auto& c : cases) {
    EXPECT_THAT(std::string(WriteFileAtomically(c.path, "x").message()), HasSubstr(c.what))
        << c.path;
    auto table = ResultTable::Open(c.path, {"config_hash", "error"}, /*force=*/true);
    ASSERT_FALSE(table.ok()) << c.path;
    EXPECT_THAT(std::string(table.status().message()), HasSubstr(c.what)) << c.path;
  }
  // The link still points at its target, whose contents are unchanged; no stray files.
  EXPECT_TRUE(fs::is_symlink(dir_ / "link.csv"));
  std::ifstream in(dir_ / "target.csv");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "keep me");
  EXPECT_TRUE(fs::is_fifo(dir_ / "fifo"));
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 4);  // folder, link.csv, fifo, target.csv
}

TEST_F(OutputPathTest, RegularFilesAndNewPathsAreWritten) {
  EXPECT_TRUE(WriteFileAtomically(Path("target.csv"), "new\n").ok());
  EXPECT_TRUE(WriteFileAtomically(Path("sub/new.csv"), "new\n").ok());
  std::ifstream in(Path("sub/new.csv"));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "new");
}

}  // namespace
}  // namespace kvbench
