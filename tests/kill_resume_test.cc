// `kill -9` in the middle of a lockstep divergence pass, then the same command again: the run
// resumes from the pass's checkpoint (harness/divergence_checkpoint.h) and its CSV equals an
// uninterrupted run's, row for row (all but the timestamp and git_sha columns, which say when and
// from which commit a row was written, and peak_rss_bytes, the peak of the process that wrote it).
// The built `kvbench` runs as a subprocess, as a user's would, and dies by SIGKILL: nothing in the
// process gets to clean up.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/csv.h"

namespace kvbench {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class KillResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / absl::StrCat("kvbench_kill_resume_test_", ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Six sequences of 128 tokens, four policies in one lockstep batch.
  std::string WriteExperiment(const fs::path& output) const {
    const fs::path path = dir_ / absl::StrCat(output.stem().string(), ".yaml");
    std::ofstream(path) << "name: kill_resume\n"
                        << "model: " << KVBENCH_SHARED_DIR
                        << "/models/stories260K/stories260K.gguf\n"
                        << "threads: 1\n"
                        << "dataset: {path: " << KVBENCH_SHARED_DIR
                        << "/data/tinystories-valid-200.txt}\n"
                        << "context_tokens: 128\n"
                        << "prompt_tokens: 48\n"
                        << "max_sequences: 6\n"
                        << "policies:\n"
                        << "  - name: [window, h2o, tova, snapkv]\n"
                        << "    budget: 40\n"
                        << "measure: [divergence, memory]\n"
                        << "repetitions: 1\n"
                        << "output: " << output.string() << "\n";
    return path.string();
  }

  // Starts `kvbench run yaml`; returns its pid.
  pid_t Start(const std::string& yaml, const fs::path& log) const {
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::freopen(log.c_str(), "w", stderr);
      std::freopen("/dev/null", "w", stdout);
      ::execl(KVBENCH_BINARY, KVBENCH_BINARY, "run", yaml.c_str(), "--progress=never", nullptr);
      ::_exit(127);
    }
    return pid;
  }

  static int Wait(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

  // The checkpoint beside `csv` holding at least `sequences` sequences, or "" after `timeout`.
  static std::string WaitForCheckpoint(const fs::path& csv, int sequences, pid_t pid) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (std::chrono::steady_clock::now() < deadline) {
      for (const fs::directory_entry& f : fs::directory_iterator(csv.parent_path())) {
        const std::string name = f.path().filename().string();
        if (name.rfind(csv.filename().string() + ".", 0) != 0 ||
            f.path().extension() != ".partial") {
          continue;
        }
        const std::string text = ReadAll(f.path());
        for (int s = sequences; s < 6; ++s) {
          if (text.find(absl::StrCat("\nsequences ", s, " ")) != std::string::npos) return text;
        }
      }
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) return "";  // finished without one
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return "";
  }

  // The rows without the columns that say when and from which commit they were written.
  static std::vector<std::vector<std::string>> Rows(const fs::path& csv) {
    auto table = ReadCsvFile(csv.string());
    EXPECT_TRUE(table.ok()) << table.status();
    if (!table.ok()) return {};
    const int timestamp = table->Column("timestamp"), git_sha = table->Column("git_sha"),
              rss = table->Column("peak_rss_bytes");
    for (auto& row : table->rows) row[timestamp] = row[git_sha] = row[rss] = "";
    return table->rows;
  }

  fs::path dir_;
};

TEST_F(KillResumeTest, KilledLockstepPassResumesWithIdenticalRows) {
  const fs::path whole = dir_ / "whole.csv", killed = dir_ / "killed.csv";
  ASSERT_EQ(Wait(Start(WriteExperiment(whole), dir_ / "whole.log")), 0)
      << ReadAll(dir_ / "whole.log");

  const std::string yaml = WriteExperiment(killed);
  const pid_t pid = Start(yaml, dir_ / "first.log");
  const std::string checkpoint = WaitForCheckpoint(killed, 2, pid);
  ASSERT_FALSE(checkpoint.empty())
      << "no checkpoint of 2+ sequences: " << ReadAll(dir_ / "first.log");
  ::kill(pid, SIGKILL);
  ASSERT_EQ(Wait(pid), -SIGKILL) << "the run finished before the kill";

  const int rc = Wait(Start(yaml, dir_ / "second.log"));
  const std::string log = ReadAll(dir_ / "second.log");
  ASSERT_EQ(rc, 0) << log;
  EXPECT_THAT(log, HasSubstr("resuming the divergence of 4 policies at sequence "));
  EXPECT_EQ(Rows(killed), Rows(whole));
  // Done: the checkpoint is gone.
  for (const fs::directory_entry& f : fs::directory_iterator(dir_)) {
    EXPECT_NE(f.path().extension(), ".partial") << f.path();
  }
}

}  // namespace
}  // namespace kvbench
