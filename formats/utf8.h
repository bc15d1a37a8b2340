// Small UTF-8 helpers shared by the tokenizers. Text reaching a tokenizer is not guaranteed to be
// valid UTF-8 (it comes from files and prompts), so every function here defines a result for
// malformed input instead of assuming validity: a byte that does not start a well-formed sequence
// counts as a one-byte character, which the tokenizers then encode through byte fallback.
#ifndef KVBENCH_FORMATS_UTF8_H_
#define KVBENCH_FORMATS_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kvbench {

// Length in bytes (1..4) of the character starting at text[pos]: the length of a well-formed
// UTF-8 sequence (shortest form, no surrogates, <= U+10FFFF), else 1. Requires pos < text.size().
int Utf8CharLength(std::string_view text, size_t pos);

// Replaces every occurrence of `from` (non-empty) in `text` by `to`.
std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to);

// Parses a byte-fallback piece "<0xNN>" (two hex digits, either case); returns the byte or -1.
int ParseBytePiece(std::string_view piece);

// The byte-fallback piece for `byte`, e.g. "<0x0A>" (upper-case hex, as SentencePiece and
// Hugging Face tokenizers write it).
std::string BytePiece(uint8_t byte);

// UTF-8 of U+2581 LOWER ONE EIGHTH BLOCK, the "▁" SentencePiece uses for a space.
inline constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";

}  // namespace kvbench

#endif  // KVBENCH_FORMATS_UTF8_H_
