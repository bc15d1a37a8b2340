// kvbench tokenize: text -> token ids (or ids -> text with --decode), like llama.cpp's
// llama-tokenize.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace kvbench::cli {

int Tokenize(int argc, char** argv) {
  ModelFlags model_flags;
  TextFlags text_flags;
  bool json = false, decode = false, pieces = false;
  CommandLine cl("tokenize", "--model M (--text T | --file F) [--json | --pieces | --decode]",
                 "print the token ids of a text (or decode ids)");
  model_flags.AddTo(cl);
  text_flags.AddTo(cl, /*with_bos=*/true);
  cl.Switch("json", &json, "print ids as a JSON array")
      .Switch("decode", &decode, "decode ids (the text: ids separated by spaces) back to text")
      .Switch("pieces", &pieces, "print one id and its vocabulary piece per line");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  auto text = text_flags.Read();
  if (!text.ok()) return ReportError("tokenize", text.status());
  auto model_or = model_flags.Load();
  if (!model_or.ok()) return ReportError("tokenize", model_or.status());
  const Tokenizer& tok = *(*model_or)->tokenizer;
  if (decode) {
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
  const std::vector<int> ids = tok.Encode(*text, text_flags.bos);
  if (json) {
    std::printf("[%s]\n", absl::StrJoin(ids, ", ").c_str());
  } else if (pieces) {
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
