// `kvbench gate` as a function: reads the three files, evaluates, prints the table, writes the
// optional Markdown and JUnit files, and with `update` replaces the baseline by the current
// results. Kept out of cli/ so that tests can check exit codes and files.
//
// Exit codes: 0 pass (or baseline updated), 1 regression (or an update refused because current
// has error rows), 2 bad input: a missing or malformed file, a rule naming an unknown column,
// duplicate row keys, an unwritable output.
#ifndef KVBENCH_HARNESS_GATE_RUN_H_
#define KVBENCH_HARNESS_GATE_RUN_H_

#include <cstdio>
#include <string>

namespace kvbench {

struct GateRunOptions {
  std::string baseline_path;
  std::string current_path;
  std::string rules_path;
  std::string markdown_path;  // empty: no Markdown file
  std::string junit_path;     // empty: no JUnit file
  // Rewrite baseline_path from current_path (atomically) and print what changed. A baseline that
  // does not exist yet is created.
  bool update = false;
  FILE* out = stdout;  // the table and the update description
  FILE* err = stderr;  // errors
};

int RunGate(const GateRunOptions& options);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_GATE_RUN_H_
