// Reads the f32 .npy files of the oracles (numpy's format version 1: a magic, a little-endian
// header length, a Python-dict header naming dtype '<f4', C order and the shape, then the values).
// Header-only, for tests; a malformed file is a test failure, not a crash.
#ifndef KVBENCH_TESTS_NPY_READER_H_
#define KVBENCH_TESTS_NPY_READER_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace kvbench {

struct Npy {
  std::vector<int64_t> shape;
  std::vector<float> values;  // C order
};

inline Npy ReadNpyF32(const std::string& path) {
  const std::string bytes = ReadFile(path);
  Npy out;
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0 || bytes[6] != 1) {
    ADD_FAILURE() << path << ": not a version 1 .npy file";
    return out;
  }
  const size_t header_len = static_cast<uint8_t>(bytes[8]) | static_cast<uint8_t>(bytes[9]) << 8;
  const std::string header = bytes.substr(10, header_len);
  const size_t open = header.find("'shape': (");
  const size_t close = header.find(')', open);
  if (header.find("'descr': '<f4'") == std::string::npos ||
      header.find("'fortran_order': False") == std::string::npos || open == std::string::npos ||
      close == std::string::npos) {
    ADD_FAILURE() << path << ": not a C-order f32 array: " << header;
    return out;
  }
  size_t count = 1;
  for (absl::string_view dim :
       absl::StrSplit(header.substr(open + 10, close - open - 10), ',', absl::SkipWhitespace())) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(dim, &n) || n < 0) {
      ADD_FAILURE() << path << ": bad shape in " << header;
      return Npy{};
    }
    out.shape.push_back(n);
    count *= static_cast<size_t>(n);
  }
  const size_t data = 10 + header_len;
  if (bytes.size() != data + count * sizeof(float)) {
    ADD_FAILURE() << path << ": " << bytes.size() << " bytes for " << count << " floats";
    return Npy{};
  }
  out.values.resize(count);
  std::memcpy(out.values.data(), bytes.data() + data, count * sizeof(float));
  return out;
}

}  // namespace kvbench

#endif  // KVBENCH_TESTS_NPY_READER_H_
