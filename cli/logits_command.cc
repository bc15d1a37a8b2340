// kvbench logits: teacher-forced logits of every position, written as a NumPy .npy array
// (little-endian f32, shape [tokens, vocab]) so kvbench can be compared with any other engine.
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

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
  ModelFlags model_flags;
  TextFlags text_flags;
  std::string tokens_path, out = "logits.npy";
  CommandLine cl("logits", "--model M (--text T | --file F | --tokens FILE.json) [-o OUT.npy]",
                 "write teacher-forced logits of every position as .npy");
  model_flags.AddTo(cl);
  text_flags.AddTo(cl, /*with_bos=*/true);
  cl.Flag("tokens", &tokens_path, "JSON file with an array of token ids (instead of --text)")
      .Flag("o,output", &out, "the .npy to write");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  auto model_or = model_flags.Load();
  if (!model_or.ok()) return ReportError("logits", model_or.status());
  const Model& model = **model_or;
  std::vector<int> ids;
  if (!tokens_path.empty()) {
    auto read = ReadTokenFile(tokens_path, model.config.vocab_size);
    if (!read.ok()) return ReportError("logits", read.status());
    ids = *std::move(read);
  } else {
    auto text = text_flags.Read();
    if (!text.ok()) return ReportError("logits", text.status());
    ids = model.tokenizer->Encode(*text, text_flags.bos);
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
  std::string npy = NpyHeader(ids.size(), vocab);
  const size_t header = npy.size();
  npy.resize(header + logits.size() * sizeof(float));
  std::memcpy(npy.data() + header, logits.data(), logits.size() * sizeof(float));
  if (absl::Status s = WriteFileAtomically(out, npy); !s.ok()) {
    return ReportError("logits", s);
  }
  std::fprintf(stderr, "wrote %s: [%zu, %zu] f32\n", out.c_str(), ids.size(), vocab);
  return 0;
}

}  // namespace kvbench::cli
