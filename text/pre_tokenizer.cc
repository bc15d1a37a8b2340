#include "text/pre_tokenizer.h"

#include <utility>

#include "base/status.h"
#include "text/byte_level.h"

namespace kvbench {

absl::Status PreTokenizer::AddSplit(const RegexSplitter::Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<RegexSplitter> splitter, RegexSplitter::Create(options));
  steps_.push_back({.splitter = std::move(splitter)});
  return absl::OkStatus();
}

absl::Status PreTokenizer::AddByteLevel(bool add_prefix_space, bool use_regex) {
  Step step{.byte_level = true, .add_prefix_space = add_prefix_space};
  if (use_regex) {
    ASSIGN_OR_RETURN(step.splitter,
                     RegexSplitter::Create({.pattern = std::string(kGpt2WordRegex)}));
  }
  steps_.push_back(std::move(step));
  byte_level_ = true;
  return absl::OkStatus();
}

void PreTokenizer::Run(std::string_view text, std::vector<std::string>* words) const {
  std::vector<std::string> pieces = {std::string(text)};
  std::vector<std::string> next;
  std::vector<std::string_view> views;
  std::string prefixed;
  for (const Step& step : steps_) {
    next.clear();
    for (const std::string& piece : pieces) {
      std::string_view source = piece;
      if (step.add_prefix_space && (piece.empty() || piece[0] != ' ')) {
        prefixed = " " + piece;
        source = prefixed;
      }
      views.clear();
      if (step.splitter != nullptr) {
        step.splitter->Split(source, &views);
      } else if (!source.empty()) {
        views.push_back(source);
      }
      for (const std::string_view view : views) {
        if (step.byte_level) {
          AppendByteLevel(view, &next.emplace_back());
        } else {
          next.emplace_back(view);
        }
      }
    }
    pieces.swap(next);
  }
  for (std::string& piece : pieces) {
    if (!piece.empty()) words->push_back(std::move(piece));
  }
}

}  // namespace kvbench
