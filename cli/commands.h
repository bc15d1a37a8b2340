// The subcommands of the `kvbench` executable, one file each. Every command takes its own
// arguments (argv[0] is the subcommand name), returns the process exit code, and reports errors
// on stderr: 0 success, 1 failure or regression, 2 bad input.
#ifndef KVBENCH_CLI_COMMANDS_H_
#define KVBENCH_CLI_COMMANDS_H_

namespace kvbench::cli {

int Generate(int argc, char** argv);
int Tokenize(int argc, char** argv);
int Logits(int argc, char** argv);
int Inspect(int argc, char** argv);
int Synth(int argc, char** argv);
int Run(int argc, char** argv);
int Policies(int argc, char** argv);
int Gate(int argc, char** argv);
int Plan(int argc, char** argv);
int Trace(int argc, char** argv);
int Simulate(int argc, char** argv);
int Prefix(int argc, char** argv);
int Bench(int argc, char** argv);
int Report(int argc, char** argv);
int Compare(int argc, char** argv);
int Keep(int argc, char** argv);

}  // namespace kvbench::cli

#endif  // KVBENCH_CLI_COMMANDS_H_
