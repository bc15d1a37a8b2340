#include "text/byte_level.h"

#include <array>
#include <cstdint>

namespace kvbench {
namespace {

bool StandsForItself(int byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

constexpr int kAlphabetEnd = 0x100 + 68;  // one past the highest code point of the alphabet

struct Alphabet {
  std::array<uint16_t, 256> code_point;       // byte -> code point
  std::array<int16_t, kAlphabetEnd> byte;     // code point -> byte, -1 outside the alphabet
  std::array<std::array<char, 2>, 256> utf8;  // byte -> UTF-8 of its code point (1 or 2 bytes)
  std::array<uint8_t, 256> utf8_length;
};

const Alphabet& TheAlphabet() {
  static const Alphabet* const alphabet = [] {
    auto* a = new Alphabet();
    a->byte.fill(-1);
    int next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const int cp = StandsForItself(b) ? b : next++;
      a->code_point[b] = static_cast<uint16_t>(cp);
      a->byte[cp] = static_cast<int16_t>(b);
      if (cp < 0x80) {
        a->utf8[b] = {static_cast<char>(cp), 0};
        a->utf8_length[b] = 1;
      } else {
        a->utf8[b] = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
        a->utf8_length[b] = 2;
      }
    }
    return a;
  }();
  return *alphabet;
}

}  // namespace

void AppendByteLevel(std::string_view bytes, std::string* out) {
  const Alphabet& alphabet = TheAlphabet();
  out->reserve(out->size() + 2 * bytes.size());
  for (const char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    out->append(alphabet.utf8[b].data(), alphabet.utf8_length[b]);
  }
}

bool AppendBytesOfByteLevel(std::string_view text, std::string* out) {
  const Alphabet& alphabet = TheAlphabet();
  const size_t old_size = out->size();
  // Every code point of the alphabet is below U+0800, so it is one or two UTF-8 bytes.
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<uint8_t>(text[i]);
    int cp = -1;
    if (lead < 0x80) {
      cp = lead;
      i += 1;
    } else if ((lead & 0xE0) == 0xC0 && i + 1 < text.size() &&
               (static_cast<uint8_t>(text[i + 1]) & 0xC0) == 0x80) {
      cp = ((lead & 0x1F) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3F);
      if (cp < 0x80) cp = -1;  // an overlong form is no character of the alphabet
      i += 2;
    }
    if (cp < 0 || cp >= kAlphabetEnd || alphabet.byte[cp] < 0) {
      out->resize(old_size);
      return false;
    }
    out->push_back(static_cast<char>(alphabet.byte[cp]));
  }
  return true;
}

}  // namespace kvbench
