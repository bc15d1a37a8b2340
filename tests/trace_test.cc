// Attention traces (sim/trace.h, sim/recorder.h): what the recorder captures from a real run, the
// file format's round trip, and hostile files.
#include "sim/trace.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "sim/recorder.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

class TraceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = LoadModel("stories260K");
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = *std::move(m);
    decoder_ = std::make_unique<Decoder>(*model_);
  }
  Trace Record(int prompt, int score, ProbFormat format, int n_seq = 2) {
    auto t =
        RecordTrace(*decoder_, PatternSequences(n_seq, prompt + score, model_->config.vocab_size),
                    {.prompt_tokens = prompt,
                     .score_tokens = score,
                     .prob_format = format,
                     .model_name = "stories260K",
                     .experiment_name = "trace_test"});
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *std::move(t) : Trace();
  }
  std::unique_ptr<Model> model_;
  std::unique_ptr<Decoder> decoder_;
};

TEST_F(TraceTest, RowsAreDistributionsAndMaxBoundsMean) {
  const Trace t = Record(12, 20, ProbFormat::kF32);
  const TraceHeader& h = t.header();
  ASSERT_EQ(h.query_positions(), 31);
  const int group = h.n_heads / h.n_kv_heads;
  for (int s = 0; s < h.n_sequences; ++s) {
    for (int q = 0; q < h.query_positions(); ++q) {
      for (int l = 0; l < h.n_layers; ++l) {
        for (int hd = 0; hd < h.n_kv_heads; ++hd) {
          const float* mean = t.Mean(s, q, l, hd);
          const float* max = t.Max(s, q, l, hd);
          double sum = 0;
          for (int j = 0; j <= q; ++j) {
            sum += mean[j];
            ASSERT_GE(max[j], mean[j] * (1 - 1e-6f));
            ASSERT_LE(max[j], mean[j] * group * (1 + 1e-6f) + 1e-30f);
          }
          ASSERT_NEAR(sum, 1.0, 1e-5)
              << "seq " << s << " q " << q << " layer " << l << " head " << hd;
        }
      }
    }
    for (int l = 0; l < h.n_layers; ++l) {
      for (int hd = 0; hd < h.n_kv_heads; ++hd) {
        for (int p = 0; p < h.query_positions(); ++p) ASSERT_GT(t.KeyNorms(s, l, hd)[p], 0.0f);
      }
    }
  }
}

// Cached == recomputed: recording the first 31 positions as one prefill block must give the rows
// that prefill-then-decode recorded (different attention code paths over the same math).
TEST_F(TraceTest, DecodeStepsRecordWhatOnePrefillRecords) {
  const Trace stepped = Record(12, 20, ProbFormat::kF32);
  const Trace block = Record(31, 1, ProbFormat::kF32);
  ASSERT_EQ(stepped.header().query_positions(), block.header().query_positions());
  const auto& a = stepped.sequences()[1];
  const auto& b = block.sequences()[1];
  ASSERT_EQ(a.probs.size(), b.probs.size());
  double worst = 0;
  for (size_t i = 0; i < a.probs.size(); ++i)
    worst = std::max(worst, std::fabs(double{a.probs[i]} - b.probs[i]));
  EXPECT_LT(worst, 2e-5);
  for (size_t i = 0; i < a.key_norm.size(); ++i)
    EXPECT_NEAR(a.key_norm[i], b.key_norm[i], 1e-4 * a.key_norm[i]);
  EXPECT_EQ(a.tokens, b.tokens);
}

TEST_F(TraceTest, RoundTripF32ExactF16WithinHalfPrecision) {
  for (ProbFormat f : {ProbFormat::kF32, ProbFormat::kF16}) {
    const Trace t = Record(8, 9, f);
    auto bytes = SerializeTrace(t);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(bytes->size(), t.header().FileBytes());
    auto back = ParseTrace(*bytes, "mem");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->header().model, "stories260K");
    EXPECT_EQ(back->header().experiment, "trace_test");
    EXPECT_EQ(back->header().n_layers, 5);
    EXPECT_EQ(back->header().n_heads, 8);
    EXPECT_EQ(back->header().n_kv_heads, 4);
    EXPECT_EQ(back->header().head_dim, 8);
    ASSERT_EQ(back->sequences().size(), 2u);
    for (size_t s = 0; s < 2; ++s) {
      EXPECT_EQ(back->sequences()[s].tokens, t.sequences()[s].tokens);
      EXPECT_EQ(back->sequences()[s].key_norm, t.sequences()[s].key_norm);
      const auto& x = t.sequences()[s].probs;
      const auto& y = back->sequences()[s].probs;
      ASSERT_EQ(x.size(), y.size());
      for (size_t i = 0; i < x.size(); ++i) {
        if (f == ProbFormat::kF32) {
          ASSERT_EQ(x[i], y[i]);
        } else {
          ASSERT_NEAR(x[i], y[i], std::max(3e-8f, x[i] * 4.9e-4f)) << i;
        }
      }
    }
  }
}

TEST_F(TraceTest, WriteIsAtomicAndReadNamesMissingFiles) {
  const Trace t = Record(4, 4, ProbFormat::kF16, 1);
  const std::string dir = ::testing::TempDir() + "/trace_test_out";
  std::filesystem::remove_all(dir);
  const std::string path = dir + "/sub/t.kvt";
  ASSERT_TRUE(WriteTrace(t, path).ok());
  auto back = ReadTrace(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->sequences()[0].tokens, t.sequences()[0].tokens);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/sub"))
    files += e.is_regular_file();
  EXPECT_EQ(files, 1) << "a temporary file was left behind";
  auto missing = ReadTrace(dir + "/nope.kvt");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.kvt"));
}

TEST_F(TraceTest, TooFewTokensIsAnError) {
  auto t =
      RecordTrace(*decoder_, PatternSequences(1, 10, 512), {.prompt_tokens = 8, .score_tokens = 8});
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("sequence 0 has 10 tokens"));
}

// --- hostile files ---

class HostileTraceTest : public TraceTest {
 protected:
  void SetUp() override {
    TraceTest::SetUp();
    auto b = SerializeTrace(Record(3, 3, ProbFormat::kF16, 1));
    ASSERT_TRUE(b.ok());
    good_ = *b;
  }
  static void PutU32(std::string* s, size_t at, uint32_t v) { std::memcpy(&(*s)[at], &v, 4); }
  absl::Status Parse(const std::string& bytes) { return ParseTrace(bytes, "bad.kvt").status(); }
  std::string good_;
};

TEST_F(HostileTraceTest, EveryTruncationIsDataLoss) {
  ASSERT_TRUE(Parse(good_).ok());
  for (size_t n = 0; n < good_.size(); ++n) {
    const absl::Status s = Parse(good_.substr(0, n));
    ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << "prefix " << n << ": " << s;
    ASSERT_THAT(s.message(), HasSubstr("bad.kvt"));
  }
  EXPECT_THAT(Parse(good_ + "x").message(), HasSubstr("trailing data"));
}

TEST_F(HostileTraceTest, HeaderFieldsAreChecked) {
  std::string s = good_;
  s[0] = 'X';
  EXPECT_THAT(Parse(s).message(), HasSubstr("magic"));
  s = good_;
  PutU32(&s, 8, 2);
  EXPECT_THAT(Parse(s).message(), HasSubstr("version 2"));
  s = good_;
  PutU32(&s, 12, 7);
  EXPECT_THAT(Parse(s).message(), HasSubstr("header_bytes"));
  s = good_;
  PutU32(&s, 16, 0);  // n_layers
  EXPECT_THAT(Parse(s).message(), HasSubstr("n_layers = 0"));
  s = good_;
  PutU32(&s, 24, 3);  // n_kv_heads 3 does not divide 8 heads
  EXPECT_THAT(Parse(s).message(), HasSubstr("not a multiple"));
  s = good_;
  PutU32(&s, 40, 0xFFFFFFFFu);  // n_sequences
  EXPECT_THAT(Parse(s).message(), HasSubstr("n_sequences"));
  s = good_;
  PutU32(&s, 40, 65536);  // in range, but the file is far too small
  EXPECT_THAT(Parse(s).message(), HasSubstr("truncated"));
  s = good_;
  PutU32(&s, 44, 3);  // prob_format
  EXPECT_THAT(Parse(s).message(), HasSubstr("prob_format 3"));
  s = good_;
  PutU32(&s, 48, 0x7FFFFFFFu);  // model name length
  EXPECT_THAT(Parse(s).message(), HasSubstr("model name length"));
}

TEST_F(HostileTraceTest, PayloadValuesAreChecked) {
  const TraceHeader h = ParseTrace(good_, "x")->header();
  const size_t header = good_.size() - h.SequenceBytes();
  std::string s = good_;
  PutU32(&s, header, 0x80000000u);  // token -2^31
  EXPECT_THAT(Parse(s).message(), HasSubstr("token id"));
  s = good_;
  const float nan = std::nanf("");
  const size_t norms = header + 4 * h.context_tokens();
  std::memcpy(&s[norms], &nan, 4);
  EXPECT_THAT(Parse(s).message(), HasSubstr("key norm"));
  s = good_;
  const size_t probs = norms + 4 * h.n_layers * h.n_kv_heads * h.query_positions();
  s[probs] = 0x00;
  s[probs + 1] = 0x7C;  // fp16 +inf
  EXPECT_THAT(Parse(s).message(), HasSubstr("not in [0, 1]"));
  s[probs + 1] = 0x40;  // fp16 2.0
  EXPECT_THAT(Parse(s).message(), HasSubstr("not in [0, 1]"));
}

TEST_F(HostileTraceTest, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(7);
  int rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string s = good_;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t at = rng() % (i % 2 == 0 ? std::min<size_t>(64, s.size()) : s.size());
      s[at] = static_cast<char>(rng());
    }
    auto t = ParseTrace(s, "fuzz");
    if (!t.ok()) {
      ++rejected;
      ASSERT_EQ(t.status().code(), absl::StatusCode::kDataLoss) << t.status();
    }
  }
  EXPECT_GT(rejected, 1000);
}

}  // namespace
}  // namespace kvbench
