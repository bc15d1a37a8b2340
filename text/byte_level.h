// The byte-level alphabet of GPT-2-style BPE (Hugging Face's ByteLevel pre-tokenizer and decoder,
// llama.cpp's "gpt2" vocabularies): every byte of the text is written as one printable code point
// before merging, so vocabulary pieces are valid UTF-8 strings without spaces or control
// characters. The printable bytes 0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF stand for themselves
// (as code points); the 68 others, in increasing order, become U+0100, U+0101, ... (a space is
// U+0120 "Ġ", a newline U+010A "Ċ").
#ifndef KVBENCH_TEXT_BYTE_LEVEL_H_
#define KVBENCH_TEXT_BYTE_LEVEL_H_

#include <string>
#include <string_view>

namespace kvbench {

// Appends the byte-level spelling of `bytes` (any bytes, not only UTF-8) to `out`.
void AppendByteLevel(std::string_view bytes, std::string* out);

// Appends the bytes that the byte-level string `text` spells. False (and `out` as it was) when
// `text` holds a character outside the alphabet, e.g. an added token such as "<|eot_id|>" written
// with characters the alphabet maps elsewhere.
bool AppendBytesOfByteLevel(std::string_view text, std::string* out);

}  // namespace kvbench

#endif  // KVBENCH_TEXT_BYTE_LEVEL_H_
