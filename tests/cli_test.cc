// The `kvbench` command line as a user meets it: the built executable (KVBENCH_BINARY) run as a
// subprocess. Every command's --help exits 0 and lists its flags; unknown flags (and flags of other
// commands) exit 2 naming the flag; --set overrides reach the run metadata and the rows, and a bad
// one is a named error; one spec grammar: what any command prints, every other accepts.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "formats/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/csv.h"
#include "policies/registry.h"
#include "policies/spec_text.h"
#include "sim/replay.h"
#include "stores/store_registry.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int exit_code = -1;
  std::string out, err;
};

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Quote(const std::string& arg) {
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kvbench_cli_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // `prefix` runs the binary under another command (setpriv, to drop root).
  Result Kvbench(const std::vector<std::string>& args, const std::string& prefix = "") const {
    std::string command = prefix + KVBENCH_BINARY;
    for (const std::string& a : args) command += " " + Quote(a);
    const auto out = dir_ / "stdout", err = dir_ / "stderr";
    command += " >" + out.string() + " 2>" + err.string() + " </dev/null";
    const int status = std::system(command.c_str());
    Result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = ReadAll(out);
    r.err = ReadAll(err);
    return r;
  }

  // A tiny experiment on stories260K: 16 tokens of inline text, one window policy.
  std::string WriteExperiment(const std::string& extra = "") const {
    const std::string path = (dir_ / "exp.yaml").string();
    std::ofstream(path) << "model: " << KVBENCH_SHARED_DIR
                        << "/models/stories260K/stories260K.gguf\n"
                        << "threads: 1\n"
                        << "dataset:\n"
                        << "  prompts: [\"Once upon a time there was a little girl named Lily. "
                           "She liked to play outside in the park with her friends every day.\"]\n"
                        << "context_tokens: 16\n"
                        << "prompt_tokens: 8\n"
                        << "max_sequences: 1\n"
                        << extra << "policies:\n"
                        << "  - name: window\n"
                        << "    budget: 4\n"
                        << "measure: [divergence]\n"
                        << "repetitions: 1\n"
                        << "output: " << (dir_ / "out.csv").string() << "\n";
    return path;
  }

  std::filesystem::path dir_;
};

// Each command and flags its help must list (kebab-case, as the help prints them).
const std::map<std::string, std::vector<std::string>>& CommandFlags() {
  static const auto* const kFlags = new std::map<std::string, std::vector<std::string>>{
      {"run",
       {"--set", "--model", "--force", "--lockstep-check", "--progress", "--format",
        "--format-output"}},
      {"generate", {"--model", "--prompt", "-n", "--policy", "--k-store", "--v-store", "--top-k"}},
      {"tokenize", {"--model", "--text", "--file", "--bos", "--no-bos", "--json", "--decode"}},
      {"logits", {"--model", "--text", "--tokens", "-o, --output"}},
      {"inspect", {"--model", "--threads"}},
      {"synth", {"--shape", "--dims", "--dtype", "--seed", "-o, --output", "--list-shapes"}},
      {"policies", {"name"}},
      {"gate", {"--baseline", "--current", "--rules", "--markdown", "--junit", "--update"}},
      {"trace", {"--set", "-o, --output", "--prob-format"}},
      {"simulate", {"--policies", "--k-store", "--v-store", "--threads", "--csv", "--validate"}},
      {"plan", {"--model", "--shape", "--context", "--kv-store", "--policy", "--memory"}},
      {"prefix", {"--set", "--model", "--force", "--progress"}},
      {"bench",
       {"-m, --model", "-p, --n-prompt", "-n, --n-gen", "--pg", "-d, --n-depth", "-t, --threads",
        "-r, --repetitions", "-o, --output", "--policy", "--k-store", "--v-store", "--no-warmup"}},
      {"report", {"results", "-o, --output"}},
      {"compare", {"base", "new", "--format", "--fail-on-regression"}},
      {"keep",
       {"--model", "--threads", "--text", "--file", "--no-bos", "--tokens", "--policy", "--k-store",
        "--v-store", "--context-end", "--scores", "--json"}},
  };
  return *kFlags;
}

// The loops below cover every command `kvbench help` lists (main.cc's table), so a command added
// there without a CommandFlags entry fails here.
TEST_F(CliTest, CommandFlagsCoversEveryCommand) {
  const Result r = Kvbench({"help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out.substr(r.out.find("commands:\n") + 10));
  std::vector<std::string> listed;
  for (std::string line; std::getline(lines, line) && line.rfind("  ", 0) == 0;) {
    listed.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  EXPECT_EQ(listed.size(), CommandFlags().size());
  for (const std::string& command : listed)
    EXPECT_TRUE(CommandFlags().contains(command)) << command;
}

TEST_F(CliTest, EveryCommandsHelpExitsZeroAndListsItsFlags) {
  for (const auto& [command, flags] : CommandFlags()) {
    SCOPED_TRACE(command);
    const Result r = Kvbench({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("usage: kvbench " + command));
    for (const std::string& flag : flags) EXPECT_THAT(r.out, HasSubstr(flag));
    // Only this command's flags: no absl dump, no other command's flags.
    EXPECT_THAT(r.out, Not(HasSubstr("--helpfull")));
    if (command != "run" && command != "trace" && command != "prefix") {
      EXPECT_THAT(r.out, Not(HasSubstr("--lockstep-check")));
    }
  }
}

TEST_F(CliTest, UnknownFlagExitsTwoNamingIt) {
  for (const auto& [command, flags] : CommandFlags()) {
    SCOPED_TRACE(command);
    const Result r = Kvbench({command, "--no-such-flag=3"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr("--no-such-flag"));
  }
}

TEST_F(CliTest, FlagOfAnotherCommandIsUnknown) {
  // Before, `run` silently ignored generate's --k_store and ran the YAML's stores.
  const Result r = Kvbench({"run", WriteExperiment(), "--k_store=q4_0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--k_store"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.csv"));
}

TEST_F(CliTest, SnakeCaseAliasEqualsKebabCase) {
  const std::vector<std::string> base = {"plan", "--shape", "llama-3-8b", "--context", "1024"};
  std::vector<std::string> kebab = base, snake = base;
  kebab.insert(kebab.end(), {"--k-store", "q8_0", "--weight-dtype", "bf16"});
  snake.insert(snake.end(), {"--k_store", "q8_0", "--weight_dtype", "bf16"});
  const Result a = Kvbench(kebab), b = Kvbench(snake), plain = Kvbench(base);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, plain.out);  // the flag did something
}

TEST_F(CliTest, SetOverridesLandInMetadataAndRows) {
  const Result r = Kvbench({"run", WriteExperiment(), "--set", "context_tokens=24", "--set",
                            "policies.0.budget=6", "--progress=never"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto meta = ParseJsonFile((dir_ / "out.json").string());
  ASSERT_TRUE(meta.ok()) << meta.status();
  const Json& overrides = (*meta)["run"]["overrides"];
  ASSERT_TRUE(overrides.is_array());
  ASSERT_EQ(overrides.size(), 2u);
  EXPECT_EQ(overrides[0].get<std::string>(), "context_tokens=24");
  EXPECT_EQ(overrides[1].get<std::string>(), "policies.0.budget=6");
  EXPECT_EQ((*meta)["experiment"]["context_tokens"].get<int>(), 24);
  auto csv = ReadCsvFile((dir_ / "out.csv").string());
  ASSERT_TRUE(csv.ok()) << csv.status();
  ASSERT_EQ(csv->rows.size(), 1u);
  EXPECT_EQ(csv->rows[0][csv->Column("context_tokens")], "24");
  EXPECT_EQ(csv->rows[0][csv->Column("budget")], "6");
  EXPECT_EQ(csv->rows[0][csv->Column("error")], "");
}

// --progress: nothing on a stream that is not a terminal (auto, as in CI), one line redrawn in
// place when forced, never wider than 79 columns (no terminal here: $COLUMNS, else 80).
TEST_F(CliTest, ProgressLineOnlyWhereAskedAndNarrowerThanTheTerminal) {
  const std::string exp = WriteExperiment();
  const Result quiet = Kvbench({"run", exp});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find('\r'), std::string::npos) << quiet.err;
  const Result forced = Kvbench({"run", exp, "--force", "--progress=always"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_THAT(forced.err, HasSubstr("\r\033[K["));
  EXPECT_THAT(forced.err, HasSubstr(" tokens "));
  EXPECT_THAT(forced.err, HasSubstr("ETA "));
  std::istringstream segments(forced.err);
  int lines = 0;
  for (std::string segment; std::getline(segments, segment, '\r');) {
    if (segment.rfind("\033[K[", 0) != 0) continue;  // not a progress line
    segment = segment.substr(3, segment.find('\n') - 3);
    EXPECT_LE(segment.size(), 79u) << segment;
    ++lines;
  }
  EXPECT_GE(lines, 2);
  const Result bad = Kvbench({"run", exp, "--progress=sometimes"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--progress 'sometimes'"));
}

// Every field of `json` (one row object) equals the CSV's cell: null for empty, the same string,
// or the same number.
void ExpectRowEquals(const Json& json, const CsvTable& csv, size_t r) {
  ASSERT_TRUE(json.is_object());
  ASSERT_EQ(json.size(), csv.header.size());
  for (size_t c = 0; c < csv.header.size(); ++c) {
    SCOPED_TRACE(csv.header[c]);
    ASSERT_TRUE(json.contains(csv.header[c]));
    const Json& v = json[csv.header[c]];
    const std::string& cell = csv.rows[r][c];
    if (v.is_null()) {
      EXPECT_EQ(cell, "");
    } else if (v.is_string()) {
      EXPECT_EQ(v.get<std::string>(), cell);
    } else {
      ASSERT_TRUE(v.is_number()) << v.dump();
      EXPECT_EQ(v.get<double>(), std::stod(cell)) << cell;
    }
  }
}

TEST_F(CliTest, FormatJsonlAndJsonRowsEqualTheCsvRows) {
  const std::string exp = WriteExperiment();
  const Result jsonl =
      Kvbench({"run", exp, "--set", "policies.0.budget=[4,8]", "--format", "jsonl"});
  ASSERT_EQ(jsonl.exit_code, 0) << jsonl.err;
  // A second run resumes (no case recomputed) and writes the same rows as JSON, to a path given.
  const std::string json_path = (dir_ / "rows.json").string();
  const Result json = Kvbench({"run", exp, "--set", "policies.0.budget=[4,8]", "--format=json",
                               "--format-output", json_path});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.err, HasSubstr("0 cases run, 2 skipped"));
  auto csv = ReadCsvFile((dir_ / "out.csv").string());
  ASSERT_TRUE(csv.ok()) << csv.status();
  ASSERT_EQ(csv->rows.size(), 2u);

  std::istringstream lines(ReadAll(dir_ / "out.jsonl"));
  size_t r = 0;
  for (std::string line; std::getline(lines, line); ++r) {
    ASSERT_LT(r, csv->rows.size());
    auto row = ParseJson(line);
    ASSERT_TRUE(row.ok()) << row.status();
    ExpectRowEquals(*row, *csv, r);
  }
  EXPECT_EQ(r, csv->rows.size());

  auto rows = ParseJsonFile(json_path);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_TRUE(rows->is_array());
  ASSERT_EQ(rows->size(), csv->rows.size());
  for (size_t i = 0; i < csv->rows.size(); ++i) ExpectRowEquals((*rows)[i], *csv, i);
  // Measured columns are numbers, identifying ones strings (a config_hash is never a number).
  EXPECT_TRUE((*rows)[0]["kld_mean"].is_number());
  EXPECT_TRUE((*rows)[0]["config_hash"].is_string());

  // By default json goes beside the CSV as out.rows.json (out.json is the metadata).
  ASSERT_EQ(Kvbench({"run", exp, "--set", "policies.0.budget=[4,8]", "--format=json"}).exit_code,
            0);
  EXPECT_EQ(ReadAll(dir_ / "out.rows.json"), ReadAll(json_path));
  const Result md = Kvbench({"run", exp, "--set", "policies.0.budget=[4,8]", "--format=md"});
  ASSERT_EQ(md.exit_code, 0) << md.err;
  const std::string table = ReadAll(dir_ / "out.md");
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 4);  // header, rule, 2 rows
  EXPECT_THAT(table, HasSubstr("| " + csv->rows[1][csv->Column("config_hash")] + " |"));
}

TEST_F(CliTest, BadFormatFailsBeforeAnyCase) {
  const std::string exp = WriteExperiment();
  const Result bad = Kvbench({"run", exp, "--format=xml"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--format 'xml'"));
  std::filesystem::create_directories(dir_ / "folder");
  const Result folder =
      Kvbench({"run", exp, "--format=jsonl", "--format-output", (dir_ / "folder").string()});
  EXPECT_EQ(folder.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.csv"));  // nothing ran
  const Result over_csv =
      Kvbench({"run", exp, "--format=json", "--format-output", (dir_ / "out.csv").string()});
  EXPECT_EQ(over_csv.exit_code, 2);
  EXPECT_THAT(over_csv.err, HasSubstr("is the experiment's CSV"));
}

// A CSV its user may not read is bad input (exit 2, like a missing dataset), not an internal
// failure (1), in run as in gate, and nothing is written. Root reads anything: as root the binary
// runs as nobody through setpriv.
TEST_F(CliTest, UnreadableCsvIsBadInputExitTwo) {
  std::string as_user;
  if (::geteuid() == 0) {
    if (!std::filesystem::exists("/usr/bin/setpriv")) GTEST_SKIP() << "root without setpriv";
    as_user = "/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups ";
  }
  const std::string exp = WriteExperiment();
  const std::filesystem::path csv = dir_ / "out.csv";
  std::ofstream(csv) << "config_hash,error\n";
  std::filesystem::permissions(dir_, std::filesystem::perms::all);
  std::filesystem::permissions(csv, std::filesystem::perms::none);
  const Result run = Kvbench({"run", exp}, as_user);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_THAT(run.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.json"));
  std::filesystem::permissions(csv, std::filesystem::perms::owner_all);
  EXPECT_EQ(std::filesystem::file_size(csv), 18u);  // untouched
}

// context_tokens as a list: one run per value into one CSV, each row recording its value under
// its own config hash, so a second run resumes every point.
TEST_F(CliTest, ContextTokensSweepGivesRowsPerValue) {
  const std::string exp = WriteExperiment();
  const Result r = Kvbench({"run", exp, "--set", "context_tokens=[16,24]"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("context_tokens 24"));
  auto csv = ReadCsvFile((dir_ / "out.csv").string());
  ASSERT_TRUE(csv.ok()) << csv.status();
  ASSERT_EQ(csv->rows.size(), 2u);
  const int context = csv->Column("context_tokens"), hash = csv->Column("config_hash");
  EXPECT_EQ(csv->rows[0][context], "16");
  EXPECT_EQ(csv->rows[1][context], "24");
  EXPECT_EQ(csv->rows[1][csv->Column("score_tokens")], "16");  // prompt_tokens 8 stays
  EXPECT_NE(csv->rows[0][hash], csv->rows[1][hash]);
  const Result again = Kvbench({"run", exp, "--set", "context_tokens=[16,24]"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.err, HasSubstr("0 cases run, 2 skipped"));
  const Result bad = Kvbench({"run", exp, "--set", "context_tokens=[16,4]"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("(sweep point context_tokens=4)"));
}

TEST_F(CliTest, SetOfTheValueItAlreadyHasKeepsTheConfigHash) {
  // The hash follows the values, not the flags: --set context_tokens=16 (the YAML's own) resumes.
  const std::string exp = WriteExperiment();
  ASSERT_EQ(Kvbench({"run", exp, "--progress=never"}).exit_code, 0);
  const Result again = Kvbench({"run", exp, "--set", "context_tokens=16", "--progress=never"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.err, HasSubstr("0 cases run, 1 skipped"));
}

TEST_F(CliTest, BadSetIsANamedErrorExitTwo) {
  const std::string exp = WriteExperiment();
  const Result unknown = Kvbench({"run", exp, "--set", "contxt_tokens=24"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown key 'contxt_tokens'"));
  EXPECT_THAT(unknown.err, HasSubstr("--set contxt_tokens=24"));

  const Result type = Kvbench({"run", exp, "--set", "max_sequences=many"});
  EXPECT_EQ(type.exit_code, 2);
  EXPECT_THAT(type.err, HasSubstr("'max_sequences' must be an integer, got 'many'"));
  EXPECT_THAT(type.err, HasSubstr("--set max_sequences=many"));

  const Result index = Kvbench({"run", exp, "--set", "policies.3.budget=6"});
  EXPECT_EQ(index.exit_code, 2);
  EXPECT_THAT(index.err, HasSubstr("--set policies.3.budget=6"));

  const Result no_value = Kvbench({"run", exp, "--set", "context_tokens"});
  EXPECT_EQ(no_value.exit_code, 2);
  EXPECT_THAT(no_value.err, HasSubstr("not key=value"));
}

TEST_F(CliTest, ErrorsInTheFileKeepTheirLineUnderSet) {
  // Line 2 of the file is `threads: many`; an override elsewhere leaves that error's line alone.
  std::string exp = WriteExperiment();
  std::string text = ReadAll(exp);
  text.replace(text.find("threads: 1"), 10, "threads: many");
  std::ofstream(exp) << text;
  const Result r = Kvbench({"run", exp, "--set", "context_tokens=24"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(exp + ":2: 'threads' must be an integer"));
}

TEST_F(CliTest, ModelFlagOverridesTheYamlModel) {
  const Result r = Kvbench({"run", WriteExperiment(), "--model", "no-such-model"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no-such-model"));
}

TEST_F(CliTest, SummaryUsesShortLabelsCsvNamesAndStandardErrors) {
  const Result r = Kvbench({"run", WriteExperiment(), "--progress=never"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("kld_mean +- se"));
  EXPECT_THAT(r.out, HasSubstr("top1_agree +- se"));
  EXPECT_THAT(r.out, HasSubstr("window(budget=4) "));
  EXPECT_THAT(r.out, Not(HasSubstr("positions=original")));
  EXPECT_THAT(r.out, Not(HasSubstr("%")));  // top-1 as the CSV's fraction
  std::stringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 120u) << line;
}

// ---- One spec grammar.

// Every registered policy and store, with its defaults, as CacheSpec::Label prints it, parses back
// to the same spec; the CSV's ';'-separated form of a store too.
TEST(SpecTextTest, PrintedLabelsParseBack) {
  std::vector<CacheSpec> specs;
  for (const PolicyInfo& p : PolicyRegistry()) {
    CacheSpec spec{.policy = p.name};
    for (const ParamSpec& param : p.params) {
      if (param.default_value.empty()) spec.policy_params[param.name] = "16";
    }
    specs.push_back(spec);
  }
  for (const StoreInfo& s : StoreRegistry()) {
    specs.push_back({.policy = "full", .k_store = s.name, .v_store = s.name});
  }
  specs.push_back({.policy = "sinks",
                   .policy_params = {{"budget", "16"}},
                   .k_store = "kivi",
                   .k_params = {{"bits", "4"}, {"residual", "32"}}});
  for (const CacheSpec& spec : specs) {
    const std::string label = spec.Label();
    SCOPED_TRACE(label);
    auto parsed = ParseCacheSpec(label);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->Label(), label);
    // simulate's --policies takes the same text and gives the same spec.
    auto sweep = ParsePolicySweep(label, "f32", "f32");
    ASSERT_TRUE(sweep.ok()) << sweep.status();
    ASSERT_EQ(sweep->size(), 1u);
    EXPECT_EQ((*sweep)[0].Label(), label);
  }
}

TEST(SpecTextTest, CommaSemicolonAndColonFormsAreOneSpec) {
  for (const std::string text : {"kivi(bits=4,residual=32)", "kivi(bits=4;residual=32)",
                                 "kivi:bits=4,residual=32", " kivi( bits=4 ; residual=32 ) "}) {
    SCOPED_TRACE(text);
    auto parsed = ParseNamedParams(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->first, "kivi");
    EXPECT_EQ(parsed->second, (ParamMap{{"bits", "4"}, {"residual", "32"}}));
  }
  EXPECT_FALSE(ParseNamedParams("kivi(bits=4").ok());
  EXPECT_FALSE(ParseNamedParams("kivi(bits=4)x").ok());
  EXPECT_FALSE(ParseNamedParams("kivi(bits=4,bits=2)").ok());
  EXPECT_FALSE(ParseNamedParams("kivi(bits)").ok());
}

TEST(SpecTextTest, ListsSplitOutsideParentheses) {
  EXPECT_EQ(SplitSpecList("f16; kivi(bits=4;residual=32) ;q8_0"),
            (std::vector<std::string>{"f16", "kivi(bits=4;residual=32)", "q8_0"}));
  auto sweep = ParsePolicySweep("sinks(budget=16,32);window:budget=8", "q8_0", "f32");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  ASSERT_EQ(sweep->size(), 3u);
  EXPECT_EQ((*sweep)[1].policy_params.at("budget"), "32");
  EXPECT_EQ((*sweep)[2].policy, "window");
  EXPECT_EQ((*sweep)[2].k_store, "q8_0");
}

// What `run` writes into its CSV and summary, the commands that take a spec accept.
TEST_F(CliTest, SpecsPrintedByRunAreAcceptedByOtherCommands) {
  const std::string exp = WriteExperiment();
  ASSERT_EQ(
      Kvbench(
          {"run", exp, "--progress=never", "--set",
           "policies.0={name: sinks, budget: 8, k_store: kivi, k_params: {bits: 4, residual: 32}}"})
          .exit_code,
      0);
  auto csv = ReadCsvFile((dir_ / "out.csv").string());
  ASSERT_TRUE(csv.ok()) << csv.status();
  ASSERT_EQ(csv->rows.size(), 1u);
  const std::string label = csv->rows[0][csv->Column("label")];
  const std::string k_store = csv->rows[0][csv->Column("k_store")];
  ASSERT_THAT(k_store, HasSubstr(";"));  // the CSV's own spelling: kivi(bits=4;...)
  const std::string policy = label.substr(0, label.find(' '));

  const Result generate = Kvbench({"generate", "--model", "stories260K", "--prompt", "Once", "-n",
                                   "2", "--policy", policy, "--k-store", k_store});
  EXPECT_EQ(generate.exit_code, 0) << generate.err;
  const Result plan = Kvbench({"plan", "--shape", "llama-3-8b", "--context", "1024", "--policy",
                               policy, "--kv-store", "f16;" + k_store});
  EXPECT_EQ(plan.exit_code, 0) << plan.err;

  const std::string trace = (dir_ / "t.kvt").string();
  ASSERT_EQ(Kvbench({"trace", exp, "-o", trace}).exit_code, 0);
  for (const std::string& policies : {label, policy, policy + ";window:budget=4"}) {
    SCOPED_TRACE(policies);
    const Result simulate = Kvbench({"simulate", trace, "--policies", policies});
    EXPECT_EQ(simulate.exit_code, 0) << simulate.err;
    EXPECT_THAT(simulate.out, HasSubstr(policy));
  }
}

// kvbench keep on a text too short to compress (issue 16): exit 2, an error naming the input, and
// nothing on stdout (no half JSON). An empty text is BOS alone.
TEST_F(CliTest, KeepRefusesATextTooShortToCompress) {
  auto keep = [&](std::vector<std::string> args) {
    std::vector<std::string> all = {"keep", "--model", "stories260K", "--json"};
    all.insert(all.end(), args.begin(), args.end());
    return Kvbench(all);
  };
  const Result bos = keep({"--text", "", "--policy", "snapkv(budget=0.5)"});
  EXPECT_EQ(bos.exit_code, 2);
  EXPECT_EQ(bos.out, "");
  EXPECT_THAT(bos.err, HasSubstr("the text tokenizes to BOS alone (1 token)"));
  const Result none = keep({"--text", "", "--no-bos", "--policy", "window(budget=4)"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.out, "");
  EXPECT_THAT(none.err, HasSubstr("the text tokenizes to no tokens"));
  const Result short_text = keep({"--text", "Once upon a time", "--policy", "snapkv(budget=2)"});
  EXPECT_EQ(short_text.exit_code, 2);
  EXPECT_EQ(short_text.out, "");
  EXPECT_THAT(short_text.err, HasSubstr("the text (5 tokens: BOS + 4): snapkv("));
  EXPECT_THAT(short_text.err, HasSubstr("'window' = 32 exceeds the context of 5 tokens"));
  const Result ok = keep({"--text", "Once upon a time", "--policy", "window(budget=2)"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("\"n_tokens\":5"));
}

}  // namespace
}  // namespace kvbench
