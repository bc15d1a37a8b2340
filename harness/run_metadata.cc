#include "harness/run_metadata.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/version.h"
#include "model/ops.h"
#include "model/simd.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {

std::string GitSha() {
  FILE* pipe = popen("git rev-parse HEAD 2>/dev/null", "r");
  if (pipe == nullptr) return "unknown";
  char buf[128] = {};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, pipe);
  const int rc = pclose(pipe);
  std::string sha(buf, n);
  absl::StripAsciiWhitespace(&sha);
  if (rc != 0 || sha.size() != 40) return "unknown";
  return sha;
}

std::string UtcTimestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int64_t PeakRssBytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

std::string MetadataPath(const std::string& csv_path) {
  std::filesystem::path p(csv_path);
  p.replace_extension(".json");
  return p.string();
}

namespace {

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string model = line.substr(colon + 1);
        absl::StripAsciiWhitespace(&model);
        return model;
      }
    }
  }
  return "unknown";
}

std::string OverridesJson(const Experiment& e) {
  std::vector<std::string> quoted;
  for (const std::string& o : e.overrides) quoted.push_back(JsonQuote(o));
  return absl::StrJoin(quoted, ", ");
}

}  // namespace

std::string RunMetadataJson(const Experiment& e, const Model& model, const RunInfo& info) {
  utsname uts{};
  const bool have_uts = uname(&uts) == 0;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  const ModelConfig& c = model.config;
  return absl::StrCat(
      "{\n  \"experiment\": ", e.ToJson(), ",\n  \"model\": {\"name\": ", JsonQuote(e.model),
      ", \"path\": ", JsonQuote(model.path), ", \"format\": ", JsonQuote(model.format),
      ", \"dim\": ", c.dim, ", \"n_layers\": ", c.n_layers, ", \"n_heads\": ", c.n_heads,
      ", \"n_kv_heads\": ", c.n_kv_heads, ", \"head_dim\": ", c.head_dim,
      ", \"vocab_size\": ", c.vocab_size, ", \"context_length\": ", c.context_length,
      ", \"architecture\": ", JsonQuote(c.architecture), ", \"sliding_window\": ", c.sliding_window,
      ", \"sliding_layers\": ", c.n_sliding_layers(), "}",
      ",\n  \"run\": {\"started\": ", JsonQuote(info.started),
      ", \"finished\": ", JsonQuote(info.finished), ", \"cases_total\": ", info.cases_total,
      ", \"cases_skipped\": ", info.cases_skipped, ", \"cases_failed\": ", info.cases_failed,
      ", \"n_sequences\": ", info.n_sequences, ", \"overrides\": [", OverridesJson(e), "]}",
      ",\n  \"versions\": {\"kvbench\": ", JsonQuote(kKvbenchVersion),
      ", \"git_sha\": ", JsonQuote(GitSha()), ", \"compiler\": ", JsonQuote(__VERSION__),
      ", \"cplusplus\": ", __cplusplus,
      ", \"yaml_cpp\": \"0.7\", \"abseil\": ", ABSL_LTS_RELEASE_VERSION, "}",
      ",\n  \"machine\": {\"hostname\": ", JsonQuote(host), ", \"cpu\": ", JsonQuote(CpuModel()),
      ", \"hardware_threads\": ", std::thread::hardware_concurrency(),
      ", \"threads_used\": ", NumThreads(), ", \"simd\": ", JsonQuote(kSimdName), ", \"os\": ",
      JsonQuote(have_uts ? absl::StrCat(uts.sysname, " ", uts.release, " ", uts.machine)
                         : "unknown"),
      "}\n}\n");
}

}  // namespace kvbench
