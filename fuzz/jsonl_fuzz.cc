// libFuzzer target: JSON Lines (formats/json.h), the format of datasets, needle cases and
// kvbench run --cases-out.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "formats/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto lines = kvbench::ParseJsonLines(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.jsonl");
  (void)lines;
  return 0;
}
