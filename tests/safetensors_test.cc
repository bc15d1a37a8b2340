// Tests of the safetensors reader on files written here byte by byte (the header JSON and the data
// are composed by the test, not by the code under test), plus the real TinyStories-656K file.
#include "formats/safetensors.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "formats/half.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string TestDir() { return FreshTestDir("safetensors_test_"); }

// u64 little-endian header length, header, data.
std::string Assemble(const std::string& header, const std::string& data) {
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}

std::string LengthPrefix(uint64_t n) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out;
}

template <typename T>
std::string Raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

absl::StatusOr<SafetensorsContents> ParseString(const std::string& bytes,
                                                const std::string& path = "mem.safetensors") {
  return ParseSafetensors(
      absl::MakeConstSpan(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()), path);
}

// The three supported dtypes, with values that are exact in each.
struct ValidFile {
  std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 65504.0f};  // F32 [2, 3]
  std::vector<float> b = {0.5f, -1.0f, 2.0f, 1024.0f};                 // F16 [4]
  std::vector<float> c = {-3.0f, 0.125f, 256.0f, -0.0078125f};         // BF16 [2, 2]

  std::string Bytes() const {
    std::vector<uint16_t> b16, c16;
    for (float v : b) b16.push_back(F32ToFp16(v));
    for (float v : c) c16.push_back(F32ToBf16(v));
    const std::string data = Raw(a) + Raw(b16) + Raw(c16);  // 24 + 8 + 8 bytes
    // Keys deliberately not in offset order.
    const std::string header = R"({"c":{"dtype":"BF16","shape":[2,2],"data_offsets":[32,40]},)"
                               R"("__metadata__":{"format":"pt","note":"test"},)"
                               R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                               R"("b":{"dtype":"F16","shape":[4],"data_offsets":[24,32]}})";
    return Assemble(header, data);
  }
};

TEST(SafetensorsTest, RoundTripsF32F16Bf16) {
  const std::string path = TestDir() + "/model.safetensors";
  const ValidFile valid;
  WriteBytes(path, valid.Bytes());
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt = SafetensorsCheckpoint::Open(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();

  ASSERT_EQ((*ckpt)->tensors().size(), 3u);
  EXPECT_EQ((*ckpt)->tensors()[0].name, "a");  // offset order
  EXPECT_EQ((*ckpt)->tensors()[1].name, "b");
  EXPECT_EQ((*ckpt)->tensors()[2].name, "c");
  EXPECT_EQ((*ckpt)->metadata().at("format"), "pt");
  EXPECT_EQ((*ckpt)->metadata().at("note"), "test");
  EXPECT_EQ((*ckpt)->Find("missing"), nullptr);

  const SafetensorsTensor* a = (*ckpt)->Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::kF32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->bytes, 24u);
  EXPECT_EQ(a->num_elements(), 6);
  EXPECT_EQ(a->file, path);
  for (size_t i = 0; i < valid.a.size(); ++i) {
    float v;
    std::memcpy(&v, a->data + 4 * i, 4);
    EXPECT_EQ(v, valid.a[i]) << i;
  }

  const SafetensorsTensor* b = (*ckpt)->Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::kF16);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{4}));
  for (size_t i = 0; i < valid.b.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, b->data + 2 * i, 2);
    EXPECT_EQ(Fp16ToF32(h), valid.b[i]) << i;
  }

  const SafetensorsTensor* c = (*ckpt)->Find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dtype, DType::kBF16);
  EXPECT_EQ(c->shape, (std::vector<int64_t>{2, 2}));
  for (size_t i = 0; i < valid.c.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, c->data + 2 * i, 2);
    EXPECT_EQ(Bf16ToF32(h), valid.c[i]) << i;
  }

  // Data points into the one mapping, right after the header.
  ASSERT_EQ((*ckpt)->mappings().size(), 1u);
  const MappedFile& m = *(*ckpt)->mappings()[0];
  EXPECT_EQ(a->data, m.data() + m.size() - 40);
}

// yaml-cpp, which parsed headers before, called a key over 1024 characters malformed JSON.
TEST(SafetensorsTest, LongTensorNamesParse) {
  const std::string name(3000, 'w');
  const std::string header =
      absl::StrCat(R"({")", name, R"(":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})");
  absl::StatusOr<SafetensorsContents> c = ParseString(Assemble(header, Raw(std::vector<float>{7})));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->tensors.size(), 1u);
  EXPECT_EQ(c->tensors[0].name, name);
}

TEST(SafetensorsTest, EmptyTensorAndScalarAreValid) {
  const std::string header = R"({"empty":{"dtype":"F32","shape":[0,5],"data_offsets":[0,0]},)"
                             R"("scalar":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})";
  absl::StatusOr<SafetensorsContents> c = ParseString(Assemble(header, Raw(std::vector<float>{7})));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->tensors.size(), 2u);
  EXPECT_EQ(c->tensors[0].name, "empty");
  EXPECT_EQ(c->tensors[0].bytes, 0u);
  EXPECT_EQ(c->tensors[1].num_elements(), 1);
}

// Zero-byte tensors take no room, so they may sit anywhere in the run of tensors, even between two
// others at the same offset; an empty data section goes with a header of empty tensors.
TEST(SafetensorsTest, EmptyTensorsBetweenOthersAndAnEmptyFileAreValid) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("e1":{"dtype":"F16","shape":[0],"data_offsets":[4,4]},)"
                             R"("e2":{"dtype":"F32","shape":[3,0],"data_offsets":[4,4]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  absl::StatusOr<SafetensorsContents> c =
      ParseString(Assemble(header, Raw(std::vector<float>{1, 2})));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->tensors.size(), 4u);
  EXPECT_TRUE(ParseString(Assemble("{}", "")).ok());
  EXPECT_TRUE(ParseString(Assemble(R"({"__metadata__":{"format":"pt"}})", "")).ok());
}

// The issue's case: writers pad the header with spaces, so a header length a few bytes short still
// parses as JSON, and every tensor then starts that many bytes early. The uncovered bytes at the
// end are the only sign; a length a few bytes long reaches into the data and is not JSON.
TEST(SafetensorsTest, HeaderLengthOffByOneIsDataLoss) {
  const std::string data = Raw(std::vector<float>{1, 2, 3, 4});
  const std::string header = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  const std::string padded = header + std::string(8 - (8 + header.size()) % 8, ' ');
  ASSERT_TRUE(ParseString(Assemble(padded, data)).ok());
  const std::string body = padded + data;
  for (uint64_t len : {uint64_t{padded.size() - 1}, uint64_t{header.size()}}) {
    SCOPED_TRACE(len);
    absl::StatusOr<SafetensorsContents> c = ParseString(LengthPrefix(len) + body, "short.st");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(c.status().message()),
                AllOf(HasSubstr("short.st"), HasSubstr("cover 16 bytes but"),
                      HasSubstr("belong to no tensor")));
  }
  absl::StatusOr<SafetensorsContents> c = ParseString(LengthPrefix(padded.size() + 1) + body);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
}

struct HostileCase {
  std::string label;
  std::string bytes;
  absl::StatusCode code;
  std::vector<std::string> message_parts;  // each must appear in the error
};

std::vector<HostileCase> HostileCases() {
  const std::string eight_floats = Raw(std::vector<float>(8, 1.0f));  // 32 bytes of data
  auto one = [&](const std::string& entry) {
    return Assemble(absl::StrCat(R"({"w":)", entry, "}"), eight_floats);
  };
  const auto kLoss = absl::StatusCode::kDataLoss;
  return {
      {"empty file", "", kLoss, {"too short"}},
      {"short length field", std::string("\x10\x00\x00", 3), kLoss, {"too short"}},
      {"header longer than file",
       LengthPrefix(1000) + "{}",
       kLoss,
       {"header length 1000", "truncated"}},
      {"absurd header length", LengthPrefix(1ull << 62) + "{}", kLoss, {"exceeds the limit"}},
      {"header length 2^64-1", LengthPrefix(~0ull) + "{}", kLoss, {"exceeds the limit"}},
      {"malformed JSON", Assemble(R"({"w": {"dtype": "F32", )", eight_floats), kLoss, {"header"}},
      {"not JSON at all", Assemble("hello world", ""), kLoss, {"header"}},
      {"header is an array", Assemble("[1, 2]", ""), kLoss, {"not a JSON object"}},
      {"text after the object", Assemble(R"({"__metadata__":{}},)", ""), kLoss, {"text after"}},
      {"second object", Assemble(R"({"__metadata__":{}}, "w": {})", ""), kLoss, {"text after"}},
      {"stray quotes", Assemble(R"({"m":x"f":1},"b":2})", ""), kLoss, {"malformed JSON"}},
      {"deep nesting",
       Assemble(R"({"m":)" + std::string(100000, '[') + std::string(100000, ']') + "}", ""),
       kLoss,
       {"too deep"}},
      {"invalid UTF-8", Assemble("{\"w\xff\":{}}", ""), kLoss, {"UTF-8"}},
      {"control character", Assemble("{\"w\x01\":{}}", ""), kLoss, {"control character"}},
      {"trailing comma", Assemble(R"({"__metadata__":{},})", ""), kLoss, {"malformed JSON"}},
      {"single quotes", Assemble(R"({'w':{}})", ""), kLoss, {"malformed JSON"}},
      {"entry is a number", one("5"), kLoss, {"'w'", "not a JSON object"}},
      {"missing dtype", one(R"({"shape":[8],"data_offsets":[0,32]})"), kLoss, {"'w'", "dtype"}},
      {"missing shape", one(R"({"dtype":"F32","data_offsets":[0,32]})"), kLoss, {"'w'", "shape"}},
      {"shape not a list",
       one(R"({"dtype":"F32","shape":8,"data_offsets":[0,32]})"),
       kLoss,
       {"'w'", "shape"}},
      {"missing offsets", one(R"({"dtype":"F32","shape":[8]})"), kLoss, {"'w'", "data_offsets"}},
      {"three offsets",
       one(R"({"dtype":"F32","shape":[8],"data_offsets":[0,32,64]})"),
       kLoss,
       {"'w'", "data_offsets"}},
      {"text offset",
       one(R"({"dtype":"F32","shape":[8],"data_offsets":[0,"32"]})"),
       kLoss,
       {"'w'", "data_offsets"}},
      {"negative offset",
       one(R"({"dtype":"F32","shape":[8],"data_offsets":[-4,28]})"),
       kLoss,
       {"'w'", "data_offsets"}},
      {"fractional dim",
       one(R"({"dtype":"F32","shape":[7.5],"data_offsets":[0,30]})"),
       kLoss,
       {"'w'", "shape[0]"}},
      {"negative dim",
       one(R"({"dtype":"F32","shape":[-8],"data_offsets":[0,32]})"),
       kLoss,
       {"'w'", "shape[0] = -8 is negative"}},
      {"negative dims cancelling",
       one(R"({"dtype":"F32","shape":[-2,-4],"data_offsets":[0,32]})"),
       kLoss,
       {"'w'", "negative"}},
      {"end before begin",
       one(R"({"dtype":"F32","shape":[0],"data_offsets":[8,4]})"),
       kLoss,
       {"'w'", "end 4 < begin 8"}},
      {"end past data",
       one(R"({"dtype":"F32","shape":[16],"data_offsets":[0,64]})"),
       kLoss,
       {"'w'", "past the end"}},
      {"huge end",
       one(R"({"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]})"),
       kLoss,
       {"'w'", "past the end"}},
      {"size mismatch",
       one(R"({"dtype":"F32","shape":[3],"data_offsets":[0,16]})"),
       kLoss,
       {"'w'", "16 bytes", "needs 12"}},
      {"element count overflow",
       one(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,32]})"),
       kLoss,
       {"'w'", "overflow"}},
      {"byte size overflow",
       one(R"({"dtype":"F32","shape":[4611686018427387904,2],"data_offsets":[0,32]})"),
       kLoss,
       {"'w'", "overflow"}},
      {"wrapping product",
       one(R"({"dtype":"F16","shape":[9223372036854775807,2],"data_offsets":[0,0]})"),
       kLoss,
       {"'w'", "overflow"}},
      {"overlap",
       Assemble(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                R"("y":{"dtype":"F32","shape":[4],"data_offsets":[12,28]}})",
                eight_floats),
       kLoss,
       {"'y'", "overlap tensor 'x'"}},
      {"identical ranges",
       Assemble(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                R"("y":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                eight_floats),
       kLoss,
       {"overlap"}},
      // The data section must be exactly the tensors, back to back (Hugging Face's library refuses
      // the rest too): a gap or a byte too many means the offsets do not describe this file.
      {"gap at the start",
       one(R"({"dtype":"F32","shape":[7],"data_offsets":[4,32]})"),
       kLoss,
       {"'w'", "gap of 4 bytes [0, 4) at the start"}},
      {"gap between tensors",
       Assemble(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                R"("y":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}})",
                eight_floats),
       kLoss,
       {"'y'", "gap of 4 bytes [12, 16) after tensor 'x'"}},
      {"one byte more data than the tensors",
       one(R"({"dtype":"F32","shape":[8],"data_offsets":[0,32]})") + "x",
       kLoss,
       {"cover 32 bytes but 33 bytes", "the last 1 belong to no tensor"}},
      {"data but no tensors", Assemble("{}", eight_floats), kLoss, {"cover 0 bytes but 32"}},
      {"data but only an empty tensor",
       one(R"({"dtype":"F32","shape":[0],"data_offsets":[0,0]})"),
       kLoss,
       {"cover 0 bytes but 32"}},
      {"duplicate tensor",
       Assemble(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                R"("x":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}})",
                eight_floats),
       kLoss,
       {"key \"x\" appears twice"}},
      {"metadata not strings",
       Assemble(R"({"__metadata__":{"a":[1]}})", ""),
       kLoss,
       {"__metadata__"}},
      {"unsupported dtype",
       one(R"({"dtype":"I64","shape":[4],"data_offsets":[0,32]})"),
       absl::StatusCode::kInvalidArgument,
       {"'w'", "I64"}},
      {"unknown dtype",
       one(R"({"dtype":"Q4_K","shape":[4],"data_offsets":[0,32]})"),
       absl::StatusCode::kInvalidArgument,
       {"'w'", "Q4_K"}},
  };
}

TEST(SafetensorsTest, HostileHeadersGiveNamedErrors) {
  for (const HostileCase& hc : HostileCases()) {
    SCOPED_TRACE(hc.label);
    absl::StatusOr<SafetensorsContents> c = ParseString(hc.bytes, "evil.safetensors");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), hc.code) << c.status();
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("evil.safetensors"));
    for (const std::string& part : hc.message_parts) {
      EXPECT_THAT(std::string(c.status().message()), HasSubstr(part));
    }
  }
}

TEST(SafetensorsTest, HostileFileOnDiskGivesErrorNamingIt) {
  const std::string path = TestDir() + "/evil.safetensors";
  WriteBytes(path, LengthPrefix(1000) + "{}");
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt = SafetensorsCheckpoint::Open(path);
  ASSERT_FALSE(ckpt.ok());
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(ckpt.status().message()), HasSubstr(path));
}

TEST(SafetensorsTest, EveryTruncationIsDataLoss) {
  const std::string full = ValidFile().Bytes();
  ASSERT_TRUE(ParseString(full).ok());
  for (size_t n = 0; n < full.size(); ++n) {
    // An exactly sized heap copy, so that a read past the prefix is a read past the allocation.
    // Built from the range: a memcpy into an empty vector's data() (null at n = 0) is undefined.
    const auto* bytes = reinterpret_cast<const std::byte*>(full.data());
    const std::vector<std::byte> prefix(bytes, bytes + n);
    absl::StatusOr<SafetensorsContents> c =
        ParseSafetensors(absl::MakeConstSpan(prefix), "cut.safetensors");
    ASSERT_FALSE(c.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss) << n << ": " << c.status();
  }
}

TEST(SafetensorsTest, TruncatedFileOnDisk) {
  const std::string dir = TestDir();
  const std::string full = ValidFile().Bytes();
  for (size_t n : {size_t{0}, size_t{7}, size_t{8}, size_t{50}, full.size() - 1}) {
    const std::string path = absl::StrCat(dir, "/cut", n, ".safetensors");
    WriteBytes(path, full.substr(0, n));
    absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt = SafetensorsCheckpoint::Open(path);
    ASSERT_FALSE(ckpt.ok()) << n;
    EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kDataLoss) << ckpt.status();
    EXPECT_THAT(std::string(ckpt.status().message()), HasSubstr(path));
  }
}

// Random byte corruption of the header must never crash; whatever parses must be self-consistent.
TEST(SafetensorsTest, CorruptedHeaderBytesNeverCrash) {
  const std::string full = ValidFile().Bytes();
  std::mt19937 rng(1234);
  int parsed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string bytes = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      // Mostly in the length field and header, where the structure is.
      const size_t pos = rng() % (full.size() - 40);
      bytes[pos] = static_cast<char>(rng() & 0xff);
    }
    std::vector<std::byte> buf(bytes.size());
    std::memcpy(buf.data(), bytes.data(), bytes.size());
    absl::StatusOr<SafetensorsContents> c = ParseSafetensors(absl::MakeConstSpan(buf), "f");
    if (!c.ok()) continue;
    ++parsed;
    uint64_t prev_end = 0;
    for (const SafetensorsTensor& t : c->tensors) {
      const uint64_t begin = static_cast<uint64_t>(t.data - buf.data());
      ASSERT_GE(t.data, buf.data());
      ASSERT_LE(begin + t.bytes, buf.size());
      ASSERT_GE(begin, prev_end);
      prev_end = begin + t.bytes;
    }
  }
  EXPECT_GT(parsed, 0);  // some flips land in harmless places (e.g. metadata text)
}

// Two shards plus an index, as transformers' save_pretrained(max_shard_size=...) writes them.
void WriteShardedCheckpoint(const std::string& dir) {
  WriteBytes(dir + "/model-00001-of-00002.safetensors",
             Assemble(R"({"w1":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("w2":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                      Raw(std::vector<float>{1, 2, 3})));
  WriteBytes(dir + "/model-00002-of-00002.safetensors",
             Assemble(R"({"w3":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})",
                      Raw(std::vector<uint16_t>{F32ToBf16(4), F32ToBf16(5)})));
  WriteBytes(dir + "/model.safetensors.index.json",
             R"({"metadata":{"total_size":16},"weight_map":{)"
             R"("w1":"model-00001-of-00002.safetensors",)"
             R"("w2":"model-00001-of-00002.safetensors",)"
             R"("w3":"model-00002-of-00002.safetensors"}})");
}

TEST(SafetensorsTest, ShardedCheckpointOpensEachShardOnce) {
  const std::string dir = TestDir();
  WriteShardedCheckpoint(dir);
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt = SafetensorsCheckpoint::OpenDir(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ((*ckpt)->mappings().size(), 2u);
  ASSERT_EQ((*ckpt)->tensors().size(), 3u);
  const SafetensorsTensor* w2 = (*ckpt)->Find("w2");
  const SafetensorsTensor* w3 = (*ckpt)->Find("w3");
  ASSERT_NE(w2, nullptr);
  ASSERT_NE(w3, nullptr);
  float v;
  std::memcpy(&v, w2->data, 4);
  EXPECT_EQ(v, 3.0f);
  uint16_t h;
  std::memcpy(&h, w3->data + 2, 2);
  EXPECT_EQ(Bf16ToF32(h), 5.0f);
  EXPECT_THAT(w3->file, HasSubstr("model-00002-of-00002.safetensors"));

  // Tensors stay readable after the mappings change owner.
  std::vector<std::unique_ptr<MappedFile>> owner = (*ckpt)->TakeMappings();
  EXPECT_EQ(owner.size(), 2u);
  std::memcpy(&v, w2->data, 4);
  EXPECT_EQ(v, 3.0f);
}

TEST(SafetensorsTest, MissingShardIsNotFoundNamingIt) {
  const std::string dir = TestDir();
  WriteShardedCheckpoint(dir);
  std::filesystem::remove(dir + "/model-00002-of-00002.safetensors");
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt =
      SafetensorsCheckpoint::Open(dir + "/model.safetensors.index.json");
  ASSERT_FALSE(ckpt.ok());
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(ckpt.status().message()),
              AllOf(HasSubstr("model-00002-of-00002.safetensors"), HasSubstr("w3")));
}

TEST(SafetensorsTest, IndexNamingWrongShardIsDataLoss) {
  const std::string dir = TestDir();
  WriteShardedCheckpoint(dir);
  WriteBytes(dir + "/model.safetensors.index.json",
             R"({"weight_map":{"w1":"model-00002-of-00002.safetensors",)"
             R"("w3":"model-00002-of-00002.safetensors"}})");
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt = SafetensorsCheckpoint::OpenDir(dir);
  ASSERT_FALSE(ckpt.ok());
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(ckpt.status().message()), HasSubstr("'w1'"));
}

TEST(SafetensorsTest, TensorInTwoShardsIsDataLoss) {
  const std::string dir = TestDir();
  WriteShardedCheckpoint(dir);
  WriteBytes(dir + "/model-00002-of-00002.safetensors",
             Assemble(R"({"w1":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                      Raw(std::vector<float>{9})));
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt = SafetensorsCheckpoint::OpenDir(dir);
  ASSERT_FALSE(ckpt.ok());
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(ckpt.status().message()), AllOf(HasSubstr("'w1'"), HasSubstr("both")));
}

TEST(SafetensorsTest, HostileIndexIsRejected) {
  const std::string dir = TestDir();
  const std::string index = dir + "/model.safetensors.index.json";
  struct Case {
    std::string json;
    std::string part;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"metadata":{}})", "weight_map"},
           {R"({"weight_map":[1,2]})", "weight_map"},
           {R"({"weight_map":{}})", "empty"},
           {R"({"weight_map":{"w":["a"]}})", "weight_map"},
           {R"({"weight_map":{"w":"../secret.safetensors"}})", "../secret.safetensors"},
           {R"({"weight_map":{"w":"/etc/passwd"}})", "/etc/passwd"},
           {R"({"weight_map":{"w":"a.safetensors")", "index.json"},
           {R"({"weight_map":{"w":"a.safetensors"}},)", "text after"},
           {"", "must start with"},
       }) {
    SCOPED_TRACE(c.json);
    WriteBytes(index, c.json);
    absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt =
        SafetensorsCheckpoint::Open(index);
    ASSERT_FALSE(ckpt.ok());
    EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kInvalidArgument) << ckpt.status();
    EXPECT_THAT(std::string(ckpt.status().message()), HasSubstr(c.part));
  }
}

TEST(SafetensorsTest, EmptyDirIsNotFound) {
  const std::string dir = TestDir();
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt = SafetensorsCheckpoint::OpenDir(dir);
  ASSERT_FALSE(ckpt.ok());
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(ckpt.status().message()), HasSubstr("model.safetensors"));
}

TEST(SafetensorsTest, ReadsTinyStories656k) {
  const std::string path =
      std::string(KVBENCH_SHARED_DIR) + "/models/tinystories656k/model.safetensors";
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> ckpt = SafetensorsCheckpoint::Open(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ((*ckpt)->tensors().size(), 20u);  // 2 layers x 9 + final norm + lm_head
  EXPECT_EQ((*ckpt)->metadata().at("format"), "pt");
  const SafetensorsTensor* head = (*ckpt)->Find("lm_head.weight");
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(head->dtype, DType::kF32);
  EXPECT_EQ(head->shape, (std::vector<int64_t>{2048, 128}));
  EXPECT_EQ((*ckpt)->Find("model.embed_tokens.weight"), nullptr);  // tied: stored once
  const SafetensorsTensor* k = (*ckpt)->Find("model.layers.1.self_attn.k_proj.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->shape, (std::vector<int64_t>{64, 128}));
  uint64_t total = 0;
  for (const SafetensorsTensor& t : (*ckpt)->tensors()) total += t.bytes;
  EXPECT_EQ(total, 2624000u);  // the data section is exactly covered
}

}  // namespace
}  // namespace kvbench
