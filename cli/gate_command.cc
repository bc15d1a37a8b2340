// kvbench gate: compares a results CSV with its committed baseline under YAML rules; exit 0 pass,
// 1 regression, 2 bad input (docs/gate.md).
#include <string>

#include "absl/flags/flag.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "harness/gate_run.h"

ABSL_FLAG(std::string, baseline, "", "gate: the committed baseline CSV (results/baselines/X.csv)");
ABSL_FLAG(std::string, current, "", "gate: the fresh results CSV to judge");
ABSL_FLAG(std::string, rules, "", "gate: the rules YAML (configs/gates/X.yaml)");
ABSL_FLAG(std::string, markdown, "", "gate: also write a Markdown summary here");
ABSL_FLAG(std::string, junit, "", "gate: also write JUnit XML here");
ABSL_FLAG(bool, update, false,
          "gate: rewrite the baseline from the current results (a deliberate change)");

namespace kvbench::cli {

int Gate(int argc, char** argv) {
  const std::vector<std::string> positional =
      ParseFlags("gate",
                 "--baseline B.csv --current C.csv --rules R.yaml [--markdown M.md] [--junit "
                 "J.xml] [--update]",
                 argc, argv);
  if (!positional.empty()) {
    return ReportError(
        "gate", absl::InvalidArgumentError("unexpected positional argument '" + positional[0] +
                                           "' (every input is a flag)"));
  }
  GateRunOptions options;
  options.baseline_path = absl::GetFlag(FLAGS_baseline);
  options.current_path = absl::GetFlag(FLAGS_current);
  options.rules_path = absl::GetFlag(FLAGS_rules);
  options.markdown_path = absl::GetFlag(FLAGS_markdown);
  options.junit_path = absl::GetFlag(FLAGS_junit);
  options.update = absl::GetFlag(FLAGS_update);
  return RunGate(options);
}

}  // namespace kvbench::cli
