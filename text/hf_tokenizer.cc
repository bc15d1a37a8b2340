#include "text/hf_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <queue>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "formats/json.h"
#include "formats/utf8.h"

namespace kvbench {
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Invalid(const std::string& source, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", Sv(what)));
}

// The "type" of a component, or "" for null/absent.
std::string TypeOf(const YAML::Node& node) {
  if (!node || node.IsNull()) return "";
  if (!node.IsMap()) return "<not an object>";
  const YAML::Node type = node["type"];
  return type && type.IsScalar() ? type.Scalar() : "<no type>";
}

bool BoolOr(const YAML::Node& node, bool fallback) {
  return node && !node.IsNull() ? node.as<bool>() : fallback;
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool IsWordByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || std::isalnum(u) || c == '_';
}

// A string-pattern object {"String": "x"}; regex patterns are refused.
absl::StatusOr<std::string> StringPattern(const YAML::Node& pattern, const std::string& where) {
  if (pattern && pattern.IsMap() && pattern["String"]) return pattern["String"].as<std::string>();
  if (pattern && pattern.IsMap() && pattern["Regex"]) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": regex patterns are not supported (only {\"String\": ...})"));
  }
  return absl::InvalidArgumentError(absl::StrCat(where, ": missing pattern {\"String\": ...}"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> HfBpeTokenizer::FromFile(const std::string& path) {
  absl::StatusOr<YAML::Node> root = ParseJsonFile(path);
  if (!root.ok()) return root.status();
  return FromJson(*root, path);
}

absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> HfBpeTokenizer::FromJson(
    const YAML::Node& root, const std::string& source) {
  if (!root.IsMap()) return Invalid(source, "tokenizer.json must be a JSON object");
  std::unique_ptr<HfBpeTokenizer> tok(new HfBpeTokenizer());
  // yaml-cpp throws on a value of the wrong JSON type (e.g. a string where an id belongs); every
  // such case becomes an error naming the file.
  try {
    if (absl::Status s = tok->ParseModel(root["model"], source); !s.ok()) return s;
    if (absl::Status s = tok->ParseAddedTokens(root["added_tokens"], source); !s.ok()) return s;
    if (absl::Status s = tok->ParseNormalizer(root["normalizer"], source); !s.ok()) return s;
    if (absl::Status s = tok->ParsePreTokenizer(root["pre_tokenizer"], source); !s.ok()) return s;
    if (absl::Status s = tok->ParseDecoder(root["decoder"], source); !s.ok()) return s;
    if (absl::Status s = tok->ParsePostProcessor(root["post_processor"], source); !s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return Invalid(source, absl::StrCat("unexpected JSON value type (line ", e.mark.line + 1,
                                        ", column ", e.mark.column + 1, "): ", e.msg));
  }
  tok->BuildMatchers();
  tok->ChooseDefaultSpecialIds();
  return tok;
}

absl::Status HfBpeTokenizer::ParseModel(const YAML::Node& model, const std::string& source) {
  if (!model || !model.IsMap()) return Invalid(source, "no \"model\" object");
  std::string type = TypeOf(model);
  // Files written before tokenizers 0.10 carry no model type; merges identify BPE.
  if (type == "<no type>" && model["merges"]) type = "BPE";
  if (type != "BPE") {
    return Invalid(source, absl::StrCat("model type \"", type,
                                        "\" is not supported (only BPE; WordPiece, Unigram and "
                                        "WordLevel tokenizers are not implemented)"));
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const YAML::Node v = model[key];
    if (v && !v.IsNull() && !v.Scalar().empty()) {
      return Invalid(source,
                     absl::StrCat("model.", key, " = \"", v.Scalar(), "\" is not supported"));
    }
  }
  const YAML::Node vocab = model["vocab"];
  if (!vocab || !vocab.IsMap() || vocab.size() == 0) {
    return Invalid(source, "model.vocab must be a non-empty object {piece: id}");
  }
  // Ids index dense tables; bound them so a hostile id cannot demand gigabytes.
  const int64_t max_allowed_id = 4 * static_cast<int64_t>(vocab.size()) + 4096;
  int max_id = -1;
  std::vector<std::pair<std::string, int>> entries;
  entries.reserve(vocab.size());
  for (const auto& kv : vocab) {
    const std::string piece = kv.first.as<std::string>();
    const int64_t id = kv.second.as<int64_t>();
    if (id < 0 || id > max_allowed_id) {
      return Invalid(source, absl::StrCat("model.vocab[\"", piece, "\"] = ", id, " is outside [0, ",
                                          max_allowed_id, "]"));
    }
    if (!vocab_.emplace(piece, static_cast<int>(id)).second) {
      return Invalid(source, absl::StrCat("model.vocab has \"", piece, "\" twice"));
    }
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

  const YAML::Node merges = model["merges"];
  if (merges && !merges.IsNull()) {
    if (!merges.IsSequence()) return Invalid(source, "model.merges must be an array");
    merges_.reserve(merges.size());
    int rank = 0;
    for (const YAML::Node& merge : merges) {
      std::string left, right;
      if (merge.IsScalar()) {
        const std::string text = merge.Scalar();
        const size_t space = text.find(' ');
        if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
          return Invalid(source, absl::StrCat("model.merges[", rank, "] = \"", text,
                                              "\" is not two pieces separated by one space"));
        }
        left = text.substr(0, space);
        right = text.substr(space + 1);
      } else if (merge.IsSequence() && merge.size() == 2) {
        left = merge[0].as<std::string>();
        right = merge[1].as<std::string>();
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

  const YAML::Node unk = model["unk_token"];
  if (unk && !unk.IsNull()) {
    const auto it = vocab_.find(unk.as<std::string>());
    if (it == vocab_.end()) {
      return Invalid(source,
                     absl::StrCat("model.unk_token \"", unk.Scalar(), "\" is not in model.vocab"));
    }
    unk_id_ = it->second;
  }
  fuse_unk_ = BoolOr(model["fuse_unk"], false);
  byte_fallback_ = BoolOr(model["byte_fallback"], false);
  ignore_merges_ = BoolOr(model["ignore_merges"], false);
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
  return absl::OkStatus();
}

absl::Status HfBpeTokenizer::ParseAddedTokens(const YAML::Node& added, const std::string& source) {
  if (added && !added.IsNull() && !added.IsSequence()) {
    return Invalid(source, "added_tokens must be an array");
  }
  if (added && added.IsSequence()) {
    for (size_t i = 0; i < added.size(); ++i) {
      const YAML::Node t = added[i];
      if (!t.IsMap() || !t["id"] || !t["content"]) {
        return Invalid(source, absl::StrCat("added_tokens[", i, "] needs \"id\" and \"content\""));
      }
      AddedToken token;
      token.content = t["content"].as<std::string>();
      const int64_t id = t["id"].as<int64_t>();
      const int64_t max_allowed_id = static_cast<int64_t>(id_to_piece_.size()) + 4096;
      if (id < 0 || id > max_allowed_id) {
        return Invalid(source, absl::StrCat("added_tokens[", i, "] (\"", token.content, "\") id ",
                                            id, " is outside [0, ", max_allowed_id, "]"));
      }
      if (token.content.empty()) {
        return Invalid(source, absl::StrCat("added_tokens[", i, "] has empty content"));
      }
      token.id = static_cast<int>(id);
      token.special = BoolOr(t["special"], false);
      token.lstrip = BoolOr(t["lstrip"], false);
      token.rstrip = BoolOr(t["rstrip"], false);
      token.normalized = BoolOr(t["normalized"], !token.special);
      token.single_word = BoolOr(t["single_word"], false);
      if (token.id >= static_cast<int>(id_to_piece_.size())) id_to_piece_.resize(token.id + 1);
      if (!id_to_piece_[token.id].empty() && id_to_piece_[token.id] != token.content) {
        return Invalid(
            source, absl::StrCat("added_tokens[", i, "] \"", token.content, "\" has id ", token.id,
                                 ", which model.vocab gives to \"", id_to_piece_[token.id], "\""));
      }
      id_to_piece_[token.id] = token.content;
      added_.push_back(std::move(token));
    }
  }
  is_added_.assign(id_to_piece_.size(), false);
  is_special_.assign(id_to_piece_.size(), false);
  for (const AddedToken& token : added_) {
    is_added_[token.id] = true;
    is_special_[token.id] = token.special;
  }
  return absl::OkStatus();
}

absl::Status HfBpeTokenizer::ParseNormalizer(const YAML::Node& node, const std::string& source) {
  const std::string type = TypeOf(node);
  if (type.empty()) return absl::OkStatus();
  if (type == "Sequence") {
    const YAML::Node list = node["normalizers"];
    if (!list || !list.IsSequence())
      return Invalid(source, "normalizer Sequence without \"normalizers\"");
    for (const YAML::Node& child : list) {
      if (absl::Status s = ParseNormalizer(child, source); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (type == "Prepend") {
    normalizer_.push_back({true, "", node["prepend"].as<std::string>()});
    return absl::OkStatus();
  }
  if (type == "Replace") {
    absl::StatusOr<std::string> pattern =
        StringPattern(node["pattern"], absl::StrCat(source, ": normalizer Replace"));
    if (!pattern.ok()) return pattern.status();
    if (pattern->empty()) return Invalid(source, "normalizer Replace with an empty pattern");
    normalizer_.push_back({false, *pattern, node["content"].as<std::string>()});
    return absl::OkStatus();
  }
  return Invalid(source,
                 absl::StrCat("normalizer \"", type,
                              "\" is not supported (supported: Sequence, Prepend, Replace)"));
}

absl::Status HfBpeTokenizer::ParsePreTokenizer(const YAML::Node& node, const std::string& source) {
  const std::string type = TypeOf(node);
  if (type.empty()) return absl::OkStatus();
  if (type == "Sequence") {
    const YAML::Node list = node["pretokenizers"];
    if (!list || !list.IsSequence())
      return Invalid(source, "pre_tokenizer Sequence without \"pretokenizers\"");
    for (const YAML::Node& child : list) {
      if (absl::Status s = ParsePreTokenizer(child, source); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (type == "Metaspace") {
    if (has_metaspace_) return Invalid(source, "more than one Metaspace pre_tokenizer");
    has_metaspace_ = true;
    metaspace_.replacement =
        node["replacement"] ? node["replacement"].as<std::string>() : std::string(kSpaceSymbol);
    if (node["prepend_scheme"]) {
      const std::string scheme = node["prepend_scheme"].as<std::string>();
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
      metaspace_.prepend =
          BoolOr(node["add_prefix_space"], true) ? PrependScheme::kAlways : PrependScheme::kNever;
    }
    metaspace_.split = BoolOr(node["split"], true);
    return absl::OkStatus();
  }
  return Invalid(source, absl::StrCat("pre_tokenizer \"", type,
                                      "\" is not supported (supported: Metaspace, Sequence)"));
}

absl::Status HfBpeTokenizer::ParseDecoder(const YAML::Node& node, const std::string& source) {
  const std::string type = TypeOf(node);
  if (type.empty()) return absl::OkStatus();
  if (type == "Sequence") {
    const YAML::Node list = node["decoders"];
    if (!list || !list.IsSequence())
      return Invalid(source, "decoder Sequence without \"decoders\"");
    for (const YAML::Node& child : list) {
      if (absl::Status s = ParseDecoder(child, source); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  DecoderStep step;
  if (type == "Replace") {
    absl::StatusOr<std::string> pattern =
        StringPattern(node["pattern"], absl::StrCat(source, ": decoder Replace"));
    if (!pattern.ok()) return pattern.status();
    if (pattern->empty()) return Invalid(source, "decoder Replace with an empty pattern");
    step.kind = DecoderStep::kReplace;
    step.pattern = *pattern;
    step.content = node["content"].as<std::string>();
  } else if (type == "ByteFallback") {
    step.kind = DecoderStep::kByteFallback;
  } else if (type == "Fuse") {
    step.kind = DecoderStep::kFuse;
  } else if (type == "Strip") {
    step.kind = DecoderStep::kStrip;
    step.pattern = node["content"].as<std::string>();
    step.start = node["start"].as<int>();
    step.stop = node["stop"].as<int>();
    if (step.pattern.empty() ||
        Utf8CharLength(step.pattern, 0) != static_cast<int>(step.pattern.size()) ||
        step.start < 0 || step.stop < 0) {
      return Invalid(source,
                     absl::StrCat("decoder Strip needs one character and start/stop >= 0, got \"",
                                  step.pattern, "\" ", step.start, "/", step.stop));
    }
  } else if (type == "Metaspace") {
    step.kind = DecoderStep::kMetaspace;
    step.pattern =
        node["replacement"] ? node["replacement"].as<std::string>() : std::string(kSpaceSymbol);
    const std::string scheme =
        node["prepend_scheme"] ? node["prepend_scheme"].as<std::string>() : "";
    step.prepend = scheme == "never" || (scheme.empty() && !BoolOr(node["add_prefix_space"], true))
                       ? PrependScheme::kNever
                       : PrependScheme::kAlways;
  } else {
    return Invalid(source, absl::StrCat("decoder \"", type,
                                        "\" is not supported (supported: Sequence, Replace, "
                                        "ByteFallback, Fuse, Strip, Metaspace)"));
  }
  decoder_.push_back(std::move(step));
  return absl::OkStatus();
}

absl::Status HfBpeTokenizer::ParsePostProcessor(const YAML::Node& node, const std::string& source) {
  const std::string type = TypeOf(node);
  if (type.empty() || type == "ByteLevel") return absl::OkStatus();
  if (type == "Sequence") {
    const YAML::Node list = node["processors"];
    if (!list || !list.IsSequence())
      return Invalid(source, "post_processor Sequence without \"processors\"");
    for (const YAML::Node& child : list) {
      if (absl::Status s = ParsePostProcessor(child, source); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  const auto token_id = [&](const std::string& name, int* id) -> absl::Status {
    // The id of a special token named by the template: its "special_tokens" entry, else the vocab.
    const YAML::Node special = node["special_tokens"];
    if (special && special.IsMap() && special[name] && special[name]["ids"] &&
        special[name]["ids"].IsSequence() && special[name]["ids"].size() >= 1) {
      *id = special[name]["ids"][0].as<int>();
    } else {
      *id = LookupId(name);
    }
    if (*id < 0 || *id >= vocab_size()) {
      return Invalid(source, absl::StrCat("post_processor names token \"", name,
                                          "\", which is not in the vocabulary"));
    }
    return absl::OkStatus();
  };
  if (type == "TemplateProcessing") {
    const YAML::Node single = node["single"];
    if (!single || !single.IsSequence())
      return Invalid(source, "TemplateProcessing without \"single\"");
    bool seen_sequence = false;
    for (const YAML::Node& item : single) {
      if (item["Sequence"]) {
        seen_sequence = true;
      } else if (item["SpecialToken"]) {
        int id;
        if (absl::Status s = token_id(item["SpecialToken"]["id"].as<std::string>(), &id); !s.ok())
          return s;
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
    const YAML::Node cls = node["cls"], sep = node["sep"];
    if (cls && cls.IsSequence() && cls.size() == 2) {
      if (absl::Status s = token_id(cls[0].as<std::string>(), &bos_id_); !s.ok()) return s;
      bos_source_ = "post_processor";
    }
    if (sep && sep.IsSequence() && sep.size() == 2) {
      if (absl::Status s = token_id(sep[0].as<std::string>(), &eos_id_); !s.ok()) return s;
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
    const auto it = vocab_.find(Sv(character));
    if (it != vocab_.end()) {
      flush_unk();
      add(it->second, length);
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
  if (byte_fallback_ && all_bytes_present_) {
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
