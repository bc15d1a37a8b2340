#include "report/gnuplot.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/status.h"

extern char** environ;

namespace kvbench {
namespace {

// A folder under the system's temporary directory, removed with everything in it on destruction.
class TempDir {
 public:
  static absl::StatusOr<TempDir> Create() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "kvbench-report-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("cannot create a temporary folder ", pattern, ": ", std::strerror(errno)));
    }
    return TempDir(pattern);
  }
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `program script` with stdout and stderr into `log`; the exit status, or an error when it
// could not be started.
absl::StatusOr<int> Spawn(const std::string& program, const std::string& script,
                          const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> argv = {const_cast<char*>(program.c_str()), const_cast<char*>(script.c_str()),
                             nullptr};
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot run '", program, "' (", std::strerror(rc),
        "): the report draws its plots with gnuplot; install it (Debian: apt-get install "
        "gnuplot-nox)"));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace

std::string GnuplotQuote(const std::string& text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "''"}, {"\n", " "}}), "'");
}

absl::StatusOr<std::vector<std::string>> RenderSvgs(const std::vector<GnuplotPlot>& plots,
                                                    const GnuplotOptions& options) {
  if (plots.empty()) return std::vector<std::string>();
  ASSIGN_OR_RETURN(const TempDir dir, TempDir::Create());
  std::string script = absl::StrCat("cd ", GnuplotQuote(dir.path()), "\n");
  for (size_t i = 0; i < plots.size(); ++i) {
    for (const auto& [name, contents] : plots[i].data_files) {
      RETURN_IF_ERROR(WriteText(absl::StrCat(dir.path(), "/", name), contents));
    }
    // `noenhanced`: labels are shown as written (enhanced text would turn k_store's '_' into a
    // subscript). `dynamic`: the SVG scales to its container.
    absl::StrAppend(&script, "reset\nset terminal svg size ",
                    plots[i].width > 0 ? plots[i].width : options.width, ",",
                    plots[i].height > 0 ? plots[i].height : options.height,
                    " dynamic noenhanced font 'sans,12' background '#ffffff'\nset output 'plot", i,
                    ".svg'\n", plots[i].commands, "\nunset output\n");
  }
  const std::string script_path = dir.path() + "/plots.gp";
  const std::string log_path = dir.path() + "/gnuplot.log";
  RETURN_IF_ERROR(WriteText(script_path, script));
  ASSIGN_OR_RETURN(const int exit_code, Spawn(options.program, script_path, log_path));
  if (exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("gnuplot failed (exit ", exit_code, "): ", ReadText(log_path)));
  }
  std::vector<std::string> svgs;
  for (size_t i = 0; i < plots.size(); ++i) {
    const std::string svg = ReadText(absl::StrCat(dir.path(), "/plot", i, ".svg"));
    if (svg.find("<svg") == std::string::npos) {
      return absl::InternalError(
          absl::StrCat("gnuplot wrote no SVG for plot ", i, ": ", ReadText(log_path)));
    }
    svgs.push_back(svg);
  }
  return svgs;
}

}  // namespace kvbench
