// libFuzzer target: an experiment YAML (harness/experiment.h), every key, sweep and value check;
// the ASan build found the reference-into-a-temporary bug (55940f4) with inputs like these.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "harness/experiment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto e = kvbench::ParseExperiment(std::string_view(reinterpret_cast<const char*>(data), size),
                                    "fuzz.yaml", "fuzz");
  if (e.ok()) (void)e->ToJson();
  return 0;
}
