#include "tasks/niah.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status.h"
#include "formats/json.h"

namespace kvbench {
namespace {

// The tokenizer and JSON readers take std::string_view, which Debian's Abseil does not alias.
std::string_view Std(absl::string_view s) { return std::string_view(s.data(), s.size()); }

// splitmix64: a small generator whose output is the same on every platform (std::
// distributions are not), seeded from everything that names a case.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) up to a bias of n / 2^64.
  uint64_t Below(uint64_t n) { return Next() % n; }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

uint64_t CaseSeed(uint64_t seed, int length, double depth, int needles, int sample) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the case's coordinates
  for (uint64_t v :
       {seed, static_cast<uint64_t>(length), static_cast<uint64_t>(std::llround(depth * 1e6)),
        static_cast<uint64_t>(needles), static_cast<uint64_t>(sample)}) {
    for (int b = 0; b < 8; ++b) {
      h ^= (v >> (8 * b)) & 0xff;
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

std::string NeedleText(const std::string& key, const std::string& value) {
  return absl::StrCat("\nThe special magic number for ", key, " is: ", value, ".\n");
}

std::string QuestionText(const std::string& key) {
  return absl::StrCat("\nWhat is the special magic number for ", key,
                      " mentioned in the provided text? Answer: The special magic number for ", key,
                      " mentioned in the provided text is");
}

struct Needle {
  std::string key, value;
  double where = 0;  // boundary as a fraction of the haystack's lines
};

// The haystack documents as lines, tokenized lazily (one line's count estimates its share of the
// context; the context itself is always tokenized whole).
class Haystack {
 public:
  Haystack(const std::vector<std::string>& documents, const Tokenizer& tokenizer)
      : tokenizer_(tokenizer), lines_(documents.size()), counts_(documents.size()) {
    for (size_t d = 0; d < documents.size(); ++d) {
      lines_[d] = absl::StrSplit(documents[d], '\n');
    }
  }

  size_t documents() const { return lines_.size(); }

  // Whole lines from the start of document `first` on (wrapping to the next documents) whose
  // separate token counts (appended to `counts`) sum to at most `budget`.
  std::vector<absl::string_view> Take(size_t first, int budget, std::vector<int>* counts) {
    std::vector<absl::string_view> taken;
    counts->clear();
    int used = 0;
    for (size_t i = 0; i < lines_.size(); ++i) {
      const size_t d = (first + i) % lines_.size();
      if (counts_[d].empty()) {
        for (absl::string_view line : lines_[d]) {
          counts_[d].push_back(static_cast<int>(tokenizer_.Encode(Std(line), false).size()) + 1);
        }
      }
      for (size_t j = 0; j < lines_[d].size(); ++j) {
        if (used + counts_[d][j] > budget) return taken;
        used += counts_[d][j];
        taken.push_back(lines_[d][j]);
        counts->push_back(counts_[d][j]);
      }
    }
    return taken;
  }

 private:
  const Tokenizer& tokenizer_;
  std::vector<std::vector<absl::string_view>> lines_;  // (documents, lines)
  std::vector<std::vector<int>> counts_;               // tokens of each line with its newline
};

// The line boundary (0 .. lines) whose token offset is nearest to `where` of the haystack's tokens,
// as RULER places a needle at a depth of the token count.
int Boundary(const std::vector<int>& counts, double where) {
  int total = 0;
  for (int c : counts) total += c;
  const double target = where * total;
  int best = 0, offset = 0;
  double best_distance = target;
  for (size_t b = 1; b <= counts.size(); ++b) {
    offset += counts[b - 1];
    if (std::abs(offset - target) < best_distance) {
      best_distance = std::abs(offset - target);
      best = static_cast<int>(b);
    }
  }
  return best;
}

// The haystack lines with the needles at their boundaries; needles[0] (the asked one) at `depth`.
std::string BuildContext(const std::vector<absl::string_view>& lines,
                         const std::vector<int>& counts, const std::vector<Needle>& needles,
                         double depth) {
  const int n = static_cast<int>(lines.size());
  std::vector<std::vector<const Needle*>> at(n + 1);
  for (size_t i = 0; i < needles.size(); ++i) {
    at[Boundary(counts, i == 0 ? depth : needles[i].where)].push_back(&needles[i]);
  }
  std::string text;
  for (int b = 0; b <= n; ++b) {
    for (const Needle* needle : at[b]) text += NeedleText(needle->key, needle->value);
    if (b < n) absl::StrAppend(&text, lines[b], "\n");
  }
  return text;
}

absl::StatusOr<NiahCase> MakeCase(const NiahGridOptions& o, int length, double depth, int needles,
                                  int sample, const std::vector<std::string>& words,
                                  Haystack& haystack, const Tokenizer& tokenizer) {
  Rng rng(CaseSeed(o.seed, length, depth, needles, sample));
  std::vector<Needle> placed;
  while (static_cast<int>(placed.size()) < needles) {
    const uint64_t a = rng.Below(words.size());
    uint64_t b = rng.Below(words.size() - 1);
    if (b >= a) ++b;  // two distinct words
    Needle needle{.key = absl::StrCat(words[a], "-", words[b]),
                  .value = absl::StrCat(1000000 + rng.Below(9000000)),
                  .where = rng.Unit()};
    const bool repeated = std::any_of(placed.begin(), placed.end(), [&](const Needle& x) {
      return x.key == needle.key || x.value == needle.value;
    });
    if (!repeated) placed.push_back(std::move(needle));
  }
  NiahCase c{.context = "",
             .question = QuestionText(placed[0].key),
             .answer = absl::StrCat(" ", placed[0].value, "."),
             .length_tokens = length,
             .depth = depth,
             .n_needles = needles};
  const int question_tokens = static_cast<int>(tokenizer.Encode(c.question, false).size());
  int needle_tokens = 0;
  for (const Needle& n : placed) {
    needle_tokens += static_cast<int>(tokenizer.Encode(NeedleText(n.key, n.value), false).size());
  }
  const int fixed = 1 + question_tokens + o.answer_tokens;  // BOS, question, the answer's room
  if (fixed + needle_tokens >= length) {
    return absl::InvalidArgumentError(
        absl::StrCat("length ", length, " cannot hold ", needles, " needle(s) (", needle_tokens,
                     " tokens), the question (", question_tokens, ") and the answer (",
                     o.answer_tokens, ") with BOS"));
  }
  // Each line's own token count estimates its share (a newline often merges with the next
  // line's indentation when the context is tokenized whole, so the estimate runs high): grow the
  // estimated budget by what the whole context left unused, then drop lines until it fits.
  const size_t first = rng.Below(haystack.documents());
  const int budget = length - fixed - needle_tokens;
  int estimate = budget;
  std::vector<absl::string_view> lines;
  std::vector<int> counts;
  for (int attempt = 0; attempt < 4; ++attempt) {
    lines = haystack.Take(first, estimate, &counts);
    c.context = BuildContext(lines, counts, placed, depth);
    const int total = fixed + static_cast<int>(tokenizer.Encode(Std(c.context), false).size());
    if (total > length || length - total <= length / 64) break;
    estimate += length - total;
  }
  while (!lines.empty()) {
    c.context = BuildContext(lines, counts, placed, depth);
    const int total = fixed + static_cast<int>(tokenizer.Encode(Std(c.context), false).size());
    if (total <= length) break;
    lines.pop_back();
    counts.pop_back();
  }
  return c;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> LoadNeedleWords(const std::string& path,
                                                         absl::string_view split) {
  ASSIGN_OR_RETURN(const Json json, ParseJsonFile(path));
  const Json* list = JsonMember(json, Std(split));
  if (list == nullptr || !list->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no list \"", split, "\" of needle words"));
  }
  std::vector<std::string> words;
  for (const Json& w : *list) {
    if (!w.is_string() || w.get_ref<const std::string&>().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": \"", split, "\" holds ", JsonShow(w), ", not a word"));
    }
    words.push_back(w.get<std::string>());
  }
  return words;
}

absl::StatusOr<std::vector<NiahCase>> MakeNiahCases(const NiahGridOptions& options,
                                                    const NiahSources& sources,
                                                    const Tokenizer& tokenizer) {
  if (sources.documents.empty()) return absl::InvalidArgumentError("the haystack has no documents");
  const int max_needles = *std::max_element(options.needles.begin(), options.needles.end());
  if (sources.words.size() < 2 ||
      static_cast<double>(sources.words.size()) * (sources.words.size() - 1) < max_needles) {
    return absl::InvalidArgumentError(
        absl::StrCat(max_needles, " needles need as many distinct keys; ", sources.words.size(),
                     " words make ", sources.words.size() * (sources.words.size() - 1), " keys"));
  }
  Haystack haystack(sources.documents, tokenizer);
  std::vector<NiahCase> cases;
  for (int length : options.lengths) {
    for (double depth : options.depths) {
      for (int needles : options.needles) {
        for (int s = 0; s < options.samples; ++s) {
          ASSIGN_OR_RETURN(NiahCase c, MakeCase(options, length, depth, needles, s, sources.words,
                                                haystack, tokenizer));
          cases.push_back(std::move(c));
        }
      }
    }
  }
  return cases;
}

std::string NiahCasesToJsonl(const std::vector<NiahCase>& cases) {
  std::string out;
  for (const NiahCase& c : cases) {
    // ordered_json keeps the documented field order.
    nlohmann::ordered_json line = {{"context", c.context}, {"question", c.question},
                                   {"answer", c.answer},   {"length_tokens", c.length_tokens},
                                   {"depth", c.depth},     {"n_needles", c.n_needles}};
    absl::StrAppend(
        &out, line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace), "\n");
  }
  return out;
}

absl::StatusOr<std::vector<NiahCase>> NiahCasesFromJsonl(absl::string_view text,
                                                         absl::string_view source) {
  ASSIGN_OR_RETURN(const std::vector<JsonLine> lines, ParseJsonLines(Std(text), Std(source)));
  std::vector<NiahCase> cases;
  for (const JsonLine& line : lines) {
    auto fail = [&](absl::string_view problem) {
      return absl::DataLossError(absl::StrCat(source, ":", line.line, ": ", problem));
    };
    auto text_field = [&](absl::string_view key, std::string* out) -> absl::Status {
      const Json* v = JsonMember(line.value, Std(key));
      if (v == nullptr || !v->is_string()) return fail(absl::StrCat("no string \"", key, "\""));
      *out = v->get<std::string>();
      return absl::OkStatus();
    };
    NiahCase c;
    RETURN_IF_ERROR(text_field("context", &c.context));
    RETURN_IF_ERROR(text_field("question", &c.question));
    RETURN_IF_ERROR(text_field("answer", &c.answer));
    const Json* length = JsonMember(line.value, "length_tokens");
    const Json* depth = JsonMember(line.value, "depth");
    const Json* needles = JsonMember(line.value, "n_needles");
    const std::optional<int> length_v = length ? JsonInteger<int>(*length) : std::nullopt;
    if (!length_v || *length_v <= 0) return fail("\"length_tokens\" must be a positive integer");
    if (depth == nullptr || !depth->is_number() || depth->get<double>() < 0 ||
        depth->get<double>() > 1) {
      return fail("\"depth\" must be a number in [0, 1]");
    }
    const std::optional<int> needles_v = needles ? JsonInteger<int>(*needles) : std::nullopt;
    if (!needles_v || *needles_v <= 0) return fail("\"n_needles\" must be a positive integer");
    if (FirstSevenDigitNumber(c.answer).empty()) {
      return fail(absl::StrCat("the answer \"", c.answer, "\" holds no 7-digit number"));
    }
    c.length_tokens = *length_v;
    c.depth = depth->get<double>();
    c.n_needles = *needles_v;
    cases.push_back(std::move(c));
  }
  if (cases.empty()) return absl::DataLossError(absl::StrCat(source, ": no cases"));
  return cases;
}

std::string FirstSevenDigitNumber(absl::string_view text) {
  int run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    run = std::isdigit(static_cast<unsigned char>(text[i])) ? run + 1 : 0;
    if (run == 7) return std::string(text.substr(i - 6, 7));
  }
  return "";
}

bool NiahCorrect(absl::string_view generated, const NiahCase& c) {
  const std::string got = FirstSevenDigitNumber(generated);
  return !got.empty() && got == FirstSevenDigitNumber(c.answer);
}

Proportion WilsonInterval(int correct, int n) {
  if (n <= 0) return {};
  constexpr double z = 1.96;
  const double p = static_cast<double>(correct) / n, z2n = z * z / n;
  const double center = (p + z2n / 2) / (1 + z2n);
  const double half = z * std::sqrt(p * (1 - p) / n + z2n / (4.0 * n)) / (1 + z2n);
  return {.estimate = p, .low = std::max(0.0, center - half), .high = std::min(1.0, center + half)};
}

}  // namespace kvbench
