// kvbench: benchmark and simulate KV-cache policies on a real Llama-family decoder.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/commands.h"

namespace {

struct Command {
  std::string_view name;
  int (*run)(int argc, char** argv);
  std::string_view help;
};

// One explicit table: the order here is the order of `kvbench help`.
constexpr Command kCommands[] = {
    {"run", kvbench::cli::Run, "run a YAML experiment: sweep policies, write CSV + summary"},
    {"generate", kvbench::cli::Generate, "continue a prompt and print tokens/s"},
    {"tokenize", kvbench::cli::Tokenize, "print the token ids of a text (or decode ids)"},
    {"logits", kvbench::cli::Logits, "write teacher-forced logits of every position as .npy"},
    {"inspect", kvbench::cli::Inspect, "print a model's architecture, tokenizer and tensors"},
    {"synth", kvbench::cli::Synth, "write a GGUF with seeded random weights of a preset shape"},
    {"policies", kvbench::cli::Policies, "list cache policies and KV stores with their parameters"},
    {"gate", kvbench::cli::Gate, "compare a results CSV with its baseline under YAML rules (CI)"},
    {"trace", kvbench::cli::Trace, "record a full run's attention and key norms for replay (.kvt)"},
    {"simulate", kvbench::cli::Simulate,
     "replay eviction policies on a trace: attention recall per budget"},
    {"plan", kvbench::cli::Plan, "KV cache bytes, what fits in memory, decode-time lower bound"},
    {"prefix", kvbench::cli::Prefix,
     "prefix cache across requests: hit rate and TTFT per budget x strategy"},
    {"bench", kvbench::cli::Bench,
     "llama-bench's pp/tg tests and output (md, csv, json, jsonl) per cache policy and store"},
    {"report", kvbench::cli::Report, "results CSVs -> one self-contained HTML page with plots"},
    {"compare", kvbench::cli::Compare,
     "two results CSVs row by row: each metric's change, its standard error, significance"},
    {"keep", kvbench::cli::Keep,
     "the positions each layer and KV head keeps after a context (JSON, kvpress's oracle)"},
};

void PrintUsage(FILE* out) {
  std::fprintf(out, "usage: kvbench <command> [flags]\n\ncommands:\n");
  for (const Command& c : kCommands) {
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.help.size()), c.help.data());
  }
  std::fprintf(out, "\n`kvbench <command> --help` lists a command's flags.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "help") == 0 || std::strcmp(argv[1], "--help") == 0) {
    PrintUsage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const Command& c : kCommands) {
    if (c.name == argv[1]) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "kvbench: unknown command '%s'\n\n", argv[1]);
  PrintUsage(stderr);
  return 2;
}
