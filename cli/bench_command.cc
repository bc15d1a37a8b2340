// kvbench bench: llama-bench's interface and output on kvbench's decoder (harness/llama_bench.h),
// with the cache policy and K/V stores as further axes. Lists are comma-separated (outside
// parentheses, so `--policy 'full,window(budget=256)'` is two policies); every combination of
// model x threads x depth x policy x K store x V store runs each of pp (-p), tg (-n) and pp+tg
// (-pg).
//
//   kvbench bench -m kvb-docs-12M -p 512 -n 128 -d 0,2048 -t 2 -r 5 -o md
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "harness/cache_columns.h"
#include "harness/csv.h"
#include "harness/llama_bench.h"
#include "harness/run_metadata.h"
#include "model/loader.h"
#include "model/ops.h"
#include "nlohmann/json.hpp"
#include "policies/spec_text.h"

namespace kvbench::cli {
namespace {

struct BenchFlags {
  std::string models = "kvb-docs-12M", n_prompt = "512", n_gen = "128", pg, n_depth = "0",
              threads = std::to_string(std::max(1u, std::thread::hardware_concurrency())),
              policy = "full", k_store = "f16", v_store = "f16", output = "md";
  int n_batch = 2048, repetitions = 5;
  uint64_t seed = 0;
  bool warmup = true;
};

absl::StatusOr<std::vector<int>> IntList(const std::string& text, const std::string& flag) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int v = 0;
    if (!absl::SimpleAtoi(part, &v) || v < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": '", part, "' is not a count (an integer >= 0)"));
    }
    out.push_back(v);
  }
  return out;
}

// "512,128" pairs of -pg.
absl::StatusOr<std::vector<std::pair<int, int>>> PairList(const std::string& text) {
  std::vector<std::pair<int, int>> out;
  if (text.empty()) return out;
  std::vector<std::string> parts = absl::StrSplit(text, ',', absl::SkipWhitespace());
  if (parts.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--pg '", text, "': give pairs of prompt and generated tokens, e.g. 512,128"));
  }
  ASSIGN_OR_RETURN(std::vector<int> v, IntList(text, "pg"));
  for (size_t i = 0; i < v.size(); i += 2) out.emplace_back(v[i], v[i + 1]);
  return out;
}

// Bytes as llama-bench prints a model's size.
std::string HumanBytes(double bytes) {
  if (bytes >= 1024.0 * 1024 * 1024) return absl::StrFormat("%.2f GiB", bytes / (1 << 30));
  return absl::StrFormat("%.2f MiB", bytes / (1 << 20));
}

std::string HumanCount(double n) {
  if (n >= 1e9) return absl::StrFormat("%.2f B", n / 1e9);
  if (n >= 1e6) return absl::StrFormat("%.2f M", n / 1e6);
  return absl::StrFormat("%.2f K", n / 1e3);
}

struct ModelFacts {
  std::string filename, type;
  uint64_t size = 0, n_params = 0;
};

ModelFacts FactsOf(const Model& model) {
  ModelFacts f{.filename = model.path};
  std::map<std::string, uint64_t> bytes_by_type;
  for (const TensorInfo& t : model.tensors) {
    f.size += t.bytes;
    uint64_t n = 1;
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    f.n_params += n;
    bytes_by_type[t.type] += t.bytes;
  }
  std::string dominant = "?";
  uint64_t most = 0;
  for (const auto& [type, b] : bytes_by_type) {
    if (b > most) most = b, dominant = type;
  }
  f.type = absl::StrCat(model.config.architecture, " ", HumanCount(f.n_params), " ", dominant);
  return f;
}

// One result row, with llama-bench's field names where they mean the same thing.
nlohmann::ordered_json Row(const ModelFacts& model, int threads, const CacheSpec& spec,
                           const BenchTest& test, const BenchStats& s) {
  nlohmann::ordered_json j;
  j["build_commit"] = GitSha();
  j["model_filename"] = model.filename;
  j["model_type"] = model.type;
  j["model_size"] = model.size;
  j["model_n_params"] = model.n_params;
  j["n_batch"] = test.n_batch;
  j["n_threads"] = threads;
  // As given (the parameters of the flag), and the whole cache with every default filled in.
  j["policy"] = StoreText(spec.policy, spec.policy_params);
  j["type_k"] = StoreText(spec.k_store, spec.k_params);
  j["type_v"] = StoreText(spec.v_store, spec.v_params);
  j["cache"] = spec.Label();
  j["n_prompt"] = test.n_prompt;
  j["n_gen"] = test.n_gen;
  j["n_depth"] = test.n_depth;
  j["test"] = test.Name();
  j["test_time"] = UtcTimestamp();
  j["avg_ns"] = static_cast<int64_t>(s.avg_ns);
  j["stddev_ns"] = static_cast<int64_t>(s.stddev_ns);
  j["avg_ts"] = s.avg_ts;
  j["stddev_ts"] = s.stddev_ts;
  j["samples_ns"] = s.samples_ns;
  j["samples_ts"] = s.samples_ts;
  return j;
}

std::string Field(const nlohmann::ordered_json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// Prints rows as they come (md, csv, jsonl) or all at the end (json).
class RowPrinter {
 public:
  explicit RowPrinter(std::string format) : format_(std::move(format)) {}

  void Add(const nlohmann::ordered_json& row, const ModelFacts& model) {
    if (format_ == "json") {
      rows_.push_back(row);
    } else if (format_ == "jsonl") {
      std::printf("%s\n", row.dump().c_str());
    } else if (format_ == "csv") {
      std::vector<std::string> fields;
      if (!header_done_) {
        for (const auto& [key, value] : row.items()) fields.push_back(CsvEscape(key));
        std::printf("%s\n", absl::StrJoin(fields, ",").c_str());
        fields.clear();
      }
      for (const auto& [key, value] : row.items()) {
        // Sample lists as llama-bench writes them in CSV: space-separated in one field.
        fields.push_back(CsvEscape(
            value.is_array()
                ? absl::StrJoin(value, " ",
                                [](std::string* o, const auto& x) { absl::StrAppend(o, x.dump()); })
                : Field(value)));
      }
      std::printf("%s\n", absl::StrJoin(fields, ",").c_str());
    } else {
      if (!header_done_) {
        std::printf(
            "| model | size | params | threads | policy | type_k | type_v | test | t/s |\n"
            "| --- | ---: | ---: | ---: | --- | --- | --- | ---: | ---: |\n");
      }
      std::printf("| %s | %s | %s | %d | %s | %s | %s | %s | %.2f ± %.2f |\n", model.type.c_str(),
                  HumanBytes(model.size).c_str(), HumanCount(model.n_params).c_str(),
                  row["n_threads"].get<int>(), Field(row["policy"]).c_str(),
                  Field(row["type_k"]).c_str(), Field(row["type_v"]).c_str(),
                  Field(row["test"]).c_str(), row["avg_ts"].get<double>(),
                  row["stddev_ts"].get<double>());
    }
    header_done_ = true;
    std::fflush(stdout);
  }
  void Finish() {
    if (format_ == "json") std::printf("%s\n", nlohmann::ordered_json(rows_).dump(2).c_str());
  }

 private:
  std::string format_;
  bool header_done_ = false;
  std::vector<nlohmann::ordered_json> rows_;
};

absl::Status RunBench(const BenchFlags& flags) {
  if (flags.output != "md" && flags.output != "csv" && flags.output != "json" &&
      flags.output != "jsonl") {
    return absl::InvalidArgumentError(
        absl::StrCat("-o ", flags.output, ": valid are md, csv, json, jsonl"));
  }
  ASSIGN_OR_RETURN(std::vector<int> prompts, IntList(flags.n_prompt, "n-prompt"));
  ASSIGN_OR_RETURN(std::vector<int> gens, IntList(flags.n_gen, "n-gen"));
  ASSIGN_OR_RETURN(std::vector<int> depths, IntList(flags.n_depth, "n-depth"));
  ASSIGN_OR_RETURN(std::vector<int> threads, IntList(flags.threads, "threads"));
  ASSIGN_OR_RETURN(auto pairs, PairList(flags.pg));
  for (int t : threads) {
    if (t < 1) return absl::InvalidArgumentError("--threads: every value must be >= 1");
  }
  // Every cache of the matrix, parsed (and checked against the registries by MakeCache) up front.
  std::vector<CacheSpec> specs;
  for (const std::string& policy : SplitSpecList(flags.policy, ',')) {
    for (const std::string& k : SplitSpecList(flags.k_store, ',')) {
      for (const std::string& v : SplitSpecList(flags.v_store, ',')) {
        CacheSpec spec;
        ASSIGN_OR_RETURN(std::tie(spec.policy, spec.policy_params), ParseNamedParams(policy));
        ASSIGN_OR_RETURN(std::tie(spec.k_store, spec.k_params), ParseNamedParams(k));
        ASSIGN_OR_RETURN(std::tie(spec.v_store, spec.v_params), ParseNamedParams(v));
        specs.push_back(std::move(spec));
      }
    }
  }
  std::vector<BenchTest> tests;
  for (int d : depths) {
    for (int p : prompts) {
      if (p > 0) tests.push_back({.n_prompt = p, .n_depth = d, .n_batch = flags.n_batch});
    }
    for (int n : gens) {
      if (n > 0) tests.push_back({.n_gen = n, .n_depth = d, .n_batch = flags.n_batch});
    }
    for (auto [p, n] : pairs) {
      tests.push_back({.n_prompt = p, .n_gen = n, .n_depth = d, .n_batch = flags.n_batch});
    }
  }
  if (tests.empty()) return absl::InvalidArgumentError("nothing to run: every -p and -n is 0");

  RowPrinter printer(flags.output);
  for (absl::string_view name : absl::StrSplit(flags.models, ',', absl::SkipWhitespace())) {
    ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModel(std::string(name)));
    const ModelFacts facts = FactsOf(*model);
    // Every test of the matrix is checked before the first runs, so a failing one leaves no
    // half-printed table: it must fit the context, and every cache must build for it.
    for (const BenchTest& test : tests) {
      if (test.context() > model->config.context_length) {
        return absl::OutOfRangeError(absl::StrCat("bench test ", test.Name(), " needs ",
                                                  test.context(), " tokens of context; the model ",
                                                  name, " has ", model->config.context_length));
      }
      for (const CacheSpec& spec : specs) {
        RETURN_IF_ERROR(Annotate(MakeCache(spec, BenchCacheShape(model->config, test)).status(),
                                 absl::StrCat(spec.Label(), ", ", test.Name())));
      }
    }
    Decoder decoder(*model);
    const BenchOptions options = {
        .repetitions = flags.repetitions,
        .warmup = flags.warmup,
        .seed = flags.seed,
        .bos_id = model->tokenizer != nullptr ? model->tokenizer->bos_id() : -1};
    for (int t : threads) {
      SetNumThreads(t);
      for (const CacheSpec& spec : specs) {
        for (const BenchTest& test : tests) {
          std::fprintf(stderr, "bench: %s, %d threads, %s: %s\n", std::string(name).c_str(), t,
                       spec.Label().c_str(), test.Name().c_str());
          absl::StatusOr<BenchStats> stats = RunBenchTest(decoder, spec, test, options);
          if (!stats.ok()) {
            return Annotate(stats.status(), absl::StrCat(spec.Label(), ", ", test.Name()));
          }
          printer.Add(Row(facts, t, spec, test, *stats), facts);
        }
      }
    }
  }
  printer.Finish();
  return absl::OkStatus();
}

}  // namespace

int Bench(int argc, char** argv) {
  BenchFlags f;
  CommandLine cl("bench", "[-m MODEL,...] [-p N,...] [-n N,...] [-d N,...] [-t N,...] [flags]",
                 "llama-bench's tests and output on kvbench's decoder, per cache policy and store");
  cl.Flag("m,model", &f.models, "models (short names or paths), comma-separated")
      .Flag("p,n_prompt", &f.n_prompt, "prompt tokens of the pp tests (0: none)")
      .Flag("n,n_gen", &f.n_gen, "generated tokens of the tg tests (0: none)")
      .Flag("pg", &f.pg, "pp+tg tests as pairs: 512,128[,...]")
      .Flag("d,n_depth", &f.n_depth, "tokens in the cache before each test, untimed")
      .Flag("b,batch_size", &f.n_batch, "prompt tokens per decoder step")
      .Flag("t,threads", &f.threads, "threads (default: the hardware threads)")
      .Flag("r,repetitions", &f.repetitions, "repetitions of each test")
      .Flag("o,output", &f.output, "md | csv | json | jsonl, to stdout")
      .Flag("policy", &f.policy, "cache policies, e.g. full,window(budget=256)")
      .Flag("k_store", &f.k_store, "key stores (llama-bench -ctk), e.g. f16,q8_0")
      .Flag("v_store", &f.v_store, "value stores (llama-bench -ctv)")
      .Flag("seed", &f.seed, "seed of the random token ids")
      .Switch("warmup", &f.warmup, "one untimed short run first (llama-bench's)",
              /*negatable=*/true);
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  if (absl::Status s = RunBench(f); !s.ok()) return ReportError("bench", s);
  return 0;
}

}  // namespace kvbench::cli
