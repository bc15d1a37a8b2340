#include "text/hf_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>
#include <queue>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "formats/json.h"
#include "formats/utf8.h"
#include "text/byte_level.h"
#include "text/regex_split.h"

namespace kvbench {
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Invalid(const std::string& source, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", Sv(what)));
}

// The member `key` of `object`, JSON null when it is absent: tokenizer.json writes an absent
// component as null, so the two mean the same here.
const Json& Member(const Json& object, std::string_view key) {
  static const Json* const kNull = new Json();
  const Json* member = JsonMember(object, key);
  return member != nullptr ? *member : *kNull;
}

// Typed reads. `what` says where the value is ("model.vocab[\"a\"]") for the error.
absl::Status WrongType(const std::string& source, std::string_view what, const Json& value,
                       std::string_view expected) {
  return Invalid(source, absl::StrCat("unexpected JSON value type: ", Sv(what), " = ",
                                      JsonShow(value), " is not ", Sv(expected)));
}

absl::StatusOr<std::string> StringOf(const Json& value, const std::string& source,
                                     std::string_view what) {
  if (!value.is_string()) return WrongType(source, what, value, "a string");
  return value.get_ref<const std::string&>();
}

absl::StatusOr<int64_t> IntegerOf(const Json& value, const std::string& source,
                                  std::string_view what) {
  const std::optional<int64_t> v = JsonInteger<int64_t>(value);
  if (!v.has_value()) return WrongType(source, what, value, "an integer");
  return *v;
}

// A flag: `fallback` when absent or null.
absl::StatusOr<bool> BoolOr(const Json& value, bool fallback, const std::string& source,
                            std::string_view what) {
  if (value.is_null()) return fallback;
  if (!value.is_boolean()) return WrongType(source, what, value, "true or false");
  return value.get<bool>();
}

// The "type" of a component, or "" for null/absent.
std::string TypeOf(const Json& node) {
  if (node.is_null()) return "";
  if (!node.is_object()) return "<not an object>";
  const Json& type = Member(node, "type");
  return type.is_string() ? type.get<std::string>() : "<no type>";
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool IsWordByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || std::isalnum(u) || c == '_';
}

// A string-pattern object {"String": "x"}; regex patterns are refused.
absl::StatusOr<std::string> StringPattern(const Json& pattern, const std::string& source,
                                          std::string_view where) {
  if (const Json* text = JsonMember(pattern, "String")) {
    return StringOf(*text, source, absl::StrCat(Sv(where), " pattern"));
  }
  if (JsonMember(pattern, "Regex") != nullptr) {
    return Invalid(
        source,
        absl::StrCat(Sv(where), ": regex patterns are not supported (only {\"String\": ...})"));
  }
  return Invalid(source, absl::StrCat(Sv(where), ": missing pattern {\"String\": ...}"));
}

// The replacement character of a Metaspace component, "▁" when absent.
absl::StatusOr<std::string> MetaspaceReplacement(const Json& node, const std::string& source,
                                                 std::string_view what) {
  const Json* replacement = JsonMember(node, "replacement");
  if (replacement == nullptr) return std::string(kSpaceSymbol);
  return StringOf(*replacement, source, what);
}

}  // namespace

absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> HfBpeTokenizer::FromFile(const std::string& path) {
  ASSIGN_OR_RETURN(const Json root, ParseJsonFile(path));
  return FromJson(root, path);
}

absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> HfBpeTokenizer::FromJson(
    const Json& root, const std::string& source) {
  if (!root.is_object()) return Invalid(source, "tokenizer.json must be a JSON object");
  std::unique_ptr<HfBpeTokenizer> tok(new HfBpeTokenizer());
  RETURN_IF_ERROR(tok->ParseModel(Member(root, "model"), source));
  RETURN_IF_ERROR(tok->ParseAddedTokens(Member(root, "added_tokens"), source));
  RETURN_IF_ERROR(tok->ParseNormalizer(Member(root, "normalizer"), source));
  RETURN_IF_ERROR(tok->ParsePreTokenizer(Member(root, "pre_tokenizer"), source));
  RETURN_IF_ERROR(tok->ParseDecoder(Member(root, "decoder"), source));
  RETURN_IF_ERROR(tok->ParsePostProcessor(Member(root, "post_processor"), source));
  tok->BuildMatchers();
  tok->ChooseDefaultSpecialIds();
  return tok;
}

absl::Status HfBpeTokenizer::ParseModel(const Json& model, const std::string& source) {
  if (!model.is_object()) return Invalid(source, "no \"model\" object");
  std::string type = TypeOf(model);
  // Files written before tokenizers 0.10 carry no model type; merges identify BPE.
  if (type == "<no type>" && JsonMember(model, "merges") != nullptr) type = "BPE";
  if (type != "BPE") {
    return Invalid(source, absl::StrCat("model type \"", type,
                                        "\" is not supported (only BPE; WordPiece, Unigram and "
                                        "WordLevel tokenizers are not implemented)"));
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const Json& v = Member(model, key);
    if (!v.is_null() && !(v.is_string() && v.get_ref<const std::string&>().empty())) {
      return Invalid(source,
                     absl::StrCat("model.", key, " = \"", JsonShow(v), "\" is not supported"));
    }
  }
  const Json& vocab = Member(model, "vocab");
  if (!vocab.is_object() || vocab.empty()) {
    return Invalid(source, "model.vocab must be a non-empty object {piece: id}");
  }
  // Ids index dense tables; bound them so a hostile id cannot demand gigabytes.
  const int64_t max_allowed_id = 4 * static_cast<int64_t>(vocab.size()) + 4096;
  int max_id = -1;
  std::vector<std::pair<std::string, int>> entries;
  entries.reserve(vocab.size());
  for (const auto& [piece, id_node] : vocab.items()) {
    const std::string what = absl::StrCat("model.vocab[\"", piece, "\"]");
    ASSIGN_OR_RETURN(const int64_t id, IntegerOf(id_node, source, what));
    if (id < 0 || id > max_allowed_id) {
      return Invalid(source,
                     absl::StrCat(what, " = ", id, " is outside [0, ", max_allowed_id, "]"));
    }
    vocab_.emplace(piece, static_cast<int>(id));  // pieces are unique: ParseJson refuses repeats
    entries.emplace_back(piece, static_cast<int>(id));
    max_id = std::max(max_id, static_cast<int>(id));
  }
  id_to_piece_.assign(max_id + 1, "");
  for (auto& [piece, id] : entries) {
    if (!id_to_piece_[id].empty()) {
      return Invalid(source, absl::StrCat("model.vocab gives id ", id, " to both \"",
                                          id_to_piece_[id], "\" and \"", piece, "\""));
    }
    id_to_piece_[id] = std::move(piece);
  }

  const Json& merges = Member(model, "merges");
  if (!merges.is_null()) {
    if (!merges.is_array()) return Invalid(source, "model.merges must be an array");
    merges_.reserve(merges.size());
    int rank = 0;
    for (const Json& merge : merges) {
      std::string left, right;
      if (merge.is_string()) {
        const std::string& text = merge.get_ref<const std::string&>();
        const size_t space = text.find(' ');
        if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
          return Invalid(source, absl::StrCat("model.merges[", rank, "] = \"", text,
                                              "\" is not two pieces separated by one space"));
        }
        left = text.substr(0, space);
        right = text.substr(space + 1);
      } else if (merge.is_array() && merge.size() == 2) {
        const std::string what = absl::StrCat("model.merges[", rank, "]");
        ASSIGN_OR_RETURN(left, StringOf(merge[0], source, what));
        ASSIGN_OR_RETURN(right, StringOf(merge[1], source, what));
      } else {
        return Invalid(
            source, absl::StrCat("model.merges[", rank, "] is neither \"a b\" nor [\"a\", \"b\"]"));
      }
      const auto l = vocab_.find(left), r = vocab_.find(right), m = vocab_.find(left + right);
      for (const auto& [it, what] : {std::pair{l, &left}, std::pair{r, &right}}) {
        if (it == vocab_.end()) {
          return Invalid(source, absl::StrCat("model.merges[", rank, "]: piece \"", *what,
                                              "\" is not in model.vocab"));
        }
      }
      if (m == vocab_.end()) {
        return Invalid(source, absl::StrCat("model.merges[", rank, "]: merged piece \"", left,
                                            right, "\" is not in model.vocab"));
      }
      // A repeated pair takes the later rank, as the library's HashMap insert does.
      merges_[PairKey(l->second, r->second)] = {rank, m->second};
      ++rank;
    }
  }

  const Json& unk = Member(model, "unk_token");
  if (!unk.is_null()) {
    ASSIGN_OR_RETURN(const std::string unk_piece, StringOf(unk, source, "model.unk_token"));
    const auto it = vocab_.find(unk_piece);
    if (it == vocab_.end()) {
      return Invalid(source,
                     absl::StrCat("model.unk_token \"", unk_piece, "\" is not in model.vocab"));
    }
    unk_id_ = it->second;
  }
  ASSIGN_OR_RETURN(fuse_unk_, BoolOr(Member(model, "fuse_unk"), false, source, "model.fuse_unk"));
  ASSIGN_OR_RETURN(byte_fallback_,
                   BoolOr(Member(model, "byte_fallback"), false, source, "model.byte_fallback"));
  ASSIGN_OR_RETURN(ignore_merges_,
                   BoolOr(Member(model, "ignore_merges"), false, source, "model.ignore_merges"));
  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
  int n_bytes = 0;
  for (int b = 0; b < 256; ++b) {
    const auto it = vocab_.find(BytePiece(static_cast<uint8_t>(b)));
    if (it != vocab_.end()) {
      byte_ids_[b] = it->second;
      ++n_bytes;
    }
  }
  all_bytes_present_ = n_bytes == 256;
  short_char_ids_.assign(kShortCharLimit, -1);
  for (const auto& [piece, id] : vocab_) {
    const int cp = ShortCodePoint(piece);
    if (cp >= 0) short_char_ids_[cp] = id;
  }
  return absl::OkStatus();
}

absl::Status HfBpeTokenizer::ParseAddedTokens(const Json& added, const std::string& source) {
  if (!added.is_null() && !added.is_array()) {
    return Invalid(source, "added_tokens must be an array");
  }
  for (size_t i = 0; i < added.size(); ++i) {  // null has size 0
    const Json& t = added[i];
    const Json* id_node = JsonMember(t, "id");
    const Json* content = JsonMember(t, "content");
    if (id_node == nullptr || content == nullptr) {
      return Invalid(source, absl::StrCat("added_tokens[", i, "] needs \"id\" and \"content\""));
    }
    const std::string what = absl::StrCat("added_tokens[", i, "]");
    AddedToken token;
    ASSIGN_OR_RETURN(token.content, StringOf(*content, source, what + ".content"));
    ASSIGN_OR_RETURN(const int64_t id, IntegerOf(*id_node, source, what + ".id"));
    const int64_t max_allowed_id = static_cast<int64_t>(id_to_piece_.size()) + 4096;
    if (id < 0 || id > max_allowed_id) {
      return Invalid(source, absl::StrCat(what, " (\"", token.content, "\") id ", id,
                                          " is outside [0, ", max_allowed_id, "]"));
    }
    if (token.content.empty()) return Invalid(source, absl::StrCat(what, " has empty content"));
    token.id = static_cast<int>(id);
    ASSIGN_OR_RETURN(token.special, BoolOr(Member(t, "special"), false, source, what));
    ASSIGN_OR_RETURN(token.lstrip, BoolOr(Member(t, "lstrip"), false, source, what));
    ASSIGN_OR_RETURN(token.rstrip, BoolOr(Member(t, "rstrip"), false, source, what));
    ASSIGN_OR_RETURN(token.normalized,
                     BoolOr(Member(t, "normalized"), !token.special, source, what));
    ASSIGN_OR_RETURN(token.single_word, BoolOr(Member(t, "single_word"), false, source, what));
    if (token.id >= static_cast<int>(id_to_piece_.size())) id_to_piece_.resize(token.id + 1);
    if (!id_to_piece_[token.id].empty() && id_to_piece_[token.id] != token.content) {
      return Invalid(source,
                     absl::StrCat(what, " \"", token.content, "\" has id ", token.id,
                                  ", which model.vocab gives to \"", id_to_piece_[token.id], "\""));
    }
    id_to_piece_[token.id] = token.content;
    added_.push_back(std::move(token));
  }
  is_added_.assign(id_to_piece_.size(), false);
  is_special_.assign(id_to_piece_.size(), false);
  for (const AddedToken& token : added_) {
    is_added_[token.id] = true;
    is_special_[token.id] = token.special;
  }
  return absl::OkStatus();
}

absl::Status HfBpeTokenizer::ParseNormalizer(const Json& node, const std::string& source) {
  const std::string type = TypeOf(node);
  if (type.empty()) return absl::OkStatus();
  if (type == "Sequence") {
    const Json& list = Member(node, "normalizers");
    if (!list.is_array()) return Invalid(source, "normalizer Sequence without \"normalizers\"");
    for (const Json& child : list) RETURN_IF_ERROR(ParseNormalizer(child, source));
    return absl::OkStatus();
  }
  if (type == "Prepend") {
    ASSIGN_OR_RETURN(std::string prepend,
                     StringOf(Member(node, "prepend"), source, "normalizer Prepend.prepend"));
    normalizer_.push_back({true, "", std::move(prepend)});
    return absl::OkStatus();
  }
  if (type == "Replace") {
    ASSIGN_OR_RETURN(std::string pattern,
                     StringPattern(Member(node, "pattern"), source, "normalizer Replace"));
    if (pattern.empty()) return Invalid(source, "normalizer Replace with an empty pattern");
    ASSIGN_OR_RETURN(std::string content,
                     StringOf(Member(node, "content"), source, "normalizer Replace.content"));
    normalizer_.push_back({false, std::move(pattern), std::move(content)});
    return absl::OkStatus();
  }
  return Invalid(source,
                 absl::StrCat("normalizer \"", type,
                              "\" is not supported (supported: Sequence, Prepend, Replace)"));
}

absl::Status HfBpeTokenizer::ParsePreTokenizer(const Json& node, const std::string& source) {
  const std::string type = TypeOf(node);
  if (type.empty()) return absl::OkStatus();
  if (type == "Sequence") {
    const Json& list = Member(node, "pretokenizers");
    if (!list.is_array())
      return Invalid(source, "pre_tokenizer Sequence without \"pretokenizers\"");
    for (const Json& child : list) RETURN_IF_ERROR(ParsePreTokenizer(child, source));
    return absl::OkStatus();
  }
  if (type == "Split") return ParseSplit(node, source);
  if (type == "Digits") {
    // SmolLM's: numbers apart from the rest, each digit alone or whole runs (tokenizers cuts at
    // char::is_numeric, which is \p{N}).
    ASSIGN_OR_RETURN(const bool individual, BoolOr(Member(node, "individual_digits"), false, source,
                                                   "pre_tokenizer Digits"));
    if (has_metaspace_) return Invalid(source, "pre_tokenizer Digits after a Metaspace");
    return pre_tokenizer_.AddSplit(
        {.pattern = R"(\p{N})",
         .behavior = individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous});
  }
  if (type == "ByteLevel") {
    const std::string what = "pre_tokenizer ByteLevel";
    ASSIGN_OR_RETURN(const bool add_prefix_space,
                     BoolOr(Member(node, "add_prefix_space"), true, source, what));
    ASSIGN_OR_RETURN(const bool use_regex, BoolOr(Member(node, "use_regex"), true, source, what));
    if (has_metaspace_) return Invalid(source, "pre_tokenizer ByteLevel after a Metaspace");
    return pre_tokenizer_.AddByteLevel(add_prefix_space, use_regex);
  }
  if (type == "Metaspace") {
    if (has_metaspace_) return Invalid(source, "more than one Metaspace pre_tokenizer");
    if (!pre_tokenizer_.empty()) {
      return Invalid(source, "pre_tokenizer Metaspace after a Split or ByteLevel");
    }
    has_metaspace_ = true;
    const std::string what = "pre_tokenizer Metaspace";
    ASSIGN_OR_RETURN(metaspace_.replacement, MetaspaceReplacement(node, source, what));
    if (const Json* scheme_node = JsonMember(node, "prepend_scheme")) {
      ASSIGN_OR_RETURN(const std::string scheme, StringOf(*scheme_node, source, what));
      if (scheme == "always") {
        metaspace_.prepend = PrependScheme::kAlways;
      } else if (scheme == "first") {
        metaspace_.prepend = PrependScheme::kFirst;
      } else if (scheme == "never") {
        metaspace_.prepend = PrependScheme::kNever;
      } else {
        return Invalid(source,
                       absl::StrCat("Metaspace prepend_scheme \"", scheme, "\" is unknown"));
      }
    } else {
      ASSIGN_OR_RETURN(const bool add_prefix_space,
                       BoolOr(Member(node, "add_prefix_space"), true, source, what));
      metaspace_.prepend = add_prefix_space ? PrependScheme::kAlways : PrependScheme::kNever;
    }
    ASSIGN_OR_RETURN(metaspace_.split, BoolOr(Member(node, "split"), true, source, what));
    return absl::OkStatus();
  }
  return Invalid(source,
                 absl::StrCat("pre_tokenizer \"", type,
                              "\" is not supported (supported: Metaspace, Split, ByteLevel, "
                              "Digits, Sequence)"));
}

absl::Status HfBpeTokenizer::ParseSplit(const Json& node, const std::string& source) {
  const std::string what = "pre_tokenizer Split";
  if (has_metaspace_) return Invalid(source, "pre_tokenizer Split after a Metaspace");
  RegexSplitter::Options options;
  const Json& pattern = Member(node, "pattern");
  if (const Json* regex = JsonMember(pattern, "Regex")) {
    ASSIGN_OR_RETURN(options.pattern, StringOf(*regex, source, what + " pattern.Regex"));
  } else if (const Json* text = JsonMember(pattern, "String")) {
    ASSIGN_OR_RETURN(options.pattern, StringOf(*text, source, what + " pattern.String"));
    options.literal = true;
  } else {
    return Invalid(source, what + " needs a pattern {\"Regex\": ...} or {\"String\": ...}");
  }
  ASSIGN_OR_RETURN(const std::string behavior,
                   StringOf(Member(node, "behavior"), source, what + ".behavior"));
  absl::StatusOr<SplitBehavior> parsed = ParseSplitBehavior(behavior);
  if (!parsed.ok()) return Annotate(parsed.status(), absl::StrCat(source, ": ", what));
  options.behavior = *parsed;
  ASSIGN_OR_RETURN(options.invert, BoolOr(Member(node, "invert"), false, source, what + ".invert"));
  const absl::Status added = pre_tokenizer_.AddSplit(options);
  if (!added.ok()) return Annotate(added, absl::StrCat(source, ": ", what));
  return absl::OkStatus();
}

absl::Status HfBpeTokenizer::ParseDecoder(const Json& node, const std::string& source) {
  const std::string type = TypeOf(node);
  if (type.empty()) return absl::OkStatus();
  if (type == "Sequence") {
    const Json& list = Member(node, "decoders");
    if (!list.is_array()) return Invalid(source, "decoder Sequence without \"decoders\"");
    for (const Json& child : list) RETURN_IF_ERROR(ParseDecoder(child, source));
    return absl::OkStatus();
  }
  const std::string what = absl::StrCat("decoder ", type);
  DecoderStep step;
  if (type == "Replace") {
    ASSIGN_OR_RETURN(step.pattern, StringPattern(Member(node, "pattern"), source, what));
    if (step.pattern.empty()) return Invalid(source, "decoder Replace with an empty pattern");
    step.kind = DecoderStep::kReplace;
    ASSIGN_OR_RETURN(step.content, StringOf(Member(node, "content"), source, what + ".content"));
  } else if (type == "ByteFallback") {
    step.kind = DecoderStep::kByteFallback;
  } else if (type == "Fuse") {
    step.kind = DecoderStep::kFuse;
  } else if (type == "Strip") {
    step.kind = DecoderStep::kStrip;
    ASSIGN_OR_RETURN(step.pattern, StringOf(Member(node, "content"), source, what + ".content"));
    ASSIGN_OR_RETURN(const int64_t start,
                     IntegerOf(Member(node, "start"), source, what + ".start"));
    ASSIGN_OR_RETURN(const int64_t stop, IntegerOf(Member(node, "stop"), source, what + ".stop"));
    if (step.pattern.empty() ||
        Utf8CharLength(step.pattern, 0) != static_cast<int>(step.pattern.size()) || start < 0 ||
        stop < 0 || start > std::numeric_limits<int>::max() ||
        stop > std::numeric_limits<int>::max()) {
      return Invalid(source,
                     absl::StrCat("decoder Strip needs one character and start/stop >= 0, got \"",
                                  step.pattern, "\" ", start, "/", stop));
    }
    step.start = static_cast<int>(start);
    step.stop = static_cast<int>(stop);
  } else if (type == "ByteLevel") {
    step.kind = DecoderStep::kByteLevel;
  } else if (type == "Metaspace") {
    step.kind = DecoderStep::kMetaspace;
    ASSIGN_OR_RETURN(step.pattern, MetaspaceReplacement(node, source, what));
    std::string scheme;
    if (const Json* scheme_node = JsonMember(node, "prepend_scheme")) {
      ASSIGN_OR_RETURN(scheme, StringOf(*scheme_node, source, what));
    }
    ASSIGN_OR_RETURN(const bool add_prefix_space,
                     BoolOr(Member(node, "add_prefix_space"), true, source, what));
    step.prepend = scheme == "never" || (scheme.empty() && !add_prefix_space)
                       ? PrependScheme::kNever
                       : PrependScheme::kAlways;
  } else {
    return Invalid(source, absl::StrCat("decoder \"", type,
                                        "\" is not supported (supported: Sequence, Replace, "
                                        "ByteFallback, Fuse, Strip, Metaspace, ByteLevel)"));
  }
  decoder_.push_back(std::move(step));
  return absl::OkStatus();
}

absl::Status HfBpeTokenizer::ParsePostProcessor(const Json& node, const std::string& source) {
  const std::string type = TypeOf(node);
  if (type.empty() || type == "ByteLevel") return absl::OkStatus();
  if (type == "Sequence") {
    const Json& list = Member(node, "processors");
    if (!list.is_array()) return Invalid(source, "post_processor Sequence without \"processors\"");
    for (const Json& child : list) RETURN_IF_ERROR(ParsePostProcessor(child, source));
    return absl::OkStatus();
  }
  const std::string what = absl::StrCat("post_processor ", type);
  const auto token_id = [&](const Json& name_node) -> absl::StatusOr<int> {
    ASSIGN_OR_RETURN(const std::string name, StringOf(name_node, source, what));
    // The id of a special token named by the template: its "special_tokens" entry, else the vocab.
    const Json& ids = Member(Member(Member(node, "special_tokens"), name), "ids");
    int id = -1;
    if (ids.is_array() && !ids.empty()) {
      ASSIGN_OR_RETURN(const int64_t first, IntegerOf(ids[0], source, what));
      id = first < 0 || first >= vocab_size() ? -1 : static_cast<int>(first);
    } else {
      id = LookupId(name);
    }
    if (id < 0) {
      return Invalid(source, absl::StrCat("post_processor names token \"", name,
                                          "\", which is not in the vocabulary"));
    }
    return id;
  };
  if (type == "TemplateProcessing") {
    const Json& single = Member(node, "single");
    if (!single.is_array()) return Invalid(source, "TemplateProcessing without \"single\"");
    bool seen_sequence = false;
    for (const Json& item : single) {
      if (JsonMember(item, "Sequence") != nullptr) {
        seen_sequence = true;
      } else if (const Json* special = JsonMember(item, "SpecialToken")) {
        ASSIGN_OR_RETURN(const int id, token_id(Member(*special, "id")));
        if (!seen_sequence && bos_id_ < 0) {
          bos_id_ = id;
          bos_source_ = "post_processor";
        } else if (seen_sequence && eos_id_ < 0) {
          eos_id_ = id;
        }
      }
    }
    return absl::OkStatus();
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    const Json &cls = Member(node, "cls"), &sep = Member(node, "sep");
    if (cls.is_array() && cls.size() == 2) {
      ASSIGN_OR_RETURN(bos_id_, token_id(cls[0]));
      bos_source_ = "post_processor";
    }
    if (sep.is_array() && sep.size() == 2) {
      ASSIGN_OR_RETURN(eos_id_, token_id(sep[0]));
    }
    return absl::OkStatus();
  }
  return Invalid(source, absl::StrCat("post_processor \"", type, "\" is not supported"));
}

void HfBpeTokenizer::BuildMatchers() {
  for (const AddedToken& token : added_) {
    AddedMatcher& matcher = token.normalized ? normalized_matcher_ : raw_matcher_;
    // Normalized tokens are looked for in normalized text, so their pattern is normalized too.
    std::string pattern = token.normalized ? Normalize(token.content) : token.content;
    matcher.patterns.emplace_back(std::move(pattern), &token);
  }
  for (AddedMatcher* matcher : {&raw_matcher_, &normalized_matcher_}) {
    std::stable_sort(matcher->patterns.begin(), matcher->patterns.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    for (size_t i = 0; i < matcher->patterns.size(); ++i) {
      matcher->by_first_byte[static_cast<uint8_t>(matcher->patterns[i].first[0])].push_back(
          static_cast<int>(i));
    }
  }
}

void HfBpeTokenizer::ChooseDefaultSpecialIds() {
  const auto first_present = [&](std::initializer_list<const char*> names) {
    for (const char* name : names) {
      const int id = LookupId(name);
      if (id >= 0) return id;
    }
    return -1;
  };
  if (bos_id_ < 0) {
    bos_id_ = first_present({"<s>", "<|begin_of_text|>", "<|startoftext|>", "<|endoftext|>"});
    if (bos_id_ >= 0) bos_source_ = "by name";
  }
  if (eos_id_ < 0) {
    eos_id_ =
        first_present({"</s>", "<|end_of_text|>", "<|endoftext|>", "<|im_end|>", "<|eot_id|>"});
  }
  if (eos_id_ < 0) {
    for (const AddedToken& token : added_) {
      std::string lower = token.content;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (token.special && token.id != bos_id_ && lower.find("end") != std::string::npos) {
        eos_id_ = token.id;
        break;
      }
    }
  }
}

int HfBpeTokenizer::ShortCodePoint(std::string_view character) {
  const auto lead = character.empty() ? 0 : static_cast<uint8_t>(character[0]);
  if (character.size() == 1 && lead < 0x80) return lead;
  if (character.size() == 2 && lead >= 0xC2 && lead < 0xE0 &&
      (static_cast<uint8_t>(character[1]) & 0xC0) == 0x80) {
    return ((lead & 0x1F) << 6) | (static_cast<uint8_t>(character[1]) & 0x3F);
  }
  return -1;
}

int HfBpeTokenizer::CharacterId(std::string_view character) const {
  const int cp = ShortCodePoint(character);
  if (cp >= 0) return short_char_ids_[cp];
  const auto it = vocab_.find(Sv(character));
  return it == vocab_.end() ? -1 : it->second;
}

int HfBpeTokenizer::LookupId(std::string_view piece) const {
  for (const AddedToken& token : added_) {
    if (token.content == piece) return token.id;
  }
  const auto it = vocab_.find(Sv(piece));
  return it == vocab_.end() ? -1 : it->second;
}

bool HfBpeTokenizer::IsSpecial(int id) const {
  return id >= 0 && id < vocab_size() && is_special_[id];
}

absl::Status HfBpeTokenizer::SetSpecialIds(int bos_id, int eos_id) {
  for (const auto& [name, id] : {std::pair{"bos", bos_id}, std::pair{"eos", eos_id}}) {
    if (id < -1 || id >= vocab_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " id ", id, " is outside [-1, ", vocab_size(), ")"));
    }
  }
  bos_id_ = bos_id;
  eos_id_ = eos_id;
  bos_source_ = "set";
  return absl::OkStatus();
}

std::string HfBpeTokenizer::Normalize(std::string_view text) const {
  std::string out(text);
  for (const NormalizerStep& step : normalizer_) {
    if (step.prepend) {
      if (!out.empty()) out.insert(0, step.content);
    } else {
      out = ReplaceAll(out, step.pattern, step.content);
    }
  }
  return out;
}

HfBpeTokenizer::Match HfBpeTokenizer::FindAdded(const AddedMatcher& matcher, std::string_view text,
                                                size_t from) const {
  if (matcher.patterns.empty()) return {std::string_view::npos, 0, -1};
  for (size_t pos = from; pos < text.size(); ++pos) {
    for (const int index : matcher.by_first_byte[static_cast<uint8_t>(text[pos])]) {
      const auto& [pattern, token] = matcher.patterns[index];
      if (text.compare(pos, pattern.size(), pattern) != 0) continue;
      size_t start = pos, end = pos + pattern.size();
      if (token->single_word && ((start > 0 && IsWordByte(text[start - 1])) ||
                                 (end < text.size() && IsWordByte(text[end])))) {
        continue;
      }
      if (token->lstrip) {
        while (start > from && IsAsciiSpace(text[start - 1])) --start;
      }
      if (token->rstrip) {
        while (end < text.size() && IsAsciiSpace(text[end])) ++end;
      }
      return {start, end, token->id};
    }
  }
  return {std::string_view::npos, 0, -1};
}

std::vector<int> HfBpeTokenizer::Encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  if (add_bos && bos_id_ >= 0) ids.push_back(bos_id_);
  // Raw added tokens split the input; every piece between them is normalized on its own.
  size_t pos = 0;
  while (pos <= text.size()) {
    const Match raw = FindAdded(raw_matcher_, text, pos);
    const size_t piece_end = raw.start == std::string_view::npos ? text.size() : raw.start;
    if (piece_end > pos) {
      const std::string normalized = Normalize(text.substr(pos, piece_end - pos));
      const std::string_view norm = normalized;
      size_t npos = 0;
      while (npos < norm.size()) {
        const Match m = FindAdded(normalized_matcher_, norm, npos);
        const size_t end = m.start == std::string_view::npos ? norm.size() : m.start;
        if (end > npos)
          EncodeNormalized(norm.substr(npos, end - npos), pos == 0 && npos == 0, &ids);
        if (m.start == std::string_view::npos) break;
        ids.push_back(m.id);
        npos = m.end;
      }
    }
    if (raw.start == std::string_view::npos) break;
    ids.push_back(raw.id);
    pos = raw.end;
  }
  return ids;
}

void HfBpeTokenizer::EncodeNormalized(std::string_view normalized, bool at_origin,
                                      std::vector<int>* ids) const {
  if (!pre_tokenizer_.empty()) {
    std::vector<std::string> words;
    pre_tokenizer_.Run(normalized, &words);
    // Text repeats its words (spaces, "the", indentation): a word seen before in this text copies
    // the ids it got then, which are already in `ids`, instead of being merged again.
    absl::flat_hash_map<std::string_view, std::pair<size_t, size_t>> seen;  // word -> ids range
    seen.reserve(words.size());
    for (const std::string& word : words) {
      const auto [it, inserted] = seen.try_emplace(word);
      if (!inserted) {
        const auto [begin, end] = it->second;
        for (size_t i = begin; i < end; ++i) ids->push_back((*ids)[i]);
        continue;
      }
      const size_t begin = ids->size();
      EncodeWord(word, ids);
      it->second = {begin, ids->size()};
    }
    return;
  }
  if (!has_metaspace_) {
    EncodeWord(normalized, ids);
    return;
  }
  const std::string_view rep = metaspace_.replacement;
  std::string text = ReplaceAll(normalized, " ", rep);
  const bool starts_with_rep = text.compare(0, rep.size(), rep) == 0;
  if (!starts_with_rep && (metaspace_.prepend == PrependScheme::kAlways ||
                           (metaspace_.prepend == PrependScheme::kFirst && at_origin))) {
    text.insert(0, rep);
  }
  const std::string_view view = text;
  if (!metaspace_.split || rep.empty()) {
    EncodeWord(view, ids);
    return;
  }
  // Split before every replacement character (MergedWithNext).
  size_t start = 0;
  while (start < view.size()) {
    size_t next =
        view.find(rep, start + (view.compare(start, rep.size(), rep) == 0 ? rep.size() : 0));
    if (next == std::string_view::npos) next = view.size();
    EncodeWord(view.substr(start, next - start), ids);
    start = next;
  }
}

void HfBpeTokenizer::EncodeWord(std::string_view word, std::vector<int>* ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const auto it = vocab_.find(Sv(word));
    if (it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  struct Symbol {
    int id;
    int prev;
    int next;
    uint32_t length;  // bytes; 0 once merged into the left neighbour
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  const auto add = [&](int id, uint32_t length) {
    const int index = static_cast<int>(symbols.size());
    if (index > 0) symbols.back().next = index;
    symbols.push_back({id, index - 1, -1, length});
  };
  int pending_unk_length = 0;  // a run of unknown characters fused into one <unk>
  const auto flush_unk = [&] {
    if (pending_unk_length > 0) add(unk_id_, pending_unk_length);
    pending_unk_length = 0;
  };
  for (size_t pos = 0; pos < word.size();) {
    const int length = Utf8CharLength(word, pos);
    const std::string_view character = word.substr(pos, length);
    pos += length;
    const int id = CharacterId(character);
    if (id >= 0) {
      flush_unk();
      add(id, length);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (const char c : character) all = all && byte_ids_[static_cast<uint8_t>(c)] >= 0;
      if (all) {
        flush_unk();
        for (const char c : character) add(byte_ids_[static_cast<uint8_t>(c)], 1);
        continue;
      }
    }
    if (unk_id_ < 0) continue;  // no way to spell it: dropped (the library would fail)
    if (!fuse_unk_) flush_unk();
    pending_unk_length += length;
  }
  flush_unk();

  // Merge by rank: lowest first, ties leftmost; stale entries are detected by re-looking up the
  // pair at `pos`, as tokenizers' Word::merge_all does.
  struct Candidate {
    int rank;
    int pos;
    int new_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  const auto push = [&](int left) {
    const int right = symbols[left].next;
    if (right < 0) return;
    const auto it = merges_.find(PairKey(symbols[left].id, symbols[right].id));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.new_id});
  };
  for (size_t i = 0; i + 1 < symbols.size(); ++i) push(static_cast<int>(i));
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.length == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const auto it = merges_.find(PairKey(left.id, right.id));
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;
    left.id = top.new_id;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) push(left.prev);
    push(top.pos);
  }
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) ids->push_back(symbols[i].id);
}

std::string HfBpeTokenizer::Decode(absl::Span<const int> ids) const {
  return Decode(ids, /*skip_special_tokens=*/true);
}

std::string HfBpeTokenizer::Decode(absl::Span<const int> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int id : ids) {
    if (id < 0 || id >= vocab_size() || id_to_piece_[id].empty()) continue;
    if (skip_special_tokens && is_special_[id]) continue;
    tokens.push_back(id_to_piece_[id]);
  }
  for (const DecoderStep& step : decoder_) {
    switch (step.kind) {
      case DecoderStep::kReplace:
        for (std::string& t : tokens) t = ReplaceAll(t, step.pattern, step.content);
        break;
      case DecoderStep::kByteFallback: {
        // Runs of <0xNN> tokens become their bytes (kept raw even when not valid UTF-8).
        std::vector<std::string> out;
        out.reserve(tokens.size());
        bool in_bytes = false;
        for (std::string& t : tokens) {
          const int byte = ParseBytePiece(t);
          if (byte >= 0) {
            if (!in_bytes) out.emplace_back();
            out.back().push_back(static_cast<char>(byte));
            in_bytes = true;
          } else {
            out.push_back(std::move(t));
            in_bytes = false;
          }
        }
        tokens = std::move(out);
        break;
      }
      case DecoderStep::kFuse: {
        std::string fused;
        for (const std::string& t : tokens) fused += t;
        tokens.assign(1, std::move(fused));
        break;
      }
      case DecoderStep::kStrip:
        for (std::string& t : tokens) {
          const std::string_view c = step.pattern;
          size_t begin = 0, end = t.size();
          for (int i = 0; i < step.start && t.compare(begin, c.size(), c) == 0; ++i)
            begin += c.size();
          for (int i = 0; i < step.stop && end >= begin + c.size() &&
                          t.compare(end - c.size(), c.size(), c) == 0;
               ++i) {
            end -= c.size();
          }
          t = t.substr(begin, end - begin);
        }
        break;
      case DecoderStep::kByteLevel: {
        // All tokens become one text; a token with a character outside the alphabet (an added
        // token) is kept as written, as the library does.
        std::string bytes;
        for (const std::string& t : tokens) {
          if (!AppendBytesOfByteLevel(t, &bytes)) bytes += t;
        }
        tokens.assign(1, std::move(bytes));
        break;
      }
      case DecoderStep::kMetaspace:
        // As the library: every replacement character in the first token is dropped (unless the
        // prepend scheme is "never"), elsewhere it becomes a space.
        for (size_t i = 0; i < tokens.size(); ++i) {
          const bool drop = i == 0 && step.prepend != PrependScheme::kNever;
          tokens[i] = ReplaceAll(tokens[i], step.pattern, drop ? "" : " ");
        }
        break;
    }
  }
  std::string text;
  for (const std::string& t : tokens) text += t;
  return text;
}

std::string_view HfBpeTokenizer::Piece(int id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return id_to_piece_[id];
}

std::string HfBpeTokenizer::Summary() const {
  const auto name = [&](int id) {
    return id < 0 ? std::string("none") : absl::StrCat(id, " ", id_to_piece_[id]);
  };
  std::string fallback;
  if (pre_tokenizer_.byte_level()) {
    fallback = "byte-level";
  } else if (byte_fallback_ && all_bytes_present_) {
    fallback = "byte fallback";
  } else if (byte_fallback_) {
    fallback = "byte fallback without <0xNN> pieces (unknown characters -> <unk>)";
  } else {
    fallback = "no byte fallback";
  }
  return absl::StrCat("hf-bpe, ", vocab_size(), " tokens, ", merges_.size(), " merges, ", fallback,
                      ", ", added_.size(), " added tokens, bos=", name(bos_id_), " (", bos_source_,
                      ") eos=", name(eos_id_));
}

}  // namespace kvbench
