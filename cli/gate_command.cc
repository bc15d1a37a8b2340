// kvbench gate: compares a results CSV with its committed baseline under YAML rules; exit 0 pass,
// 1 regression, 2 bad input (docs/gate.md).
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "harness/gate_run.h"

namespace kvbench::cli {

int Gate(int argc, char** argv) {
  GateRunOptions options;
  CommandLine cl("gate", "--baseline B.csv --current C.csv --rules R.yaml [flags]",
                 "compare a results CSV with its baseline under YAML rules (CI)");
  cl.Flag("baseline", &options.baseline_path,
          "the committed baseline CSV (results/baselines/X.csv)")
      .Flag("current", &options.current_path, "the fresh results CSV to judge")
      .Flag("rules", &options.rules_path, "the rules YAML (configs/gates/X.yaml)")
      .Flag("markdown", &options.markdown_path, "also write a Markdown summary here")
      .Flag("junit", &options.junit_path, "also write JUnit XML here")
      .Switch("update", &options.update,
              "rewrite the baseline from the current results (a deliberate change)");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  return RunGate(options);
}

}  // namespace kvbench::cli
