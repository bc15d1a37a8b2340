// SentencePieceTokenizer against the reference SentencePiece library (tok512.model), using the
// vocabulary llama2.c exported to tok512.bin: ids, pieces, scores, types and decoded text must
// agree on all 200 TinyStories validation stories and on edge cases.
#include "text/sp_tokenizer.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "formats/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sentencepiece_oracle.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

const std::string kModelDir = std::string(KVBENCH_SHARED_DIR) + "/models/stories260K";

class SentencePieceTokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto tok = SentencePieceTokenizer::FromLlama2cFile(kModelDir + "/tok512.bin", 512);
    ASSERT_TRUE(tok.ok()) << tok.status();
    tokenizer_ = tok->release();
    std::string error;
    oracle_ =
        kvbench::testing::SentencePieceOracle::Load(kModelDir + "/tok512.model", &error).release();
    ASSERT_NE(oracle_, nullptr) << error;
    stories_ = new std::vector<std::string>(ReadTinyStories());
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete oracle_;
    delete stories_;
  }
  static SentencePieceTokenizer* tokenizer_;
  static kvbench::testing::SentencePieceOracle* oracle_;
  static std::vector<std::string>* stories_;
};

SentencePieceTokenizer* SentencePieceTokenizerTest::tokenizer_ = nullptr;
kvbench::testing::SentencePieceOracle* SentencePieceTokenizerTest::oracle_ = nullptr;
std::vector<std::string>* SentencePieceTokenizerTest::stories_ = nullptr;

TEST_F(SentencePieceTokenizerTest, VocabularyMatchesTheSentencePieceModel) {
  ASSERT_EQ(tokenizer_->vocab_size(), oracle_->vocab_size());
  EXPECT_EQ(tokenizer_->bos_id(), oracle_->bos_id());
  EXPECT_EQ(tokenizer_->eos_id(), oracle_->eos_id());
  EXPECT_EQ(tokenizer_->unk_id(), oracle_->unk_id());
  EXPECT_TRUE(tokenizer_->byte_fallback());
  for (int id = 0; id < tokenizer_->vocab_size(); ++id) {
    SCOPED_TRACE(id);
    EXPECT_EQ(tokenizer_->Piece(id), oracle_->IdToPiece(id));
    EXPECT_EQ(tokenizer_->score(id), oracle_->score(id));
    EXPECT_EQ(tokenizer_->type(id) == SentencePieceTokenizer::kControl, oracle_->IsControl(id));
    EXPECT_EQ(tokenizer_->type(id) == SentencePieceTokenizer::kUnknown, oracle_->IsUnknown(id));
    EXPECT_EQ(tokenizer_->type(id) == SentencePieceTokenizer::kByte, oracle_->IsByte(id));
  }
  EXPECT_EQ(tokenizer_->Summary(),
            "sentencepiece (llama SPM), 512 tokens, byte fallback, bos=1 eos=2 unk=0");
}

TEST_F(SentencePieceTokenizerTest, EncodeMatchesSentencePieceOnEveryStory) {
  ASSERT_EQ(stories_->size(), 200u);
  size_t bytes = 0;
  double seconds = 0;
  for (size_t i = 0; i < stories_->size(); ++i) {
    const std::string& story = (*stories_)[i];
    const std::clock_t start = std::clock();  // CPU time: the test machine may be shared
    const std::vector<int> ids = tokenizer_->Encode(story, /*add_bos=*/false);
    seconds += static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
    bytes += story.size();
    ASSERT_EQ(ids, oracle_->Encode(story)) << "story " << i << ": " << story.substr(0, 80);
    // With newlines around it, too.
    ASSERT_EQ(tokenizer_->Encode("\n" + story + "\n", false), oracle_->Encode("\n" + story + "\n"))
        << "story " << i;
  }
  std::cout << "[ encode ] " << bytes << " bytes in " << seconds * 1e3
            << " ms: " << bytes / seconds / 1e6 << " MB/s (CPU time)\n";
  RecordProperty("encode_mb_per_s", std::to_string(bytes / seconds / 1e6));
}

TEST_F(SentencePieceTokenizerTest, EncodesTheWholeFileInOnePieceLikeSentencePiece) {
  const std::string text = ReadFile(kTinyStoriesPath);
  ASSERT_GT(text.size(), 150000u);
  const std::vector<int> ids = tokenizer_->Encode(text, /*add_bos=*/true);
  std::vector<int> expected = oracle_->Encode(text);
  expected.insert(expected.begin(), 1);
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(tokenizer_->Decode(ids), text);
}

TEST_F(SentencePieceTokenizerTest, DecodeInvertsEncodeAndMatchesSentencePiece) {
  for (size_t i = 0; i < stories_->size(); ++i) {
    const std::string& story = (*stories_)[i];
    const std::vector<int> ids = tokenizer_->Encode(story, /*add_bos=*/true);
    ASSERT_EQ(ids.front(), 1);
    EXPECT_EQ(tokenizer_->Decode(ids), story) << "story " << i;
    EXPECT_EQ(tokenizer_->Decode(ids), oracle_->Decode(ids)) << "story " << i;
  }
}

// tok512.model enables SentencePiece's remove_extra_whitespaces (leading, trailing and repeated
// spaces are dropped before encoding). llama2.c and llama.cpp, which run these models, do not
// fold whitespace, and neither do we, so that Decode(Encode(text)) == text. The library therefore
// is the oracle for the space-folded text.
std::string FoldSpaces(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out.push_back(c);
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

TEST_F(SentencePieceTokenizerTest, EdgeCasesMatchSentencePieceAndRoundTrip) {
  const std::vector<std::string> cases = {"",
                                          " ",
                                          "  ",
                                          "\n",
                                          "a",
                                          " leading",
                                          "   three leading",
                                          "trailing ",
                                          "trailing\n",
                                          "two  spaces",
                                          "line one\nline two\n\n",
                                          "tab\there",
                                          "caf\xC3\xA9",              // café
                                          "\xC3\xBC",                 // ü: not a piece
                                          "emoji \xF0\x9F\x98\x80!",  // 😀
                                          "<s> and </s> are text",
                                          "<0x41>",
                                          "\r\n",
                                          " \n ",
                                          "\xC2\xA0nbsp",
                                          "Once upon a time, there was a little girl named Lily."};
  for (const std::string& text : cases) {
    SCOPED_TRACE("text: \"" + text + "\"");
    const std::vector<int> ids = tokenizer_->Encode(text, /*add_bos=*/false);
    EXPECT_EQ(tokenizer_->Encode(FoldSpaces(text), false), oracle_->Encode(text));
    EXPECT_EQ(tokenizer_->Decode(ids), text);
    if (FoldSpaces(text) == text) {
      EXPECT_EQ(ids, oracle_->Encode(text));
      EXPECT_EQ(tokenizer_->Decode(ids), oracle_->Decode(ids));
    }
  }
  // A literal "▁" in the text is the space symbol itself: it encodes like the library and decodes
  // as a space (the one text that cannot round-trip).
  const std::string lower_block =
      "a\xE2\x96\x81"
      "b";
  EXPECT_EQ(tokenizer_->Encode(lower_block, false), oracle_->Encode(lower_block));
  EXPECT_EQ(tokenizer_->Decode(tokenizer_->Encode(lower_block, false)), "a b");
}

TEST_F(SentencePieceTokenizerTest, HandCheckedEncodings) {
  EXPECT_TRUE(tokenizer_->Encode("", false).empty());
  EXPECT_EQ(tokenizer_->Encode("", true), std::vector<int>{1});
  // "é" is piece 485 and "▁" is 410; "ü" is not a piece, so its two UTF-8 bytes fall back to
  // <0xC3> <0xBC> (byte b is id 3 + b).
  EXPECT_EQ(tokenizer_->Piece(410), kSpaceSymbol);
  EXPECT_EQ(tokenizer_->Encode("\xC3\xA9", false), (std::vector<int>{410, 485}));
  EXPECT_EQ(tokenizer_->Encode("\xC3\xBC", false), (std::vector<int>{410, 3 + 0xC3, 3 + 0xBC}));
  // An emoji is four byte tokens.
  EXPECT_EQ(tokenizer_->Encode("\xF0\x9F\x98\x80", false),
            (std::vector<int>{410, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}));
  // A newline is the byte token <0x0A> = id 13.
  const std::vector<int> newline = tokenizer_->Encode("\n", false);
  ASSERT_EQ(newline.size(), 2u);
  EXPECT_EQ(newline[1], 13);
  // " the" is piece 265 in tok512 ("▁the", score -6).
  EXPECT_EQ(tokenizer_->Encode("the", false), std::vector<int>{265});
  EXPECT_EQ(tokenizer_->Decode({1, 265, 2}), "the");
}

TEST_F(SentencePieceTokenizerTest, MalformedUtf8FallsBackToBytesAndRoundTrips) {
  // The library would substitute U+FFFD; we keep the bytes so Decode(Encode(x)) == x.
  const std::string text = "ab\xFF\xC3(\xE2\x82";
  const std::vector<int> ids = tokenizer_->Encode(text, false);
  EXPECT_EQ(tokenizer_->Decode(ids), text);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 3 + 0xFF), ids.end());
}

TEST_F(SentencePieceTokenizerTest, EveryIdDecodes) {
  for (int id = 0; id < tokenizer_->vocab_size(); ++id) {
    const std::string text = tokenizer_->Decode({id});
    const std::string piece(tokenizer_->Piece(id));
    switch (tokenizer_->type(id)) {
      case SentencePieceTokenizer::kByte:
        ASSERT_EQ(text, std::string(1, static_cast<char>(id - 3))) << piece;
        break;
      case SentencePieceTokenizer::kControl:
        EXPECT_EQ(text, "") << piece;
        break;
      case SentencePieceTokenizer::kUnknown:
        EXPECT_EQ(text, " \xE2\x81\x87 ") << piece;
        break;
      default:
        // A lone piece decodes as the library does (leading "▁" dropped, others as spaces).
        EXPECT_EQ(text, oracle_->Decode({id})) << piece;
        EXPECT_FALSE(text.empty() && piece != kSpaceSymbol) << piece;
    }
  }
  // Ids outside the vocabulary do not crash; they print as <unk> does.
  EXPECT_EQ(tokenizer_->Decode({-1, 512, 1 << 30}), " \xE2\x81\x87  \xE2\x81\x87  \xE2\x81\x87 ");
  EXPECT_EQ(tokenizer_->Piece(512), "");
}

TEST_F(SentencePieceTokenizerTest, CreateFromTypedVocabularyMatchesTheLibrary) {
  // The GGUF path: pieces, scores and explicit types (here taken from the library's model).
  SentencePieceTokenizer::Vocab vocab;
  for (int id = 0; id < oracle_->vocab_size(); ++id) {
    vocab.pieces.push_back(oracle_->IdToPiece(id));
    vocab.scores.push_back(oracle_->score(id));
    vocab.types.push_back(oracle_->IsControl(id)   ? SentencePieceTokenizer::kControl
                          : oracle_->IsUnknown(id) ? SentencePieceTokenizer::kUnknown
                          : oracle_->IsByte(id)    ? SentencePieceTokenizer::kByte
                          : oracle_->IsUnused(id)  ? SentencePieceTokenizer::kUnused
                                                   : SentencePieceTokenizer::kNormal);
  }
  auto tok = SentencePieceTokenizer::Create(std::move(vocab));
  ASSERT_TRUE(tok.ok()) << tok.status();
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ((*tok)->Encode((*stories_)[i], false), oracle_->Encode((*stories_)[i]));
  }
}

TEST(SentencePieceTokenizerCreate, RejectsInvalidVocabularies) {
  using Vocab = SentencePieceTokenizer::Vocab;
  const auto error = [](Vocab vocab) {
    auto tok = SentencePieceTokenizer::Create(std::move(vocab));
    return tok.ok() ? std::string("ok") : std::string(tok.status().message());
  };
  EXPECT_THAT(error(Vocab{}), HasSubstr("no tokens"));
  EXPECT_THAT(error(Vocab{.pieces = {"<unk>", "<s>", "</s>"}, .scores = {0, 0}}),
              HasSubstr("3 pieces but 2 scores"));
  EXPECT_THAT(error(Vocab{.pieces = {"<unk>", "<s>", "</s>"}, .scores = {0, 0, 0}, .types = {1}}),
              HasSubstr("3 pieces but 1 token types"));
  EXPECT_THAT(error(Vocab{.pieces = {"<unk>", "<s>", "</s>"}, .scores = {0, 0, 0}, .eos_id = 3}),
              HasSubstr("eos id 3 outside [0, 3)"));
  EXPECT_THAT(
      error(Vocab{.pieces = {"<unk>", "<s>", "</s>"}, .scores = {0, 0, 0}, .types = {2, 3, 9}}),
      HasSubstr("unknown type 9"));
  EXPECT_THAT(error(Vocab{.pieces = {"<unk>", "<s>", "</s>"}, .scores = {0, 0, NAN}}),
              HasSubstr("NaN score"));
  EXPECT_THAT(
      error(Vocab{
          .pieces = {"<unk>", "<s>", "</s>", "x"}, .scores = {0, 0, 0, 0}, .types = {2, 3, 3, 6}}),
      HasSubstr("type byte but is not <0xNN>"));
  EXPECT_EQ(error(Vocab{.pieces = {"<unk>", "<s>", "</s>"}, .scores = {0, 0, 0}}), "ok");
}

TEST(SentencePieceTokenizerCreate, WithoutBytePiecesUnknownCharactersBecomeUnk) {
  auto tok =
      SentencePieceTokenizer::Create({.pieces = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b",
                                                 "\xE2\x96\x81"
                                                 "a"},
                                      .scores = {0, 0, 0, -1, -2, -3, -4}});
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_FALSE((*tok)->byte_fallback());
  EXPECT_EQ((*tok)->Encode("a b?", false), (std::vector<int>{6, 3, 5, 0}));
  EXPECT_EQ((*tok)->Decode({6, 3, 5, 0}), "a b \xE2\x81\x87 ");
}

class HostileTokenizerFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kvbench_sp_tok_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& bytes) {
    const std::string path = (dir_ / "tokenizer.bin").string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  static std::string I32(int32_t v) { return std::string(reinterpret_cast<char*>(&v), 4); }
  static std::string F32(float v) { return std::string(reinterpret_cast<char*>(&v), 4); }
  static std::string Token(const std::string& piece) {
    return F32(0) + I32(static_cast<int32_t>(piece.size())) + piece;
  }
  // A token record whose length field says `length` whatever the piece is.
  static std::string Token(const std::string& piece, int32_t length) {
    return F32(0) + I32(length) + piece;
  }
  static std::string Valid() {
    return I32(7) + Token("<unk>") + Token("\n<s>\n") + Token("\n</s>\n") + Token(" a");
  }
  std::string Error(const std::string& bytes, int vocab_size) {
    auto tok = SentencePieceTokenizer::FromLlama2cFile(Write(bytes), vocab_size);
    return tok.ok() ? "ok" : tok.status().ToString();
  }
  std::filesystem::path dir_;
};

TEST_F(HostileTokenizerFileTest, AcceptsAValidFileAndNormalisesPieces) {
  auto tok = SentencePieceTokenizer::FromLlama2cFile(Write(Valid()), 4);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Piece(1), "<s>");
  EXPECT_EQ((*tok)->Piece(2), "</s>");
  EXPECT_EQ((*tok)->Piece(3),
            "\xE2\x96\x81"
            "a");
}

TEST_F(HostileTokenizerFileTest, RejectsCorruptFiles) {
  EXPECT_THAT(Error("", 4), HasSubstr("too short for the max_token_length header"));
  EXPECT_THAT(Error(I32(0), 4), HasSubstr("max_token_length 0 is not positive"));
  EXPECT_THAT(Error(I32(7), 4), HasSubstr("truncated at token 0 of 4"));
  EXPECT_THAT(Error(Valid().substr(0, Valid().size() - 1), 4),
              HasSubstr("token 3 of length 2 runs past the end of the file"));
  EXPECT_THAT(Error(I32(7) + Token("<unk>") + Token("x", -5), 4),
              HasSubstr("token 1 has length -5"));
  EXPECT_THAT(Error(I32(7) + Token("<unk>") + Token("x", 1 << 30), 4),
              HasSubstr("token 1 has length 1073741824"));
  EXPECT_THAT(Error(I32(1 << 30) + Token("<unk>") + Token("x", 1 << 30), 4),
              HasSubstr("runs past the end of the file"));
  EXPECT_THAT(Error(Valid(), 3), HasSubstr("bytes left after 3 tokens"));
  EXPECT_THAT(Error(Valid(), 0), HasSubstr("vocab_size 0"));
  EXPECT_THAT(Error(I32(7) + Token("<unk>") + Token("a") + Token("b"), 3),
              HasSubstr("no <s>/</s> tokens"));
  auto missing = SentencePieceTokenizer::FromLlama2cFile((dir_ / "nope.bin").string(), 4);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.bin"));
}

TEST(SentencePieceTokenizerOtherModels, AidreamsTokenizerRoundTrips) {
  auto tok = SentencePieceTokenizer::FromLlama2cFile(
      std::string(KVBENCH_SHARED_DIR) + "/models/aidreams260K/tok512.bin", 512);
  ASSERT_TRUE(tok.ok()) << tok.status();
  const std::vector<std::string> stories = ReadTinyStories();
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ((*tok)->Decode((*tok)->Encode(stories[i], true)), stories[i]);
  }
}

}  // namespace
}  // namespace kvbench
