// kvbench logits: teacher-forced logits of every position, written as a NumPy .npy array
// (little-endian f32, shape [tokens, vocab]) so kvbench can be compared with any other engine.
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "formats/json.h"
#include "model/decoder.h"
#include "model/session.h"
#include "policies/full.h"
#include "policies/policy_cache.h"
#include "stores/f32_store.h"

ABSL_FLAG(std::string, tokens, "", "JSON file with an array of token ids (instead of --text)");

namespace kvbench::cli {
namespace {

absl::StatusOr<std::vector<int>> ReadTokenFile(const std::string& path, int vocab) {
  ASSIGN_OR_RETURN(const Json json, ParseJsonFile(path));
  if (!json.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a JSON array of token ids"));
  }
  std::vector<int> ids;
  for (size_t i = 0; i < json.size(); ++i) {
    const std::optional<int> id = JsonInteger<int>(json[i]);
    if (!id.has_value() || *id < 0 || *id >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": element ", i, " is not a token id in [0, ", vocab, ")"));
    }
    ids.push_back(*id);
  }
  return ids;
}

// NPY format 1.0: magic, version, little-endian u16 header length, a Python dict literal padded
// with spaces so the data starts at a multiple of 64 bytes.
std::string NpyHeader(size_t rows, size_t cols) {
  std::string dict =
      absl::StrFormat("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict.push_back('\n');
  std::string header = "\x93NUMPY\x01";
  header.push_back('\0');
  header.push_back(static_cast<char>(dict.size() & 0xff));
  header.push_back(static_cast<char>(dict.size() >> 8));
  return header + dict;
}

}  // namespace

int Logits(int argc, char** argv) {
  ParseFlags("logits", "--model M (--text T | --tokens FILE.json) [--bos] -o OUT.npy", argc, argv);
  auto model_or = LoadModelFromFlags();
  if (!model_or.ok()) return ReportError("logits", model_or.status());
  const Model& model = **model_or;
  std::vector<int> ids;
  if (!absl::GetFlag(FLAGS_tokens).empty()) {
    auto read = ReadTokenFile(absl::GetFlag(FLAGS_tokens), model.config.vocab_size);
    if (!read.ok()) return ReportError("logits", read.status());
    ids = *std::move(read);
  } else {
    auto text = ReadTextFlag();
    if (!text.ok()) return ReportError("logits", text.status());
    ids = model.tokenizer->Encode(*text, absl::GetFlag(FLAGS_bos));
  }
  if (ids.empty()) return ReportError("logits", absl::InvalidArgumentError("no tokens to score"));
  if (static_cast<int>(ids.size()) > model.config.context_length) {
    return ReportError("logits", absl::OutOfRangeError(absl::StrCat(
                                     ids.size(), " tokens exceed the model's context of ",
                                     model.config.context_length)));
  }
  const CacheShape shape = CacheShape::ForModel(model.config, static_cast<int>(ids.size()));
  Session session(std::make_unique<PolicyCache>(shape, std::make_unique<FullPolicy>(),
                                                std::make_unique<F32Store>(shape),
                                                std::make_unique<F32Store>(shape)));
  Decoder decoder(model);
  const size_t vocab = model.config.vocab_size;
  std::vector<float> logits(ids.size() * vocab);
  Feed(decoder, session, ids, /*all_logits=*/true, logits.data());
  std::string out = NpyHeader(ids.size(), vocab);
  const size_t header = out.size();
  out.resize(header + logits.size() * sizeof(float));
  std::memcpy(out.data() + header, logits.data(), logits.size() * sizeof(float));
  if (absl::Status s = WriteFileAtomically(OutputPath("logits.npy"), out); !s.ok()) {
    return ReportError("logits", s);
  }
  std::fprintf(stderr, "wrote %s: [%zu, %zu] f32\n", OutputPath("logits.npy").c_str(), ids.size(),
               vocab);
  return 0;
}

}  // namespace kvbench::cli
