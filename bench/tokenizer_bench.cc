// Tokenizer throughput on real text: kvb-docs-12M's byte-level BPE (its tokenizer.json, and the
// same vocabulary read from its Q4_K_M GGUF) over every document of docs-valid.jsonl, one thread.
// bytes_per_second is bytes of UTF-8 text in (Encode) or out (Decode); the issue asks for at
// least 5 MB/s of Encode on one core.
//
//   build/bench/tokenizer_bench [--benchmark_filter=BM_Encode]
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/status.h"
#include "benchmark/benchmark.h"
#include "formats/gguf.h"
#include "formats/json.h"
#include "formats/read_file.h"
#include "text/gguf_bpe.h"
#include "text/hf_tokenizer.h"

namespace kvbench {
namespace {

const std::string kShared = KVBENCH_SHARED_DIR;
const std::string kModelDir = kShared + "/models/kvb-docs-12M";

absl::StatusOr<std::vector<std::string>> ReadDocuments() {
  const std::string path = kShared + "/data/docs-valid.jsonl";
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  ASSIGN_OR_RETURN(const std::vector<JsonLine> lines, ParseJsonLines(text, path));
  std::vector<std::string> documents;
  for (const JsonLine& line : lines) {
    const Json* doc = JsonMember(line.value, "text");
    if (doc != nullptr && doc->is_string()) documents.push_back(doc->get<std::string>());
  }
  return documents;
}

absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> GgufTokenizer() {
  const std::string path = kModelDir + "/kvb-docs-12M-Q4_K_M.gguf";
  ASSIGN_OR_RETURN(const std::unique_ptr<GgufFile> file, GgufFile::Open(path));
  ASSIGN_OR_RETURN(const GgufBpeVocab vocab, ReadGgufBpeVocab(*file));
  return BuildGgufBpeTokenizer(vocab, path);
}

void BM_Encode(benchmark::State& state, const HfBpeTokenizer* tokenizer,
               const std::vector<std::string>* documents) {
  size_t bytes = 0, tokens = 0;
  for (auto _ : state) {
    for (const std::string& doc : *documents) {
      const std::vector<int> ids = tokenizer->Encode(doc, /*add_bos=*/false);
      bytes += doc.size();
      tokens += ids.size();
      benchmark::DoNotOptimize(ids.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(tokens));
  state.counters["bytes_per_token"] = static_cast<double>(bytes) / static_cast<double>(tokens);
}

void BM_Decode(benchmark::State& state, const HfBpeTokenizer* tokenizer,
               const std::vector<std::string>* documents) {
  std::vector<std::vector<int>> encoded;
  for (const std::string& doc : *documents) encoded.push_back(tokenizer->Encode(doc, false));
  size_t bytes = 0;
  for (auto _ : state) {
    for (const std::vector<int>& ids : encoded) {
      const std::string text = tokenizer->Decode(ids);
      bytes += text.size();
      benchmark::DoNotOptimize(text.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

}  // namespace
}  // namespace kvbench

int main(int argc, char** argv) {
  using namespace kvbench;
  benchmark::Initialize(&argc, argv);
  absl::StatusOr<std::vector<std::string>> documents = ReadDocuments();
  absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> hf =
      HfBpeTokenizer::FromFile(kModelDir + "/tokenizer.json");
  absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> gguf = GgufTokenizer();
  for (const absl::Status& status : {documents.status(), hf.status(), gguf.status()}) {
    if (!status.ok()) {
      std::fprintf(stderr, "tokenizer_bench: %s\n", status.ToString().c_str());
      return 1;
    }
  }
  const std::pair<const char*, const HfBpeTokenizer*> tokenizers[] = {
      {"kvb-docs-12M/tokenizer.json", hf->get()}, {"kvb-docs-12M-Q4_K_M.gguf", gguf->get()}};
  for (const auto& [name, tokenizer] : tokenizers) {
    benchmark::RegisterBenchmark((std::string("BM_Encode/tokenizer:") + name).c_str(), BM_Encode,
                                 tokenizer, &*documents)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("BM_Decode/tokenizer:") + name).c_str(), BM_Decode,
                                 tokenizer, &*documents)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
