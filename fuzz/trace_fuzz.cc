// libFuzzer target: a binary KV trace (sim/trace.h), which kvbench simulate replays.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sim/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto trace =
      kvbench::ParseTrace(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.kvt");
  (void)trace;
  return 0;
}
