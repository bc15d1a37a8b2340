// kvbench tokenize: text -> token ids (or ids -> text with --decode), like llama.cpp's
// llama-tokenize.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/common.h"

ABSL_FLAG(bool, json, false, "print ids as a JSON array");
ABSL_FLAG(bool, decode, false, "decode ids back to text");
ABSL_FLAG(bool, pieces, false, "print one id and its vocabulary piece per line");

namespace kvbench::cli {

int Tokenize(int argc, char** argv) {
  ParseFlags("tokenize", "--model M (--text T | --file F) [--json] [--decode]", argc, argv);
  auto text = ReadTextFlag();
  if (!text.ok()) return ReportError("tokenize", text.status());
  auto model_or = LoadModelFromFlags();
  if (!model_or.ok()) return ReportError("tokenize", model_or.status());
  const Tokenizer& tok = *(*model_or)->tokenizer;
  if (absl::GetFlag(FLAGS_decode)) {
    std::vector<int> ids;
    for (absl::string_view part :
         absl::StrSplit(*text, absl::ByAnyChar(" ,[]\n\t"), absl::SkipEmpty())) {
      int id;
      if (!absl::SimpleAtoi(part, &id) || id < 0 || id >= tok.vocab_size()) {
        return ReportError("tokenize",
                           absl::InvalidArgumentError(absl::StrCat(
                               "'", part, "' is not a token id in [0, ", tok.vocab_size(), ")")));
      }
      ids.push_back(id);
    }
    std::printf("%s\n", tok.Decode(ids).c_str());
    return 0;
  }
  const std::vector<int> ids = tok.Encode(*text, absl::GetFlag(FLAGS_bos));
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("[%s]\n", absl::StrJoin(ids, ", ").c_str());
  } else if (absl::GetFlag(FLAGS_pieces)) {
    for (int id : ids) {
      const std::string_view piece = tok.Piece(id);
      std::printf("%6d -> '%.*s'\n", id, static_cast<int>(piece.size()), piece.data());
    }
  } else {
    std::printf("%s\n", absl::StrJoin(ids, " ").c_str());
  }
  return 0;
}

}  // namespace kvbench::cli
