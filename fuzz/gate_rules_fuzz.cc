// libFuzzer target: gate rules YAML (harness/gate.h).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "harness/gate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto rules = kvbench::ParseGateRules(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz_rules.yaml");
  (void)rules;
  return 0;
}
