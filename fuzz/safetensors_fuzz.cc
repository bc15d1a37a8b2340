// libFuzzer target: a safetensors file in memory (formats/safetensors.h): header JSON, dtypes,
// shapes and offsets must be checked against the bytes there are.
#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto contents = kvbench::ParseSafetensors(
      absl::MakeConstSpan(reinterpret_cast<const std::byte*>(data), size), "fuzz.safetensors");
  (void)contents;
  return 0;
}
