// libFuzzer target: a Hugging Face tokenizer.json (text/hf_tokenizer.h: BPE, byte-level and the
// regex pre-tokenizers). When it loads, it encodes a fixed text and a slice of the input itself and
// decodes the ids back.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "formats/json.h"
#include "text/hf_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto json = kvbench::ParseJson(text, "fuzz tokenizer.json");
  if (!json.ok()) return 0;
  auto tokenizer = kvbench::HfBpeTokenizer::FromJson(*json, "fuzz tokenizer.json");
  if (!tokenizer.ok()) return 0;
  for (std::string_view sample : {std::string_view("Hello, world! 123 \xe2\x82\xac\n  x"),
                                  text.substr(0, std::min<size_t>(text.size(), 256))}) {
    const std::vector<int> ids = (*tokenizer)->Encode(sample, /*add_bos=*/true);
    (void)(*tokenizer)->Decode(ids);
  }
  return 0;
}
