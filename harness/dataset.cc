#include "harness/dataset.h"

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "formats/json.h"
#include "formats/read_file.h"

#ifndef KVBENCH_SHARED_DIR
#define KVBENCH_SHARED_DIR "../shared"
#endif

namespace kvbench {

absl::StatusOr<std::string> ResolveDataPath(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<std::string> tried = {path};
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return path;
  constexpr std::string_view kShared = "../shared/";
  if (path.compare(0, kShared.size(), kShared) == 0) {
    const std::string alt = absl::StrCat(KVBENCH_SHARED_DIR, "/", path.substr(kShared.size()));
    tried.push_back(alt);
    if (fs::is_regular_file(alt, ec)) return alt;
  }
  // A path that is there but is a folder, a device or a FIFO is bad input, not a missing file:
  // "not found" would send the user looking for a typo in a path that is right.
  for (const std::string& candidate : tried) {
    if (fs::exists(candidate, ec)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot read ", candidate, ": not a regular file (a folder, device or FIFO)"));
    }
  }
  return absl::NotFoundError(
      absl::StrCat("dataset file not found: tried ", absl::StrJoin(tried, ", ")));
}

std::vector<std::string> SplitOnSeparator(std::string_view text, std::string_view separator) {
  std::vector<std::string> pieces;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = separator.empty() ? std::string_view::npos : text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    absl::string_view piece =
        absl::StripAsciiWhitespace(absl::string_view(text.data() + start, end - start));
    if (!piece.empty()) pieces.emplace_back(piece);
    if (end == text.size()) break;
    start = end + separator.size();
  }
  return pieces;
}

absl::StatusOr<std::vector<std::string>> LoadTexts(const DatasetSpec& spec) {
  if (spec.path.empty()) {
    if (spec.prompts.empty())
      return absl::InvalidArgumentError("dataset has neither a path nor prompts");
    return spec.prompts;
  }
  ASSIGN_OR_RETURN(const std::string path, ResolveDataPath(spec.path));
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path, "dataset"));
  std::vector<std::string> texts;
  if (spec.format == "jsonl") {
    ASSIGN_OR_RETURN(const std::vector<JsonLine> records, ParseJsonLines(text, path));
    for (const JsonLine& record : records) {
      const Json* field = JsonMember(record.value, "text");
      if (field == nullptr || !field->is_string()) {
        return absl::DataLossError(
            absl::StrCat(path, ":", record.line, ": record has no string field \"text\""));
      }
      texts.push_back(field->get<std::string>());
    }
  } else if (spec.format == "text") {
    texts = SplitOnSeparator(text, spec.separator);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset format '", spec.format, "' is not text or jsonl"));
  }
  if (texts.empty()) return absl::OutOfRangeError(absl::StrCat("dataset ", path, " holds no text"));
  return texts;
}

absl::StatusOr<std::vector<std::vector<int>>> BuildSequences(const std::vector<std::string>& texts,
                                                             const Tokenizer& tokenizer,
                                                             const SequenceOptions& options) {
  const size_t n = static_cast<size_t>(options.context_tokens);
  if (options.context_tokens < 1 || options.max_sequences < 1) {
    return absl::InvalidArgumentError(absl::StrCat("context_tokens ", options.context_tokens,
                                                   " and max_sequences ", options.max_sequences,
                                                   " must be positive"));
  }
  const size_t max_sequences = static_cast<size_t>(options.max_sequences);
  std::vector<std::vector<int>> sequences;
  size_t total_tokens = 0;
  if (options.concatenate) {
    std::vector<int> stream;
    for (const std::string& t : texts) {
      const std::vector<int> ids = tokenizer.Encode(t, /*add_bos=*/true);
      stream.insert(stream.end(), ids.begin(), ids.end());
      if (stream.size() >= n * max_sequences) break;  // enough: tokenize no further
    }
    total_tokens = stream.size();
    for (size_t at = 0; at + n <= stream.size() && sequences.size() < max_sequences; at += n) {
      std::vector<int> seq(stream.begin() + at, stream.begin() + at + n);
      seq[0] = tokenizer.bos_id();
      sequences.push_back(std::move(seq));
    }
  } else {
    for (const std::string& t : texts) {
      if (sequences.size() >= max_sequences) break;
      std::vector<int> ids = tokenizer.Encode(t, /*add_bos=*/true);
      total_tokens = std::max(total_tokens, ids.size());
      if (ids.size() < n) continue;
      ids.resize(n);
      sequences.push_back(std::move(ids));
    }
  }
  if (sequences.empty()) {
    return absl::OutOfRangeError(
        absl::StrCat("the dataset makes no sequence of context_tokens = ", n, " tokens (",
                     options.concatenate ? "all texts together have " : "the longest text has ",
                     total_tokens, " tokens); lower context_tokens",
                     options.concatenate ? "" : " or set dataset.concatenate: true"));
  }
  return sequences;
}

}  // namespace kvbench
