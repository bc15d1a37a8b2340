// libFuzzer target: a results CSV (harness/csv.h), which resume and the gate read back; a table that
// parses must format and parse again to the same table.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "harness/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto table = kvbench::ParseCsv(text, "fuzz.csv");
  if (!table.ok() || table->header.empty()) return 0;
  auto again = kvbench::ParseCsv(kvbench::FormatCsv(*table), "fuzz.csv");
  if (!again.ok() || again->header != table->header || again->rows != table->rows) std::abort();
  return 0;
}
