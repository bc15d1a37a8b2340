// GGUF reader/writer: round trips of every metadata type, byte-exact agreement with a file written
// by ggml, hostile files (each must give a clear error, never a crash), and LoadGgufModel.
#include "formats/gguf.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "formats/half.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/loader.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const std::string kStoriesGguf = KVBENCH_SHARED_DIR "/models/stories260K/stories260K.gguf";

// Parses an in-memory image from an exactly-sized heap copy (so a sanitizer build sees overreads).
absl::StatusOr<std::unique_ptr<GgufFile>> ParseImage(const std::string& image,
                                                     std::vector<std::byte>* storage) {
  storage->assign(reinterpret_cast<const std::byte*>(image.data()),
                  reinterpret_cast<const std::byte*>(image.data()) + image.size());
  return GgufFile::Parse(storage->data(), storage->size(), "hostile.gguf");
}

absl::Status ParseStatus(const std::string& image) {
  std::vector<std::byte> storage;
  return ParseImage(image, &storage).status();
}

// Raw little-endian byte builder for files the (correct) writer cannot produce.
class Bytes {
 public:
  Bytes& U8(uint8_t v) { return Put(v); }
  Bytes& U32(uint32_t v) { return Put(v); }
  Bytes& U64(uint64_t v) { return Put(v); }
  Bytes& F32(float v) { return Put(v); }
  Bytes& Str(std::string_view s) {
    U64(s.size());
    data_.append(s);
    return *this;
  }
  Bytes& Header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    data_.append("GGUF");
    return U32(version).U64(n_tensors).U64(n_kv);
  }
  Bytes& KvU32(std::string_view key, uint32_t v) { return Str(key).U32(4).U32(v); }
  Bytes& Tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) U64(d);
    return U32(type).U64(offset);
  }
  Bytes& PadTo(size_t align) {
    data_.resize((data_.size() + align - 1) / align * align, '\0');
    return *this;
  }
  Bytes& Zeros(size_t n) {
    data_.append(n, '\0');
    return *this;
  }
  const std::string& str() const { return data_; }

 private:
  template <typename T>
  Bytes& Put(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    data_.append(b, sizeof(T));
    return *this;
  }
  std::string data_;
};

std::filesystem::path TempDir() {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("kvbench_gguf_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Round trips

TEST(GgufWriterTest, RoundTripsEveryMetadataType) {
  GgufWriter w;
  w.SetUint8("u8", 200);
  w.SetInt8("i8", -100);
  w.SetUint16("u16", 60000);
  w.SetInt16("i16", -30000);
  w.SetUint32("u32", 4000000000u);
  w.SetInt32("i32", -2000000000);
  w.SetFloat32("f32", 1.5f);
  w.SetBool("bool_t", true);
  w.SetBool("bool_f", false);
  w.SetString("str", "h\xc3\xa9llo");
  w.SetString("empty", "");
  w.SetUint64("u64", 0xfedcba9876543210ull);
  w.SetInt64("i64", -(int64_t{1} << 60));
  w.SetFloat64("f64", 3.141592653589793);
  const std::vector<std::string> strings = {"<unk>", "", "\xe2\x96\x81the"};
  const std::vector<int32_t> ints = {-1, 0, 7};
  const std::vector<float> floats = {0.25f, -2.0f};
  const std::vector<uint8_t> bytes = {1, 2, 255};
  const std::vector<uint64_t> u64s = {uint64_t{1} << 63};
  const std::vector<double> doubles = {1e-300};
  w.SetArray("a_str", GgufArray::Strings(strings));
  w.SetArray("a_i32", GgufArray::Of<int32_t>(ints));
  w.SetArray("a_f32", GgufArray::Of<float>(floats));
  w.SetArray("a_u8", GgufArray::Of<uint8_t>(bytes));
  w.SetArray("a_u64", GgufArray::Of<uint64_t>(u64s));
  w.SetArray("a_f64", GgufArray::Of<double>(doubles));
  w.SetArray("a_bool", GgufArray::Bools({true, false, true}));
  w.SetArray("a_empty", GgufArray::Of<int16_t>({}));
  // [[1, 2], ["x"], [[3.5]]]: nested arrays with different element types.
  w.SetArray("nested", GgufArray::Arrays({GgufArray::Of<int32_t>(ints),
                                          GgufArray::Strings(std::vector<std::string>{"x"}),
                                          GgufArray::Arrays({GgufArray::Of<float>(floats)})}));
  w.SetUint32("replaced", 1);
  w.SetUint32("replaced", 2);  // replaces, keeps one entry

  absl::StatusOr<std::string> image = w.Serialize();
  ASSERT_TRUE(image.ok()) << image.status();
  std::vector<std::byte> storage;
  absl::StatusOr<std::unique_ptr<GgufFile>> f = ParseImage(*image, &storage);
  ASSERT_TRUE(f.ok()) << f.status();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.metadata().size(), 24u);
  EXPECT_EQ(g.metadata()[0].first, "u8");

  EXPECT_EQ(*g.GetU32("u8"), 200u);
  EXPECT_EQ(*g.GetInt("i8"), -100);
  EXPECT_EQ(*g.GetInt("u16"), 60000);
  EXPECT_EQ(*g.GetInt("i16"), -30000);
  EXPECT_EQ(*g.GetU32("u32"), 4000000000u);
  EXPECT_EQ(*g.GetInt("i32"), -2000000000);
  EXPECT_EQ(*g.GetFloat("f32"), 1.5);
  EXPECT_EQ(*g.GetBool("bool_t"), true);
  EXPECT_EQ(*g.GetBool("bool_f"), false);
  EXPECT_EQ(*g.GetString("str"), "h\xc3\xa9llo");
  EXPECT_EQ(*g.GetString("empty"), "");
  EXPECT_EQ(g.Find("u64")->u, 0xfedcba9876543210ull);
  EXPECT_EQ(*g.GetInt("i64"), -(int64_t{1} << 60));
  EXPECT_EQ(*g.GetFloat("f64"), 3.141592653589793);
  EXPECT_EQ(*g.GetStringArray("a_str"), strings);
  EXPECT_EQ(*g.GetIntArray("a_i32"), (std::vector<int64_t>{-1, 0, 7}));
  EXPECT_EQ(*g.GetFloatArray("a_f32"), floats);
  EXPECT_EQ(*g.GetIntArray("a_u8"), (std::vector<int64_t>{1, 2, 255}));
  EXPECT_EQ(*g.GetFloatArray("a_f64"), (std::vector<float>{static_cast<float>(1e-300)}));
  EXPECT_EQ(g.Find("a_bool")->count, 3u);
  EXPECT_EQ(FormatGgufValue(*g.Find("a_bool")), "[true, false, true]");
  EXPECT_EQ(g.GetIntArray("a_empty")->size(), 0u);
  EXPECT_EQ(*g.GetU32("replaced"), 2u);

  const GgufValue* nested = g.Find("nested");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(DescribeGgufValueType(*nested), "ARRAY<ARRAY>[3]");
  ASSERT_EQ(nested->arrays.size(), 3u);
  EXPECT_EQ(nested->arrays[0].elem_type, GgufType::kInt32);
  EXPECT_EQ(FormatGgufValue(nested->arrays[0]), "[-1, 0, 7]");
  EXPECT_EQ(nested->arrays[1].strings, std::vector<std::string_view>{"x"});
  ASSERT_EQ(nested->arrays[2].arrays.size(), 1u);
  EXPECT_EQ(FormatGgufValue(nested->arrays[2]), "[[0.25, -2]]");
  EXPECT_EQ(FormatGgufValue(*nested), "[[-1, 0, 7], [\"x\"], [[0.25, -2]]]");

  // Typed getters: missing keys, wrong types and values that do not fit are clear errors.
  EXPECT_EQ(g.GetInt("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(g.GetInt("nope").status().message()), HasSubstr("'nope'"));
  EXPECT_EQ(g.GetInt("str").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(g.GetU32("i8").status().message()), HasSubstr("INT8"));
  EXPECT_FALSE(g.GetU32("u64").ok());  // does not fit u32
  EXPECT_FALSE(g.GetInt("u64").ok());  // does not fit int64
  EXPECT_FALSE(g.GetFloat("u32").ok());
  EXPECT_FALSE(g.GetStringArray("a_i32").ok());
  EXPECT_FALSE(g.GetFloatArray("a_i32").ok());
  EXPECT_FALSE(g.GetIntArray("a_f32").ok());
  EXPECT_FALSE(g.GetIntArray("a_u64").ok());  // 2^63 does not fit int64
}

TEST(GgufWriterTest, RoundTripsTensorsOfEveryTypeWithAlignment) {
  for (uint32_t alignment : {32u, 64u, 1u}) {
    SCOPED_TRACE(alignment);
    GgufWriter w(GgufWriter::Options{.alignment = alignment});
    std::vector<float> values(2 * 64);
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (float& v : values) v = dist(rng);
    ASSERT_TRUE(w.AddTensorFromF32("f32", GgmlType::kF32, {64, 2}, values).ok());
    ASSERT_TRUE(w.AddTensorFromF32("f16", GgmlType::kF16, {64, 2}, values).ok());
    ASSERT_TRUE(w.AddTensorFromF32("bf16", GgmlType::kBF16, {2, 4, 16}, values).ok());
    ASSERT_TRUE(w.AddTensorFromF32("q8", GgmlType::kQ8_0, {64, 2}, values).ok());
    absl::StatusOr<std::string> image = w.Serialize();
    ASSERT_TRUE(image.ok()) << image.status();
    std::vector<std::byte> storage;
    absl::StatusOr<std::unique_ptr<GgufFile>> f = ParseImage(*image, &storage);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ((*f)->alignment(), alignment);
    EXPECT_EQ((*f)->data_offset() % alignment, 0u);
    ASSERT_EQ((*f)->tensors().size(), 4u);
    for (const GgufTensor& t : (*f)->tensors()) {
      EXPECT_EQ(t.offset % alignment, 0u) << t.name;
      EXPECT_EQ((t.data - storage.data()) % alignment, 0) << t.name;
    }
    const GgufTensor* f32 = (*f)->FindTensor("f32");
    ASSERT_NE(f32, nullptr);
    EXPECT_EQ(f32->bytes, 512u);
    EXPECT_EQ(std::memcmp(f32->data, values.data(), 512), 0);
    const GgufTensor* f16 = (*f)->FindTensor("f16");
    EXPECT_EQ(f16->dtype, DType::kF16);
    const GgufTensor* bf16 = (*f)->FindTensor("bf16");
    EXPECT_EQ(bf16->ne, (std::vector<uint64_t>{2, 4, 16}));
    EXPECT_EQ(bf16->n_elements, 128u);
    const GgufTensor* q8 = (*f)->FindTensor("q8");
    EXPECT_EQ(q8->bytes, 4u * 34u);
    for (int k = 0; k < 128; ++k) {
      uint16_t h, b;
      std::memcpy(&h, f16->data + 2 * k, 2);
      std::memcpy(&b, bf16->data + 2 * k, 2);
      EXPECT_EQ(h, F32ToFp16(values[k]));
      EXPECT_EQ(b, F32ToBf16(values[k]));
      // Q8_0: |x - d * q| <= d / 2 (+ the fp16 rounding of d).
      const std::byte* block = q8->data + (k / 32) * 34;
      uint16_t d16;
      std::memcpy(&d16, block, 2);
      const float d = Fp16ToF32(d16);
      const float q = static_cast<float>(static_cast<int8_t>(block[2 + k % 32]));
      EXPECT_NEAR(q * d, values[k], d * 0.51f + 1e-6f) << k;
    }
  }
}

// A minimal file, laid out by hand from the spec: the writer must produce exactly these bytes.
TEST(GgufWriterTest, LayoutMatchesTheSpecByteForByte) {
  GgufWriter w;
  w.SetUint8("a", 9);
  const float t0[3] = {1, 2, 3};
  const float t1[1] = {4};
  ASSERT_TRUE(w.AddTensorFromF32("t", GgmlType::kF32, {3}, t0).ok());
  ASSERT_TRUE(w.AddTensorFromF32("u", GgmlType::kF32, {1}, t1).ok());
  std::string expected = Bytes()
                             .Header(3, 2, 1)
                             .Str("a")
                             .U32(0)
                             .U8(9)
                             .Tensor("t", {3}, 0, 0)
                             .Tensor("u", {1}, 0, 32)  // 12 bytes padded to 32
                             .PadTo(32)
                             .F32(1)
                             .F32(2)
                             .F32(3)
                             .PadTo(32)
                             .F32(4)
                             .PadTo(32)
                             .str();
  ASSERT_EQ(expected.size(), 192u);  // 24 + 14 + 33 + 33 = 104 -> 128, + 32 + 32
  absl::StatusOr<std::string> image = w.Serialize();
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(*image, expected);
}

// stories260K.gguf was written by ggml's gguf writer; re-encoding what we read must give the same
// bytes. This checks the reader (values, order, offsets) and the writer (encoding, padding) at
// once.
TEST(GgufWriterTest, RewritesTheGgmlWrittenStoriesFileIdentically) {
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(kStoriesGguf);
  ASSERT_TRUE(f.ok()) << f.status() << " (the shared model is required)";
  GgufWriter w(GgufWriter::Options{.alignment = (*f)->alignment(), .version = (*f)->version()});
  for (const auto& [key, v] : (*f)->metadata()) {
    switch (v.type) {
      case GgufType::kString:
        w.SetString(key, v.str);
        break;
      case GgufType::kUint32:
        w.SetUint32(key, static_cast<uint32_t>(v.u));
        break;
      case GgufType::kFloat32:
        w.SetFloat32(key, static_cast<float>(v.f));
        break;
      case GgufType::kArray:
        if (v.elem_type == GgufType::kString) {
          w.SetArray(key, GgufArray::Strings(*(*f)->GetStringArray(key)));
        } else if (v.elem_type == GgufType::kFloat32) {
          w.SetArray(key, GgufArray::Of<float>(*(*f)->GetFloatArray(key)));
        } else if (v.elem_type == GgufType::kInt32) {
          const std::vector<int64_t> wide = *(*f)->GetIntArray(key);
          const std::vector<int32_t> ints(wide.begin(), wide.end());
          w.SetArray(key, GgufArray::Of<int32_t>(ints));
        } else {
          FAIL() << "unexpected array type in " << key;
        }
        break;
      default:
        FAIL() << "unexpected metadata type for " << key;
    }
  }
  for (const GgufTensor& t : (*f)->tensors()) {
    ASSERT_TRUE(w.AddTensor(t.name, static_cast<GgmlType>(t.ggml_type), t.ne,
                            absl::MakeConstSpan(t.data, t.bytes))
                    .ok());
  }
  absl::StatusOr<std::string> image = w.Serialize();
  ASSERT_TRUE(image.ok());
  std::ifstream in(kStoriesGguf, std::ios::binary);
  const std::string original((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  ASSERT_EQ(image->size(), original.size());
  EXPECT_TRUE(*image == original);
}

TEST(GgufWriterTest, RejectsInvalidTensorsAndWritesAtomically) {
  GgufWriter w;
  const std::vector<float> v(33, 1.0f);
  EXPECT_FALSE(w.AddTensorFromF32("q", GgmlType::kQ8_0, {33}, v).ok());
  EXPECT_FALSE(w.AddTensorFromF32("a", GgmlType::kF32, {32}, v).ok());  // 33 values for 32
  EXPECT_FALSE(w.AddTensorFromF32("z", GgmlType::kF32, {0}, {}).ok());
  ASSERT_TRUE(w.AddTensorFromF32("ok", GgmlType::kF32, {33}, v).ok());
  EXPECT_THAT(std::string(w.AddTensorFromF32("ok", GgmlType::kF32, {33}, v).message()),
              HasSubstr("duplicate tensor 'ok'"));
  EXPECT_FALSE(w.AddTensor("q4", static_cast<GgmlType>(12), {32}, {}).ok());
  const auto path = TempDir() / "written.gguf";
  ASSERT_TRUE(w.WriteFile(path.string()).ok());
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(path.string());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->tensors().size(), 1u);
  EXPECT_FALSE(GgufWriter(GgufWriter::Options{.alignment = 48}).Serialize().ok());
}

// ---------------------------------------------------------------------------------------------
// Hostile input

void ExpectError(const absl::Status& s, absl::StatusCode code, std::string_view needle) {
  EXPECT_EQ(s.code(), code) << s;
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("hostile.gguf"), HasSubstr(std::string(needle))));
}

TEST(GgufHostileTest, EmptyFileOnDisk) {
  const auto path = TempDir() / "empty.gguf";
  WriteBytes(path, "");
  absl::Status s = GgufFile::Open(path.string()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr(path.string()), HasSubstr("0 bytes")));
}

TEST(GgufHostileTest, WrongMagic) {
  ExpectError(ParseStatus("GGML" + std::string(20, '\0')), absl::StatusCode::kInvalidArgument,
              "not a GGUF file");
}

TEST(GgufHostileTest, UnsupportedVersions) {
  for (uint32_t version : {0u, 1u, 4u, 0xffffffffu}) {
    ExpectError(ParseStatus(Bytes().Header(version, 0, 0).str()),
                absl::StatusCode::kInvalidArgument,
                "GGUF version " + std::to_string(version) + " is not supported");
  }
  EXPECT_TRUE(ParseStatus(Bytes().Header(2, 0, 0).str()).ok());
  EXPECT_TRUE(ParseStatus(Bytes().Header(3, 0, 0).str()).ok());
}

TEST(GgufHostileTest, TruncatedAtEveryByte) {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetArray("tokens", GgufArray::Strings(std::vector<std::string>{"a", "bc"}));
  w.SetArray("nested", GgufArray::Arrays({GgufArray::Of<uint16_t>(std::vector<uint16_t>{1, 2})}));
  w.SetFloat64("x", 2.0);
  const std::vector<float> v(8, 0.5f);  // 32 bytes: the file ends exactly at the data's end
  ASSERT_TRUE(w.AddTensorFromF32("a", GgmlType::kF32, {8}, v).ok());
  ASSERT_TRUE(w.AddTensorFromF32("b", GgmlType::kF32, {4, 2}, v).ok());
  const std::string image = *w.Serialize();
  ASSERT_TRUE(ParseStatus(image).ok());
  for (size_t n = 0; n < image.size(); ++n) {
    absl::Status s = ParseStatus(image.substr(0, n));
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << "prefix " << n << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("hostile.gguf")) << n;
  }
}

TEST(GgufHostileTest, StringLengthPastEnd) {
  ExpectError(ParseStatus(Bytes().Header(3, 0, 1).U64(1000).Zeros(20).str()),
              absl::StatusCode::kDataLoss, "claims 1000 bytes");
  ExpectError(ParseStatus(Bytes().Header(3, 0, 1).Str("k").U32(8).U64(~uint64_t{0}).str()),
              absl::StatusCode::kDataLoss, "string value of 'k'");
}

TEST(GgufHostileTest, AbsurdCounts) {
  ExpectError(
      ParseStatus(Bytes().Header(3, 0, 1).Str("arr").U32(9).U32(4).U64(uint64_t{1} << 62).str()),
      absl::StatusCode::kDataLoss, "array 'arr' claims 4611686018427387904 UINT32 elements");
  ExpectError(ParseStatus(Bytes().Header(3, 0, 1).Str("s").U32(9).U32(8).U64(1000).Zeros(64).str()),
              absl::StatusCode::kDataLoss, "claims 1000 STRING elements");
  ExpectError(ParseStatus(Bytes().Header(3, uint64_t{1} << 40, 0).Zeros(64).str()),
              absl::StatusCode::kDataLoss, "tensor count 1099511627776");
  ExpectError(ParseStatus(Bytes().Header(3, 0, ~uint64_t{0}).str()), absl::StatusCode::kDataLoss,
              "metadata count");
}

TEST(GgufHostileTest, BadValueTypesAndDeepNesting) {
  ExpectError(ParseStatus(Bytes().Header(3, 0, 1).Str("k").U32(13).U64(0).str()),
              absl::StatusCode::kDataLoss, "invalid value type 13");
  ExpectError(ParseStatus(Bytes().Header(3, 0, 1).Str("k").U32(9).U32(99).U64(0).str()),
              absl::StatusCode::kDataLoss, "invalid element type 99");
  Bytes deep;
  deep.Header(3, 0, 1).Str("deep").U32(9);
  for (int k = 0; k < 100; ++k) deep.U32(9).U64(1);
  ExpectError(ParseStatus(deep.str()), absl::StatusCode::kInvalidArgument, "deeper than 8");
}

TEST(GgufHostileTest, DuplicateKey) {
  ExpectError(ParseStatus(Bytes().Header(3, 0, 2).KvU32("k", 1).KvU32("k", 2).str()),
              absl::StatusCode::kDataLoss, "duplicate metadata key 'k'");
}

// One tensor info `t` followed by a data section of `data_bytes` zero bytes.
std::string OneTensor(std::vector<uint64_t> ne, uint32_t type, uint64_t offset,
                      size_t data_bytes = 64) {
  return Bytes()
      .Header(3, 1, 0)
      .Tensor("t", std::move(ne), type, offset)
      .PadTo(32)
      .Zeros(data_bytes)
      .str();
}

TEST(GgufHostileTest, TensorDims) {
  EXPECT_TRUE(ParseStatus(OneTensor({4, 4}, 0, 0)).ok());
  ExpectError(ParseStatus(OneTensor({1, 1, 1, 1, 1}, 0, 0)), absl::StatusCode::kDataLoss,
              "n_dims = 5");
  ExpectError(ParseStatus(OneTensor({}, 0, 0)), absl::StatusCode::kDataLoss, "n_dims = 0");
  ExpectError(ParseStatus(OneTensor({4, 0}, 0, 0)), absl::StatusCode::kDataLoss, "ne[1] = 0");
  ExpectError(ParseStatus(OneTensor({uint64_t{1} << 63}, 0, 0)), absl::StatusCode::kDataLoss,
              "ne[0] = 9223372036854775808");
  ExpectError(ParseStatus(OneTensor({uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0)),
              absl::StatusCode::kDataLoss, "overflows");
  // 2^60 elements (2^62 bytes) are a valid size that the file does not hold; 2^62 elements x 4
  // bytes overflows u64.
  ExpectError(ParseStatus(OneTensor({uint64_t{1} << 30, uint64_t{1} << 30}, 0, 0)),
              absl::StatusCode::kDataLoss, "ends past the end");
  ExpectError(ParseStatus(OneTensor({uint64_t{1} << 62}, 0, 0)), absl::StatusCode::kDataLoss,
              "no valid byte size");
  ExpectError(ParseStatus(OneTensor({33}, 8, 0)), absl::StatusCode::kDataLoss,
              "not a multiple of Q8_0's block of 32");
}

TEST(GgufHostileTest, TensorOffsets) {
  EXPECT_TRUE(ParseStatus(OneTensor({8}, 0, 32, 64)).ok());
  ExpectError(ParseStatus(OneTensor({16}, 0, 32, 64)), absl::StatusCode::kDataLoss,
              "ends past the end");
  ExpectError(ParseStatus(OneTensor({16}, 0, 64, 64)), absl::StatusCode::kDataLoss,
              "ends past the end");
  ExpectError(ParseStatus(OneTensor({16}, 0, ~uint64_t{0} - 31, 64)), absl::StatusCode::kDataLoss,
              "ends past the end");
  ExpectError(ParseStatus(OneTensor({16}, 0, 4, 64)), absl::StatusCode::kDataLoss,
              "offset 4, not a multiple of the alignment 32");
}

TEST(GgufHostileTest, Alignment) {
  auto with_alignment = [](uint32_t type, uint64_t value) {
    Bytes b;
    b.Header(3, 0, 1).Str("general.alignment").U32(type);
    if (type == 4)
      b.U32(static_cast<uint32_t>(value));
    else
      b.U64(value);
    return ParseStatus(b.str());
  };
  ExpectError(with_alignment(4, 48), absl::StatusCode::kDataLoss, "not a power of two");
  ExpectError(with_alignment(4, 0), absl::StatusCode::kDataLoss, "not a power of two");
  ExpectError(with_alignment(10, uint64_t{1} << 40), absl::StatusCode::kDataLoss,
              "not a power of two");
  EXPECT_TRUE(with_alignment(4, 16).ok());
  ExpectError(ParseStatus(Bytes().Header(3, 0, 1).Str("general.alignment").U32(8).Str("x").str()),
              absl::StatusCode::kDataLoss, "general.alignment");
}

TEST(GgufHostileTest, DuplicateTensorName) {
  ExpectError(ParseStatus(Bytes()
                              .Header(3, 2, 0)
                              .Tensor("w", {8}, 0, 0)
                              .Tensor("w", {8}, 0, 32)
                              .PadTo(32)
                              .Zeros(64)
                              .str()),
              absl::StatusCode::kDataLoss, "duplicate tensor name 'w'");
}

TEST(GgufHostileTest, UnsupportedTensorTypeIsNamed) {
  ExpectError(ParseStatus(OneTensor({256}, 10, 0, 256)), absl::StatusCode::kInvalidArgument,
              "tensor 't' has type Q2_K (10)");
  ExpectError(ParseStatus(OneTensor({256}, 20, 0, 256)), absl::StatusCode::kInvalidArgument,
              "IQ4_NL (20)");
  ExpectError(ParseStatus(OneTensor({256}, 1234, 0, 256)), absl::StatusCode::kInvalidArgument,
              "unknown (1234)");
}

// The block types: a row must be whole blocks (Q5_0's 32 values divide kvb-docs-12M's 384, Q4_K's
// 256 do not), and a tensor's blocks must all be in the file.
TEST(GgufHostileTest, BlockTypeSizes) {
  struct Case {
    uint32_t type;
    uint64_t ne0, block_bytes;
  };
  for (const Case& c : {Case{2, 32, 18}, Case{3, 32, 20}, Case{6, 32, 22}, Case{7, 32, 24},
                        Case{12, 256, 144}, Case{13, 256, 176}, Case{14, 256, 210}}) {
    std::vector<std::byte> storage;
    absl::StatusOr<std::unique_ptr<GgufFile>> f =
        ParseImage(OneTensor({c.ne0 * 3, 2}, c.type, 0, 6 * c.block_bytes), &storage);
    ASSERT_TRUE(f.ok()) << c.type << ": " << f.status();
    EXPECT_EQ((*f)->tensors()[0].bytes, 6 * c.block_bytes) << c.type;
    // One byte short: the last block is truncated.
    ExpectError(ParseStatus(OneTensor({c.ne0 * 3, 2}, c.type, 0, 6 * c.block_bytes - 1)),
                absl::StatusCode::kDataLoss, "tensor 't' (" + std::to_string(6 * c.block_bytes));
  }
  EXPECT_TRUE(ParseStatus(OneTensor({384}, 6, 0, 12 * 22)).ok());  // Q5_0, rows of 384
  ExpectError(ParseStatus(OneTensor({384}, 12, 0, 2 * 144)), absl::StatusCode::kDataLoss,
              "ne[0] is not a multiple of Q4_K's block of 256");
  ExpectError(ParseStatus(OneTensor({384, 2}, 14, 0, 4 * 210)), absl::StatusCode::kDataLoss,
              "ne[0] is not a multiple of Q6_K's block of 256");
}

TEST(GgufHostileTest, RandomCorruptionNeverCrashes) {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetArray("tokens", GgufArray::Strings(std::vector<std::string>{"a", "bc", "def"}));
  w.SetArray("nested", GgufArray::Arrays({GgufArray::Of<int32_t>(std::vector<int32_t>{1})}));
  const std::vector<float> v(64, 0.5f);
  ASSERT_TRUE(w.AddTensorFromF32("a", GgmlType::kQ8_0, {32, 2}, v).ok());
  ASSERT_TRUE(w.AddTensorFromF32("b", GgmlType::kF16, {8, 8}, v).ok());
  const std::string image = *w.Serialize();
  std::mt19937 rng(1234);
  int failures = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bad = image;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const size_t at =
          rng() %
          std::min<size_t>(200, image.size());  // the header and infos, where the structure lives
      bad[at] = static_cast<char>(rng() % 2 ? rng() : bad[at] ^ (1 << (rng() % 8)));
    }
    absl::Status s = ParseStatus(bad);
    if (!s.ok()) {
      ++failures;
      EXPECT_FALSE(s.message().empty());
    }
  }
  EXPECT_GT(failures, 1000);  // most corruptions of the structure are detected
}

// ---------------------------------------------------------------------------------------------
// LoadGgufModel

TEST(GgufModelTest, LoadsStories260K) {
  absl::StatusOr<std::unique_ptr<Model>> m = LoadGgufModel(kStoriesGguf);
  ASSERT_TRUE(m.ok()) << m.status() << " (the shared model is required)";
  const ModelConfig& c = (*m)->config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.context_length, 2048);
  EXPECT_EQ(c.rope_dims, 8);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_FLOAT_EQ(c.rms_eps, 1e-5f);
  EXPECT_EQ((*m)->format, "gguf");
  EXPECT_EQ((*m)->tensors.size(), 48u);
  EXPECT_EQ((*m)->tensors[0].name, "token_embd.weight");
  EXPECT_EQ((*m)->tensors[0].shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ((*m)->tensors[0].bytes, 512u * 64 * 4);
  ASSERT_EQ((*m)->mappings.size(), 1u);
  const MappedFile& map = *(*m)->mappings[0];
  const std::byte* wq = (*m)->weights.layers[4].wq.data;
  EXPECT_TRUE(wq >= map.data() &&
              wq + (*m)->weights.layers[4].wq.bytes() <= map.data() + map.size());
  EXPECT_TRUE((*m)->owned.empty());  // all F32: nothing copied
  ASSERT_NE((*m)->tokenizer, nullptr);
  EXPECT_EQ((*m)->tokenizer->vocab_size(), 512);
  EXPECT_EQ((*m)->tokenizer->bos_id(), 1);
  EXPECT_EQ((*m)->tokenizer->eos_id(), 2);
  EXPECT_EQ((*m)->tokenizer->Piece(1), "<s>");
}

// A small llama GGUF in mixed dtypes, built from a recipe tests can vary.
struct SynthRecipe {
  std::string architecture = "llama";
  std::string tokenizer_model = "llama";
  GgmlType matrix_type = GgmlType::kQ8_0;
  GgmlType norm_type = GgmlType::kF16;
  bool with_output = false;
  std::string skip_tensor = "";
  std::string extra_tensor = "";
  int wrong_rows_for_attn_k = 0;
};

constexpr int kDim = 32, kLayers = 2, kHeads = 4, kKvHeads = 2, kHidden = 64;

std::vector<float> Values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-64, 64);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng) / 32.0f;  // exact in F16 and BF16
  return v;
}

std::string WriteSynthetic(const SynthRecipe& r, const std::string& filename) {
  absl::StatusOr<std::unique_ptr<GgufFile>> stories = GgufFile::Open(kStoriesGguf);
  EXPECT_TRUE(stories.ok()) << stories.status();
  GgufWriter w;
  w.SetString("general.architecture", r.architecture);
  w.SetUint32("llama.embedding_length", kDim);
  w.SetUint32("llama.block_count", kLayers);
  w.SetUint32("llama.attention.head_count", kHeads);
  w.SetUint32("llama.attention.head_count_kv", kKvHeads);
  w.SetUint32("llama.feed_forward_length", kHidden);
  w.SetUint64("llama.context_length", 256);  // any integer type is accepted
  w.SetFloat32("llama.rope.freq_base", 500000.0f);
  w.SetFloat32("llama.attention.layer_norm_rms_epsilon", 1e-6f);
  w.SetString("tokenizer.ggml.model", r.tokenizer_model);
  w.SetArray("tokenizer.ggml.tokens",
             GgufArray::Strings(*(*stories)->GetStringArray("tokenizer.ggml.tokens")));
  w.SetArray("tokenizer.ggml.scores",
             GgufArray::Of<float>(*(*stories)->GetFloatArray("tokenizer.ggml.scores")));
  const std::vector<int64_t> wide_types = *(*stories)->GetIntArray("tokenizer.ggml.token_type");
  const std::vector<int32_t> types(wide_types.begin(), wide_types.end());
  w.SetArray("tokenizer.ggml.token_type", GgufArray::Of<int32_t>(types));
  w.SetUint32("tokenizer.ggml.bos_token_id", 1);
  w.SetUint32("tokenizer.ggml.eos_token_id", 2);
  uint32_t seed = 0;
  auto add = [&](const std::string& name, GgmlType type, uint64_t cols, uint64_t rows) {
    if (name == r.skip_tensor) return;
    std::vector<uint64_t> ne =
        rows == 0 ? std::vector<uint64_t>{cols} : std::vector<uint64_t>{cols, rows};
    absl::Status s =
        w.AddTensorFromF32(name, type, ne, Values(cols * std::max<uint64_t>(rows, 1), ++seed));
    EXPECT_TRUE(s.ok()) << s;
  };
  add("token_embd.weight", GgmlType::kF32, kDim, 512);
  add("output_norm.weight", r.norm_type, kDim, 0);
  if (r.with_output) add("output.weight", r.matrix_type, kDim, 512);
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", r.norm_type, kDim, 0);
    add(p + "attn_q.weight", r.matrix_type, kDim, kDim);
    add(p + "attn_k.weight", r.matrix_type, kDim, kDim / 2 + r.wrong_rows_for_attn_k);
    add(p + "attn_v.weight", r.matrix_type, kDim, kDim / 2);
    add(p + "attn_output.weight", r.matrix_type, kDim, kDim);
    add(p + "ffn_norm.weight", r.norm_type, kDim, 0);
    add(p + "ffn_gate.weight", r.matrix_type, kDim, kHidden);
    add(p + "ffn_up.weight", r.matrix_type, kDim, kHidden);
    add(p + "ffn_down.weight", r.matrix_type, kHidden, kDim);
  }
  if (!r.extra_tensor.empty()) add(r.extra_tensor, GgmlType::kF32, kDim, 0);
  const std::string path = (TempDir() / filename).string();
  absl::Status s = w.WriteFile(path);
  EXPECT_TRUE(s.ok()) << s;
  return path;
}

TEST(GgufModelTest, LoadsMixedDtypesWithoutCopyingMatrices) {
  for (GgmlType norm_type : {GgmlType::kF16, GgmlType::kBF16, GgmlType::kF32}) {
    SynthRecipe r{.matrix_type = GgmlType::kQ8_0, .norm_type = norm_type};
    const std::string path = WriteSynthetic(r, "synth.gguf");
    absl::StatusOr<std::unique_ptr<Model>> m = LoadGgufModel(path);
    ASSERT_TRUE(m.ok()) << m.status();
    const ModelConfig& c = (*m)->config;
    EXPECT_EQ(c.n_kv_heads, kKvHeads);
    EXPECT_EQ(c.head_dim, 8);
    EXPECT_EQ(c.rope_dims, 8);  // default: head_dim
    EXPECT_EQ(c.context_length, 256);
    EXPECT_EQ(c.rope_theta, 500000.0f);
    EXPECT_EQ(c.rms_eps, 1e-6f);
    const ModelWeights& w = (*m)->weights;
    EXPECT_EQ(w.classifier.data, w.token_embedding.data);  // no output.weight: tied
    EXPECT_EQ(w.layers[1].wk.dtype, DType::kQ8_0);
    EXPECT_EQ(w.layers[1].wk.rows, 16);
    EXPECT_EQ(w.layers[1].w_down.cols, kHidden);
    const MappedFile& map = *(*m)->mappings[0];
    EXPECT_GE(w.layers[1].w_down.data, map.data());
    EXPECT_LE(w.layers[1].w_down.data + w.layers[1].w_down.bytes(), map.data() + map.size());
    // Norms are f32 whatever the file stores; the values are exact in every format.
    const std::vector<float> expected = Values(kDim, 2);  // output_norm is the 2nd tensor added
    EXPECT_EQ(std::vector<float>(w.final_norm, w.final_norm + kDim), expected);
    EXPECT_EQ((*m)->owned.size(), norm_type == GgmlType::kF32 ? 0u : 1u + 2u * kLayers);
    EXPECT_EQ((*m)->tensors[1].type, norm_type == GgmlType::kF32   ? "F32"
                                     : norm_type == GgmlType::kF16 ? "F16"
                                                                   : "BF16");
  }
}

TEST(GgufModelTest, UntiedClassifierAndBf16Matrices) {
  const std::string path =
      WriteSynthetic({.matrix_type = GgmlType::kBF16, .with_output = true}, "untied.gguf");
  absl::StatusOr<std::unique_ptr<Model>> m = LoadGgufModel(path);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_NE((*m)->weights.classifier.data, (*m)->weights.token_embedding.data);
  EXPECT_EQ((*m)->weights.classifier.dtype, DType::kBF16);
  EXPECT_EQ((*m)->weights.classifier.rows, 512);
}

void ExpectLoadError(const SynthRecipe& r, absl::StatusCode code, const std::string& needle) {
  const std::string path = WriteSynthetic(r, "bad.gguf");
  absl::Status s = LoadGgufModel(path).status();
  EXPECT_EQ(s.code(), code) << s;
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr(path), HasSubstr(needle)));
}

TEST(GgufModelTest, RejectsWhatTheDecoderCannotRun) {
  ExpectLoadError({.architecture = "gpt2"}, absl::StatusCode::kInvalidArgument, "\"gpt2\"");
  ExpectLoadError({.tokenizer_model = "rwkv"}, absl::StatusCode::kInvalidArgument,
                  "tokenizer.ggml.model is \"rwkv\"");
  ExpectLoadError({.skip_tensor = "blk.1.ffn_up.weight"}, absl::StatusCode::kInvalidArgument,
                  "'blk.1.ffn_up.weight' is missing");
  ExpectLoadError({.extra_tensor = "blk.0.attn_q.bias"}, absl::StatusCode::kInvalidArgument,
                  "'blk.0.attn_q.bias' is not part of");
  ExpectLoadError({.wrong_rows_for_attn_k = 1}, absl::StatusCode::kInvalidArgument,
                  "'blk.0.attn_k.weight' has ne = [32, 17], expected [32, 16]");
}

}  // namespace
}  // namespace kvbench
