// libFuzzer target: a GGUF image in memory (formats/gguf.h), then its GPT-2 vocabulary when it has
// one (text/gguf_bpe.h). Any input must give a status, never a crash, a hang or a leak.
#include <cstddef>
#include <cstdint>

#include "formats/gguf.h"
#include "text/gguf_bpe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = kvbench::GgufFile::Parse(reinterpret_cast<const std::byte*>(data), size, "fuzz.gguf");
  if (!file.ok()) return 0;
  auto vocab = kvbench::ReadGgufBpeVocab(**file);
  (void)vocab;
  return 0;
}
