#include "text/gguf_bpe.h"

#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "formats/json.h"

namespace kvbench {
namespace {

// llama.cpp's regexes (llm_tokenizer_bpe). It spells HF's "(?i:'s|'t|...)" with explicit
// character classes and leaves off GPT-2's final "|\s+", which matches nothing that a kept gap
// would not.
constexpr std::string_view kLlama3Regex =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

struct PreTokenizerName {
  std::string_view name;
  std::vector<std::string_view> regexes;
  bool ignore_merges;
};

const std::vector<PreTokenizerName>& PreTokenizerNames() {
  static const auto* const names = new std::vector<PreTokenizerName>{
      {"llama-bpe", {kLlama3Regex}, true},
      {"qwen2", {kQwen2Regex}, false},
      {"smollm", {R"(\p{N})", kGpt2Regex}, false},
      {"gpt-2", {kGpt2Regex}, false},
      {"default",
       {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Regex, R"(\p{N}+)", R"([0-9][0-9][0-9])"},
       false},
  };
  return *names;
}

absl::Status Invalid(const std::string& source, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": ", absl::string_view(what.data(), what.size())));
}

enum GgufTokenType : int64_t { kControl = 3, kUserDefined = 4 };

}  // namespace

absl::StatusOr<GgufBpeVocab> ReadGgufBpeVocab(const GgufFile& file) {
  GgufBpeVocab vocab;
  ASSIGN_OR_RETURN(vocab.tokens, file.GetStringArray("tokenizer.ggml.tokens"));
  ASSIGN_OR_RETURN(vocab.merges, file.GetStringArray("tokenizer.ggml.merges"));
  if (file.Has("tokenizer.ggml.token_type")) {
    ASSIGN_OR_RETURN(vocab.token_types, file.GetIntArray("tokenizer.ggml.token_type"));
  }
  if (file.Has("tokenizer.ggml.bos_token_id")) {
    ASSIGN_OR_RETURN(vocab.bos_id, file.GetInt("tokenizer.ggml.bos_token_id"));
  }
  if (file.Has("tokenizer.ggml.eos_token_id")) {
    ASSIGN_OR_RETURN(vocab.eos_id, file.GetInt("tokenizer.ggml.eos_token_id"));
  }
  if (file.Has("tokenizer.ggml.pre")) {
    ASSIGN_OR_RETURN(vocab.pre, file.GetString("tokenizer.ggml.pre"));
  }
  return vocab;
}

absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> BuildGgufBpeTokenizer(const GgufBpeVocab& vocab,
                                                                      const std::string& source) {
  const PreTokenizerName* pre = nullptr;
  std::string valid;
  for (const PreTokenizerName& p : PreTokenizerNames()) {
    if (p.name == vocab.pre) pre = &p;
    absl::StrAppend(&valid, valid.empty() ? "" : ", ",
                    absl::string_view(p.name.data(), p.name.size()));
  }
  if (pre == nullptr) {
    return Invalid(source, absl::StrCat("tokenizer.ggml.pre \"", vocab.pre,
                                        "\" is not supported (supported: ", valid, ")"));
  }
  const size_t n = vocab.tokens.size();
  if (n == 0) return Invalid(source, "tokenizer.ggml.tokens is empty");
  if (!vocab.token_types.empty() && vocab.token_types.size() != n) {
    return Invalid(source, absl::StrCat("tokenizer.ggml.token_type has ", vocab.token_types.size(),
                                        " entries, tokens has ", n));
  }
  for (const auto& [key, id] :
       {std::pair{"bos_token_id", vocab.bos_id}, std::pair{"eos_token_id", vocab.eos_id}}) {
    if (id < -1 || id >= static_cast<int64_t>(n)) {
      return Invalid(source, absl::StrCat("tokenizer.ggml.", key, " = ", id,
                                          " is outside the vocabulary of ", n, " tokens"));
    }
  }

  Json pieces = Json::object();
  Json added = Json::array();
  absl::flat_hash_map<std::string_view, size_t> first_index;
  for (size_t i = 0; i < n; ++i) {
    const std::string& token = vocab.tokens[i];
    const auto [it, inserted] = first_index.emplace(token, i);
    if (!inserted || token.empty()) {
      return Invalid(
          source, absl::StrCat("tokenizer.ggml.tokens[", i, "] = \"", token, "\" ",
                               token.empty() ? "is empty"
                                             : absl::StrCat("repeats tokens[", it->second, "]")));
    }
    const int64_t type = vocab.token_types.empty() ? 1 : vocab.token_types[i];
    if (type == kControl || type == kUserDefined) {
      added.push_back(
          {{"id", i}, {"content", token}, {"special", type == kControl}, {"normalized", false}});
    } else {
      pieces[token] = i;
    }
  }
  Json merges = Json::array();
  for (size_t i = 0; i < vocab.merges.size(); ++i) {
    const std::string& line = vocab.merges[i];
    const size_t space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string::npos) {
      return Invalid(source, absl::StrCat("tokenizer.ggml.merges[", i, "] = \"", line,
                                          "\" is not two tokens separated by one space"));
    }
    merges.push_back({line.substr(0, space), line.substr(space + 1)});
  }
  Json pretokenizers = Json::array();
  for (const std::string_view regex : pre->regexes) {
    pretokenizers.push_back({{"type", "Split"},
                             {"pattern", {{"Regex", std::string(regex)}}},
                             {"behavior", "Isolated"},
                             {"invert", false}});
  }
  pretokenizers.push_back(
      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}});
  const Json root = {
      {"model",
       {{"type", "BPE"},
        {"vocab", std::move(pieces)},
        {"merges", std::move(merges)},
        {"ignore_merges", pre->ignore_merges}}},
      {"added_tokens", std::move(added)},
      {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", std::move(pretokenizers)}}},
      {"decoder", {{"type", "ByteLevel"}}},
  };
  ASSIGN_OR_RETURN(std::unique_ptr<HfBpeTokenizer> tokenizer,
                   HfBpeTokenizer::FromJson(root, source));
  RETURN_IF_ERROR(
      tokenizer->SetSpecialIds(static_cast<int>(vocab.bos_id), static_cast<int>(vocab.eos_id)));
  return tokenizer;
}

}  // namespace kvbench
