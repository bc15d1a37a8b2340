#include "prefix/workload.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "formats/json.h"
#include "formats/read_file.h"

namespace kvbench {
namespace {

// ---------------------------------------------------------------------------------------------
// JSONL

std::vector<int> Join(const Tokenizer& tok, const std::vector<std::string>& pieces) {
  std::vector<int> ids = {tok.bos_id()};
  for (const std::string& p : pieces) {
    const std::vector<int> t = tok.Encode(p, /*add_bos=*/false);
    ids.insert(ids.end(), t.begin(), t.end());
  }
  return ids;
}

}  // namespace

absl::StatusOr<std::vector<TraceRequest>> LoadTraceJsonl(const std::string& path,
                                                         const Tokenizer& tokenizer,
                                                         int max_tokens) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path, "trace"));
  ASSIGN_OR_RETURN(const std::vector<JsonLine> records, ParseJsonLines(text, path));
  std::vector<TraceRequest> out;
  for (const JsonLine& record : records) {
    const std::string where = absl::StrCat(path, ":", record.line);
    if (!record.value.is_object()) {
      return absl::DataLossError(absl::StrCat(where, ": record is not an object"));
    }
    const Json* id = JsonMember(record.value, "id");
    const Json* prompt = JsonMember(record.value, "prompt");
    const Json* turns = JsonMember(record.value, "turns");
    if (id == nullptr || !id->is_string()) {
      return absl::DataLossError(absl::StrCat(where, ": no string field \"id\""));
    }
    if (prompt != nullptr && turns != nullptr) {
      return absl::DataLossError(absl::StrCat(where, ": record has both \"prompt\" and \"turns\""));
    }
    std::vector<std::vector<std::string>> requests;  // the pieces of each request
    if (prompt != nullptr) {
      if (!prompt->is_string() || prompt->get_ref<const std::string&>().empty()) {
        return absl::DataLossError(absl::StrCat(where, ": \"prompt\" must be a non-empty string"));
      }
      requests.push_back({prompt->get<std::string>()});
    } else if (turns != nullptr) {
      if (!turns->is_array() || turns->empty()) {
        return absl::DataLossError(absl::StrCat(where, ": \"turns\" must be a non-empty list"));
      }
      std::vector<std::string> history;
      for (size_t k = 0; k < turns->size(); ++k) {
        if (!(*turns)[k].is_string()) {
          return absl::DataLossError(absl::StrCat(where, ": turns[", k, "] is not a string"));
        }
        history.push_back((*turns)[k].get<std::string>());
        requests.push_back(history);
      }
    } else {
      return absl::DataLossError(
          absl::StrCat(where, ": record has neither \"prompt\" nor \"turns\""));
    }
    for (size_t k = 0; k < requests.size(); ++k) {
      TraceRequest r;
      const std::string& name = id->get_ref<const std::string&>();
      r.id = turns != nullptr ? absl::StrCat(name, "#", k) : name;
      r.kind = turns != nullptr ? "turn" : "prompt";
      r.tokens = Join(tokenizer, requests[k]);
      if (static_cast<int>(r.tokens.size()) > max_tokens) {
        return absl::OutOfRangeError(absl::StrCat(where, ": request '", r.id, "' has ",
                                                  r.tokens.size(), " tokens, more than max_tokens ",
                                                  max_tokens));
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Generator

namespace {

// Sentences of a story: pieces ending in . ! or ? followed by whitespace or the end.
std::vector<std::string> Sentences(const std::string& story) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < story.size(); ++i) {
    const char c = story[i];
    const bool end = (c == '.' || c == '!' || c == '?') &&
                     (i + 1 == story.size() || story[i + 1] == ' ' || story[i + 1] == '\n');
    if (end || story[i] == '\n') {
      std::string s(absl::StripAsciiWhitespace(story.substr(start, i + 1 - start)));
      if (!s.empty()) out.push_back(std::move(s));
      start = i + 1;
    }
  }
  std::string tail(absl::StripAsciiWhitespace(story.substr(std::min(start, story.size()))));
  if (!tail.empty()) out.push_back(std::move(tail));
  return out;
}

// Portable draws (std::*_distribution differ between standard libraries).
double Uniform01(std::mt19937_64& rng) { return (rng() >> 11) * (1.0 / 9007199254740992.0); }
size_t Below(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(rng() % n); }

class Generator {
 public:
  Generator(const std::vector<std::string>& stories, const Tokenizer& tok, const WorkloadOptions& o)
      : tok_(tok), o_(o), rng_(o.seed) {
    for (const std::string& s : stories) {
      std::vector<std::string> sent = Sentences(s);
      if (!sent.empty()) stories_.push_back(std::move(sent));
    }
    double total = 0;
    for (int r = 0; r < o.system_prompts; ++r) total += std::pow(r + 1.0, -o.zipf);
    double acc = 0;
    for (int r = 0; r < o.system_prompts; ++r) {
      acc += std::pow(r + 1.0, -o.zipf) / total;
      zipf_cdf_.push_back(acc);
    }
  }

  absl::Status Build() {
    const size_t reserved =
        o_.system_prompts + static_cast<size_t>(o_.fewshot_templates) * o_.fewshot_examples;
    if (stories_.size() < reserved + 2) {
      return absl::FailedPreconditionError(
          absl::StrCat("workload: ", stories_.size(), " stories, need at least ", reserved + 2,
                       " (system prompts + few-shot examples + user texts)"));
    }
    for (int s = 0; s < o_.system_prompts; ++s) {
      system_.push_back(Tokens(stories_[s], 0, o_.system_prompt_tokens));
    }
    const std::vector<int> instruction =
        tok_.Encode("Here are some stories. Write one more like them.", false);
    for (int f = 0; f < o_.fewshot_templates; ++f) {
      std::vector<int> t = instruction;
      for (int e = 0; e < o_.fewshot_examples; ++e) {
        const auto& story = stories_[o_.system_prompts + f * o_.fewshot_examples + e];
        const std::vector<int> ex = Tokens(story, 0, 16);
        t.insert(t.end(), ex.begin(), ex.end());
      }
      templates_.push_back(std::move(t));
    }
    user_story_ = reserved;
    return absl::OkStatus();
  }

  // Sentences of `story` from `first` on, tokenized and joined until at least `min_tokens`.
  std::vector<int> Tokens(const std::vector<std::string>& story, size_t first, int min_tokens) {
    std::vector<int> ids;
    for (size_t i = first; i < story.size() && static_cast<int>(ids.size()) < min_tokens; ++i) {
      const std::vector<int> t = tok_.Encode(story[i], false);
      ids.insert(ids.end(), t.begin(), t.end());
    }
    return ids;
  }

  // The next user text: sentences of the user stories, in order, cycling.
  std::vector<int> NextUserText() {
    std::vector<int> ids;
    while (static_cast<int>(ids.size()) < o_.turn_tokens) {
      const auto& story = stories_[user_story_];
      const std::vector<int> t = tok_.Encode(story[user_sentence_], false);
      ids.insert(ids.end(), t.begin(), t.end());
      if (++user_sentence_ >= story.size()) {
        user_sentence_ = 0;
        const size_t reserved =
            o_.system_prompts + static_cast<size_t>(o_.fewshot_templates) * o_.fewshot_examples;
        if (++user_story_ >= stories_.size()) user_story_ = reserved;
      }
    }
    return ids;
  }

  int ZipfRank() {
    const double u = Uniform01(rng_);
    for (size_t r = 0; r < zipf_cdf_.size(); ++r) {
      if (u < zipf_cdf_[r]) return static_cast<int>(r);
    }
    return static_cast<int>(zipf_cdf_.size()) - 1;
  }

  TraceRequest Make(std::string id, std::string kind, const std::vector<int>& head,
                    const std::vector<int>& tail) {
    TraceRequest r{std::move(id), std::move(kind), {tok_.bos_id()}};
    r.tokens.insert(r.tokens.end(), head.begin(), head.end());
    r.tokens.insert(r.tokens.end(), tail.begin(), tail.end());
    if (static_cast<int>(r.tokens.size()) > o_.max_tokens) r.tokens.resize(o_.max_tokens);
    return r;
  }

  std::vector<TraceRequest> Run() {
    const int n_chat = static_cast<int>(std::lround(o_.requests * o_.chat_share));
    const int n_few = static_cast<int>(std::lround(o_.requests * o_.fewshot_share));
    const int n_sys = std::max(0, o_.requests - n_chat - n_few);
    std::vector<std::vector<TraceRequest>> streams;
    for (int i = 0; i < n_sys; ++i) {
      const int s = ZipfRank();
      streams.push_back(
          {Make(absl::StrCat("sys", s, "-", i), "system", system_[s], NextUserText())});
    }
    for (int i = 0; i < n_few; ++i) {
      const int f = static_cast<int>(Below(rng_, templates_.size()));
      streams.push_back(
          {Make(absl::StrCat("fewshot", f, "-", i), "fewshot", templates_[f], NextUserText())});
    }
    for (int c = 0, left = n_chat; left > 0; ++c) {
      const int turns = std::min(left, o_.chat_turns);
      left -= turns;
      std::vector<TraceRequest> conv;
      std::vector<int> history = system_[ZipfRank()];
      for (int k = 0; k < turns; ++k) {
        const std::vector<int> turn = NextUserText();
        if (static_cast<int>(1 + history.size() + turn.size()) > o_.max_tokens) break;
        history.insert(history.end(), turn.begin(), turn.end());
        conv.push_back(Make(absl::StrCat("chat", c, "#", k), "chat", history, {}));
      }
      if (!conv.empty()) streams.push_back(std::move(conv));
    }
    // Interleave: the next request comes from a stream chosen in proportion to what it has left.
    std::vector<size_t> next(streams.size(), 0);
    size_t remaining = 0;
    for (const auto& s : streams) remaining += s.size();
    std::vector<TraceRequest> out;
    while (remaining > 0) {
      size_t pick = Below(rng_, remaining);
      for (size_t i = 0; i < streams.size(); ++i) {
        const size_t left = streams[i].size() - next[i];
        if (pick < left) {
          out.push_back(std::move(streams[i][next[i]++]));
          break;
        }
        pick -= left;
      }
      --remaining;
    }
    return out;
  }

 private:
  const Tokenizer& tok_;
  WorkloadOptions o_;
  std::mt19937_64 rng_;
  std::vector<std::vector<std::string>> stories_;  // sentences of each story
  std::vector<double> zipf_cdf_;
  std::vector<std::vector<int>> system_;     // system prompt tokens (no BOS)
  std::vector<std::vector<int>> templates_;  // few-shot template tokens (no BOS)
  size_t user_story_ = 0, user_sentence_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<TraceRequest>> GenerateWorkload(const std::vector<std::string>& stories,
                                                           const Tokenizer& tokenizer,
                                                           const WorkloadOptions& o) {
  auto bad = [](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("workload: ", what));
  };
  if (o.requests < 1 || o.requests > 1000000)
    return bad(absl::StrCat("requests must be in [1, 1000000], got ", o.requests));
  if (o.system_prompts < 1 || o.system_prompts > 10000)
    return bad(absl::StrCat("system_prompts must be in [1, 10000], got ", o.system_prompts));
  if (!(o.zipf >= 0 && o.zipf <= 10))
    return bad(absl::StrCat("zipf must be in [0, 10], got ", o.zipf));
  if (!(o.chat_share >= 0 && o.fewshot_share >= 0 && o.chat_share + o.fewshot_share <= 1)) {
    return bad(absl::StrCat("chat_share and fewshot_share must be >= 0 with a sum <= 1, got ",
                            o.chat_share, " and ", o.fewshot_share));
  }
  if (o.chat_turns < 1 || o.chat_turns > 1000)
    return bad(absl::StrCat("chat_turns must be in [1, 1000], got ", o.chat_turns));
  if (o.fewshot_templates < 1 || o.fewshot_templates > 10000)
    return bad(absl::StrCat("fewshot_templates must be in [1, 10000], got ", o.fewshot_templates));
  if (o.fewshot_examples < 1 || o.fewshot_examples > 100)
    return bad(absl::StrCat("fewshot_examples must be in [1, 100], got ", o.fewshot_examples));
  if (o.turn_tokens < 1 || o.system_prompt_tokens < 1)
    return bad("turn_tokens and system_prompt_tokens must be >= 1");
  if (o.max_tokens < 2 || o.max_tokens > (1 << 20) ||
      o.system_prompt_tokens + o.turn_tokens + 1 > o.max_tokens) {
    return bad(absl::StrCat("max_tokens ", o.max_tokens, " must hold BOS + system_prompt_tokens (",
                            o.system_prompt_tokens, ") + turn_tokens (", o.turn_tokens, ")"));
  }
  Generator g(stories, tokenizer, o);
  RETURN_IF_ERROR(g.Build());
  return g.Run();
}

}  // namespace kvbench
