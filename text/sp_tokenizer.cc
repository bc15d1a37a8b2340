#include "text/sp_tokenizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <queue>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "formats/read_file.h"
#include "formats/utf8.h"

namespace kvbench {
namespace {

using RevMerge =
    absl::flat_hash_map<std::string_view, std::pair<std::string_view, std::string_view>>;

// SentencePiece's decoded form of <unk>.
constexpr std::string_view kUnknownSurface = " \xE2\x81\x87 ";

bool IsMergeable(int32_t type) {
  return type == SentencePieceTokenizer::kNormal || type == SentencePieceTokenizer::kUserDefined ||
         type == SentencePieceTokenizer::kUnused;
}

// One symbol of the text being encoded: a byte range of the normalised text in a linked list.
struct Symbol {
  int prev;
  int next;
  uint32_t start;
  uint32_t length;  // 0 once merged into its left neighbour
  bool frozen;      // a user-defined piece: never merged
};

// A candidate merge of two adjacent symbols. `length` identifies stale entries: if either side
// has changed since the entry was queued, their lengths no longer add up.
struct Bigram {
  float score;
  int left;
  int right;
  uint32_t length;
};

// Highest score first; equal scores: leftmost first (SentencePiece's SymbolPairComparator).
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    if (a.score != b.score) return a.score < b.score;
    return a.left > b.left;
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::Create(
    Vocab vocab) {
  const size_t n = vocab.pieces.size();
  if (n == 0) return absl::InvalidArgumentError("sentencepiece vocab: no tokens");
  if (n > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat("sentencepiece vocab: ", n, " tokens is too many"));
  }
  if (vocab.scores.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("sentencepiece vocab: ", n, " pieces but ", vocab.scores.size(), " scores"));
  }
  if (!vocab.types.empty() && vocab.types.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("sentencepiece vocab: ", n, " pieces but ",
                                                   vocab.types.size(), " token types"));
  }
  const int size = static_cast<int>(n);
  const auto check_id = [&](const char* name, int id, bool optional) -> absl::Status {
    if ((optional && id == -1) || (id >= 0 && id < size)) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("sentencepiece vocab: ", name, " id ", id, " outside [0, ", size, ")"));
  };
  RETURN_IF_ERROR(check_id("bos", vocab.bos_id, false));
  RETURN_IF_ERROR(check_id("eos", vocab.eos_id, false));
  RETURN_IF_ERROR(check_id("unk", vocab.unk_id, true));
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(vocab.scores[i])) {
      return absl::InvalidArgumentError(absl::StrCat("sentencepiece vocab: token ", i, " (\"",
                                                     vocab.pieces[i], "\") has a NaN score"));
    }
    if (!vocab.types.empty() && (vocab.types[i] < kNormal || vocab.types[i] > kByte)) {
      return absl::InvalidArgumentError(absl::StrCat("sentencepiece vocab: token ", i, " (\"",
                                                     vocab.pieces[i], "\") has unknown type ",
                                                     vocab.types[i], " (valid: 1..6)"));
    }
  }
  if (vocab.types.empty()) {
    vocab.types.resize(n, kNormal);
    for (size_t i = 0; i < n; ++i) {
      const std::string& piece = vocab.pieces[i];
      if (piece == "<unk>") {
        vocab.types[i] = kUnknown;
      } else if (piece == "<s>" || piece == "</s>") {
        vocab.types[i] = kControl;
      } else if (ParseBytePiece(piece) >= 0) {
        vocab.types[i] = kByte;
      }
    }
  }

  std::unique_ptr<SentencePieceTokenizer> tok(new SentencePieceTokenizer());
  tok->pieces_ = std::move(vocab.pieces);
  tok->scores_ = std::move(vocab.scores);
  tok->types_ = std::move(vocab.types);
  tok->bos_id_ = vocab.bos_id;
  tok->eos_id_ = vocab.eos_id;
  tok->unk_id_ = vocab.unk_id;
  std::fill(std::begin(tok->byte_ids_), std::end(tok->byte_ids_), -1);
  int n_bytes = 0;
  for (int id = 0; id < size; ++id) {
    const std::string& piece = tok->pieces_[id];
    if (piece.empty()) continue;  // can never match text
    // Duplicates keep their first id (llama.cpp keeps the last; SentencePiece refuses them).
    tok->piece_to_id_.emplace(piece, id);
    const int32_t type = tok->types_[id];
    if (IsMergeable(type)) tok->mergeable_.emplace(piece, id);
    if (type == kUserDefined) tok->user_defined_.push_back(piece);
    if (type == kByte) {
      const int byte = ParseBytePiece(piece);
      if (byte < 0) {
        return absl::InvalidArgumentError(absl::StrCat("sentencepiece vocab: token ", id, " (\"",
                                                       piece,
                                                       "\") has type byte but is not <0xNN>"));
      }
      if (tok->byte_ids_[byte] < 0) {
        tok->byte_ids_[byte] = id;
        ++n_bytes;
      }
    }
  }
  tok->byte_fallback_ = n_bytes == 256;
  std::sort(tok->user_defined_.begin(), tok->user_defined_.end(),
            [](std::string_view a, std::string_view b) { return a.size() > b.size(); });
  return tok;
}

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::FromLlama2cFile(
    const std::string& path, int vocab_size) {
  if (vocab_size <= 0 || vocab_size > (1 << 24)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": vocab_size ", vocab_size, " outside [1, 2^24]"));
  }
  ASSIGN_OR_RETURN(const std::string data, ReadFile(path, "tokenizer file"));

  size_t offset = 0;
  const auto read_i32 = [&](int32_t* value) {
    if (data.size() - offset < 4) return false;
    std::memcpy(value, data.data() + offset, 4);
    offset += 4;
    return true;
  };
  int32_t max_token_length;
  if (!read_i32(&max_token_length)) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", data.size(), " bytes, too short for the max_token_length header"));
  }
  if (max_token_length <= 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": max_token_length ", max_token_length, " is not positive"));
  }
  Vocab vocab;
  vocab.pieces.reserve(vocab_size);
  vocab.scores.reserve(vocab_size);
  for (int i = 0; i < vocab_size; ++i) {
    float score;
    int32_t length;
    if (data.size() - offset < 8) {
      return absl::DataLossError(absl::StrCat(path, ": truncated at token ", i, " of ", vocab_size,
                                              " (offset ", offset, ", file size ", data.size(),
                                              ")"));
    }
    std::memcpy(&score, data.data() + offset, 4);
    std::memcpy(&length, data.data() + offset + 4, 4);
    offset += 8;
    if (length < 0 || length > max_token_length) {
      return absl::DataLossError(absl::StrCat(path, ": token ", i, " has length ", length,
                                              " outside [0, max_token_length=", max_token_length,
                                              "]"));
    }
    if (data.size() - offset < static_cast<size_t>(length)) {
      return absl::DataLossError(absl::StrCat(path, ": token ", i, " of length ", length,
                                              " runs past the end of the file (offset ", offset,
                                              ", file size ", data.size(), ")"));
    }
    std::string piece = data.substr(offset, length);
    offset += length;
    // llama2.c's exporter wrote BOS/EOS as "\n<s>\n" / "\n</s>\n" and replaced "▁" by ' '
    // (SentencePiece pieces never contain a plain space, so the mapping is reversible).
    if (piece == "\n<s>\n") piece = "<s>";
    if (piece == "\n</s>\n") piece = "</s>";
    vocab.pieces.push_back(ReplaceAll(piece, " ", kSpaceSymbol));
    vocab.scores.push_back(score);
  }
  if (offset != data.size()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", data.size() - offset,
                                                   " bytes left after ", vocab_size,
                                                   " tokens; does vocab_size match the model?"));
  }
  // llama2.c tokenizers are SentencePiece exports: <unk>=0, <s>=1, </s>=2 when present.
  const auto find = [&](std::string_view piece, int fallback) {
    for (int i = 0; i < vocab_size; ++i) {
      if (vocab.pieces[i] == piece) return i;
    }
    return fallback;
  };
  vocab.unk_id = find("<unk>", -1);
  vocab.bos_id = find("<s>", -1);
  vocab.eos_id = find("</s>", -1);
  if (vocab.bos_id < 0 || vocab.eos_id < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no <s>/</s> tokens (BOS/EOS) in the vocabulary"));
  }
  absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> tok = Create(std::move(vocab));
  if (!tok.ok()) return Annotate(tok.status(), path);
  return tok;
}

void SentencePieceTokenizer::EmitSymbol(std::string_view piece, const RevMerge& rev_merge,
                                        std::vector<int>* ids) const {
  const auto it = piece_to_id_.find(piece);
  if (it != piece_to_id_.end()) {
    if (types_[it->second] == kUnused) {
      const auto parts = rev_merge.find(piece);
      if (parts != rev_merge.end()) {
        EmitSymbol(parts->second.first, rev_merge, ids);
        EmitSymbol(parts->second.second, rev_merge, ids);
        return;
      }
    }
    ids->push_back(it->second);
    return;
  }
  if (byte_fallback_) {
    for (const char c : piece) ids->push_back(byte_ids_[static_cast<uint8_t>(c)]);
    return;
  }
  if (unk_id_ >= 0) ids->push_back(unk_id_);
}

std::vector<int> SentencePieceTokenizer::Encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  if (add_bos) ids.push_back(bos_id_);
  if (text.empty()) return ids;

  // Normalise: dummy prefix, then every ' ' becomes "▁".
  std::string normalized;
  normalized.reserve(text.size() + 2 * std::count(text.begin(), text.end(), ' ') + 3);
  normalized.append(kSpaceSymbol);
  for (const char c : text) {
    if (c == ' ') {
      normalized.append(kSpaceSymbol);
    } else {
      normalized.push_back(c);
    }
  }
  const std::string_view norm = normalized;

  // Split into characters (user-defined pieces whole).
  std::vector<Symbol> symbols;
  symbols.reserve(norm.size());
  for (size_t pos = 0; pos < norm.size();) {
    size_t length = 0;
    bool frozen = false;
    for (const std::string_view piece : user_defined_) {
      if (norm.substr(pos, piece.size()) == piece) {
        length = piece.size();
        frozen = true;
        break;
      }
    }
    if (length == 0) length = Utf8CharLength(norm, pos);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, pos + length < norm.size() ? index + 1 : -1,
                       static_cast<uint32_t>(pos), static_cast<uint32_t>(length), frozen});
    pos += length;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> agenda;
  RevMerge rev_merge;
  const auto maybe_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[right];
    if (l.frozen || r.frozen) return;
    const std::string_view merged = norm.substr(l.start, l.length + r.length);
    const auto it = mergeable_.find(merged);
    if (it == mergeable_.end()) return;
    agenda.push({scores_[it->second], left, right, l.length + r.length});
    if (types_[it->second] == kUnused) {
      rev_merge[merged] = {norm.substr(l.start, l.length), norm.substr(r.start, r.length)};
    }
  };
  for (size_t i = 1; i < symbols.size(); ++i)
    maybe_add(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!agenda.empty()) {
    const Bigram top = agenda.top();
    agenda.pop();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    if (left.length == 0 || right.length == 0 || left.length + right.length != top.length) {
      continue;  // stale: one side was merged elsewhere since this entry was queued
    }
    left.length += right.length;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.length = 0;
    maybe_add(left.prev, top.left);
    maybe_add(top.left, left.next);
  }

  for (int i = 0; i >= 0; i = symbols[i].next) {
    EmitSymbol(norm.substr(symbols[i].start, symbols[i].length), rev_merge, &ids);
  }
  return ids;
}

std::string SentencePieceTokenizer::Decode(absl::Span<const int> ids) const {
  std::string text;
  bool at_start = true;  // before the first non-control token: its dummy-prefix "▁" is dropped
  for (const int id : ids) {
    if (id < 0 || id >= vocab_size()) {
      text.append(kUnknownSurface);
      at_start = false;
      continue;
    }
    const int32_t type = types_[id];
    if (type == kControl) continue;
    if (type == kUnknown) {
      text.append(kUnknownSurface);
      at_start = false;
      continue;
    }
    if (type == kByte) {
      text.push_back(static_cast<char>(ParseBytePiece(pieces_[id])));
      at_start = false;
      continue;
    }
    std::string_view piece = pieces_[id];
    if (at_start && piece.substr(0, kSpaceSymbol.size()) == kSpaceSymbol) {
      piece.remove_prefix(kSpaceSymbol.size());
    }
    at_start = false;
    text.append(ReplaceAll(piece, kSpaceSymbol, " "));
  }
  return text;
}

std::string_view SentencePieceTokenizer::Piece(int id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return pieces_[id];
}

std::string SentencePieceTokenizer::Summary() const {
  return absl::StrCat("sentencepiece (llama SPM), ", vocab_size(), " tokens, ",
                      byte_fallback_ ? "byte fallback" : "no byte fallback", ", bos=", bos_id_,
                      " eos=", eos_id_, unk_id_ >= 0 ? absl::StrCat(" unk=", unk_id_) : "");
}

}  // namespace kvbench
