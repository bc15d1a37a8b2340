// Byte-level BPE: the alphabet, the Split pre-tokenizer's behaviours, kvb-docs-12M's
// tokenizer.json against Hugging Face tokenizers' ids (oracle/tokenizer_ids.json), the same
// vocabulary read from the Q4_K_M GGUF (`gpt2` model, pre "llama-bpe"), and hostile inputs.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "formats/gguf.h"
#include "formats/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "text/byte_level.h"
#include "text/gguf_bpe.h"
#include "text/hf_tokenizer.h"
#include "text/regex_split.h"

namespace kvbench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kModelDir = std::string(KVBENCH_SHARED_DIR) + "/models/kvb-docs-12M";

TEST(ByteLevelAlphabet, MapsEveryByteToOnePrintableCodePointAndBack) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  std::string spelled;
  AppendByteLevel(all_bytes, &spelled);
  // 188 bytes stand for themselves (94 ASCII in one byte, 94 Latin-1 in two), 68 move to
  // U+0100..U+0143 (two bytes each).
  EXPECT_EQ(spelled.size(), 94 + 2 * (256 - 94));
  std::string back;
  ASSERT_TRUE(AppendBytesOfByteLevel(spelled, &back));
  EXPECT_EQ(back, all_bytes);
  std::string space, newline;
  AppendByteLevel(" ", &space);
  AppendByteLevel("\n", &newline);
  EXPECT_EQ(space, "\xC4\xA0");    // U+0120 "Ġ"
  EXPECT_EQ(newline, "\xC4\x8A");  // U+010A "Ċ"
  std::string out = "kept";
  EXPECT_FALSE(AppendBytesOfByteLevel("a\xE2\x96\x81", &out));  // "▁" is outside the alphabet
  EXPECT_FALSE(AppendBytesOfByteLevel("\xC1\x81", &out));       // overlong "A"
  EXPECT_EQ(out, "kept");
}

std::vector<std::string> SplitWith(std::string_view pattern, bool literal, SplitBehavior behavior,
                                   std::string_view text, bool invert = false) {
  auto splitter = RegexSplitter::Create({.pattern = std::string(pattern),
                                         .literal = literal,
                                         .behavior = behavior,
                                         .invert = invert});
  EXPECT_TRUE(splitter.ok()) << splitter.status();
  std::vector<std::string_view> views;
  (*splitter)->Split(text, &views);
  return std::vector<std::string>(views.begin(), views.end());
}

// The cases of tokenizers' split.rs tests.
TEST(RegexSplitter, BehavioursAsTokenizersDefinesThem) {
  const std::string_view text = "How are you doing?";
  EXPECT_THAT(SplitWith(" ", true, SplitBehavior::kRemoved, text),
              ElementsAre("How", "are", "you", "doing?"));
  EXPECT_THAT(SplitWith(" ", true, SplitBehavior::kIsolated, text),
              ElementsAre("How", " ", "are", " ", "you", " ", "doing?"));
  EXPECT_THAT(SplitWith(" ", true, SplitBehavior::kMergedWithPrevious, text),
              ElementsAre("How ", "are ", "you ", "doing?"));
  EXPECT_THAT(SplitWith(" ", true, SplitBehavior::kMergedWithNext, text),
              ElementsAre("How", " are", " you", " doing?"));
  EXPECT_THAT(SplitWith("-", true, SplitBehavior::kContiguous, "The-final--countdown"),
              ElementsAre("The", "-", "final", "--", "countdown"));
  // invert: the matches are the pieces, what lies between them the delimiters.
  EXPECT_THAT(SplitWith(R"(\w+)", false, SplitBehavior::kRemoved, "Hey, man!", true),
              ElementsAre("Hey", "man"));
  EXPECT_THAT(SplitWith(R"(\w+)", false, SplitBehavior::kMergedWithNext, "Hey, man!", true),
              ElementsAre("Hey", ", man", "!"));
  // A literal pattern is not a regex; \p{L} is Unicode-aware.
  EXPECT_THAT(SplitWith(".", true, SplitBehavior::kRemoved, "a.b.c"), ElementsAre("a", "b", "c"));
  EXPECT_THAT(SplitWith(R"(\p{L}+)", false, SplitBehavior::kIsolated, "日本語 42"),
              ElementsAre("日本語", " 42"));
  // Empty matches cut between characters (as tokenizers' find_matches does: "x*" matches at 0, 1,
  // 2..3 and 4) and do not stall; bytes that are not UTF-8 never match.
  EXPECT_THAT(SplitWith("x*", false, SplitBehavior::kRemoved, "abxc"), ElementsAre("a", "b", "c"));
  EXPECT_THAT(SplitWith(R"(\p{L}+)", false, SplitBehavior::kIsolated,
                        "ab\xFF\xC3"
                        "cd"),
              ElementsAre("ab", "\xFF\xC3", "cd"));
}

TEST(RegexSplitter, MalformedPatternsAreNamedErrors) {
  auto bad = RegexSplitter::Create({.pattern = "(?i:'s|[a-"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("regex \"(?i:'s|[a-\" at offset"));
  EXPECT_EQ(RegexSplitter::Create({.pattern = ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ParseSplitBehavior("Merged").status().message(),
              HasSubstr("split behavior \"Merged\" is unknown"));
}

struct OracleText {
  std::string name;
  std::string text;
  std::vector<int> ids;
};

std::vector<OracleText> ReadOracle() {
  auto root = ParseJsonFile(kModelDir + "/oracle/tokenizer_ids.json");
  EXPECT_TRUE(root.ok()) << root.status();
  std::vector<OracleText> texts;
  for (const char* group : {"val", "tricky"}) {
    const Json& list = (*root)[group];
    for (size_t i = 0; i < list.size(); ++i) {
      texts.push_back({absl::StrCat(group, "[", i, "]"), list[i]["text"].get<std::string>(),
                       list[i]["ids"].get<std::vector<int>>()});
    }
  }
  return texts;
}

class KvbDocsTokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto hf = HfBpeTokenizer::FromFile(kModelDir + "/tokenizer.json");
    ASSERT_TRUE(hf.ok()) << hf.status();
    hf_ = hf->release();
    auto file = GgufFile::Open(kModelDir + "/kvb-docs-12M-Q4_K_M.gguf");
    ASSERT_TRUE(file.ok()) << file.status();
    auto vocab = ReadGgufBpeVocab(**file);
    ASSERT_TRUE(vocab.ok()) << vocab.status();
    ASSERT_EQ(vocab->pre, "llama-bpe");
    auto gguf = BuildGgufBpeTokenizer(*vocab, "kvb-docs-12M-Q4_K_M.gguf tokenizer.ggml");
    ASSERT_TRUE(gguf.ok()) << gguf.status();
    gguf_ = gguf->release();
  }
  static void TearDownTestSuite() {
    delete hf_;
    delete gguf_;
  }
  static HfBpeTokenizer* hf_;
  static HfBpeTokenizer* gguf_;
};
HfBpeTokenizer* KvbDocsTokenizerTest::hf_ = nullptr;
HfBpeTokenizer* KvbDocsTokenizerTest::gguf_ = nullptr;

TEST_F(KvbDocsTokenizerTest, TokenizerJsonEqualsHuggingFaceOnEveryOracleText) {
  const std::vector<OracleText> texts = ReadOracle();
  ASSERT_EQ(texts.size(), 30u);
  for (const OracleText& t : texts) {
    EXPECT_EQ(hf_->Encode(t.text, false), t.ids) << t.name;
  }
  EXPECT_EQ(hf_->vocab_size(), 8192);
  EXPECT_EQ(hf_->bos_id(), 0);
  EXPECT_EQ(hf_->Encode("Hello", true).front(), 0);  // TemplateProcessing's BOS
}

TEST_F(KvbDocsTokenizerTest, GgufVocabularyEncodesAsTheTokenizerJson) {
  EXPECT_EQ(gguf_->vocab_size(), hf_->vocab_size());
  EXPECT_EQ(gguf_->bos_id(), hf_->bos_id());
  for (const OracleText& t : ReadOracle()) {
    EXPECT_EQ(gguf_->Encode(t.text, false), t.ids) << t.name;
  }
}

TEST_F(KvbDocsTokenizerTest, DecodeInvertsEncodeForAnyBytes) {
  for (const OracleText& t : ReadOracle()) {
    EXPECT_EQ(hf_->Decode(t.ids, /*skip_special_tokens=*/false), t.text) << t.name;
  }
  // Not UTF-8, control bytes, a lone continuation byte, NUL: still one token per byte or better.
  const std::string hostile("\xFF\xFE a\x80\x00z \xF0\x9F\x99", 11);
  for (const HfBpeTokenizer* tok : {hf_, gguf_}) {
    EXPECT_EQ(tok->Decode(tok->Encode(hostile, false)), hostile);
    EXPECT_TRUE(tok->Encode("", false).empty());
  }
  EXPECT_EQ(hf_->Decode({0, 5561, 316, 5363, 1801, 1}), "Hello world");  // specials skipped
  // Long runs (one 200 kB word, 200 kB of spaces, of newlines and spaces) go through the regex
  // and the merges whole.
  std::string mixed;
  for (int i = 0; i < 50000; ++i) mixed += "\n \t";
  for (const std::string& run : {std::string(200000, 'a'), std::string(200000, ' '), mixed}) {
    const std::vector<int> ids = hf_->Encode(run, false);
    EXPECT_LE(ids.size(), run.size());
    EXPECT_EQ(hf_->Decode(ids), run);
  }
}

class GgufBpeVocabTest : public ::testing::Test {
 protected:
  // "a", "b", "ab", " " (as "Ġ") and a control token; one merge.
  GgufBpeVocab Small() {
    return {.tokens = {"<s>", "a", "b", "ab", "\xC4\xA0"},
            .merges = {"a b"},
            .token_types = {3, 1, 1, 1, 1},
            .bos_id = 0,
            .eos_id = -1,
            .pre = "gpt-2"};
  }
  std::string Error(const GgufBpeVocab& vocab) {
    auto tok = BuildGgufBpeTokenizer(vocab, "t.gguf tokenizer.ggml");
    if (tok.ok()) return "ok";
    EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(tok.status().message());
  }
};

TEST_F(GgufBpeVocabTest, BuildsAndEncodes) {
  auto tok = BuildGgufBpeTokenizer(Small(), "t.gguf tokenizer.ggml");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("ab<s>ab a", true), (std::vector<int>{0, 3, 0, 3, 4, 1}));
  EXPECT_TRUE((*tok)->IsSpecial(0));
  EXPECT_THAT((*tok)->Summary(), HasSubstr("byte-level"));
}

// Each pre-tokenizer name cuts digits its own way: runs of up to 3 (llama-bpe), single digits
// (qwen2, smollm), whole runs (gpt-2; default then cuts runs into threes). With the merges
// 1+2 and 12+3, "1234" is [123, 4] where "123" stays one word and [1, 2, 3, 4] where digits are
// single words.
TEST_F(GgufBpeVocabTest, PreTokenizerNamesSplitDigitsAsLlamaCppDoes) {
  GgufBpeVocab v = {.tokens = {"1", "2", "3", "4", "12", "123"}, .merges = {"1 2", "12 3"}};
  const std::vector<int> grouped = {5, 3}, single = {0, 1, 2, 3};
  for (const auto& [pre, expected] :
       {std::pair{"llama-bpe", grouped}, std::pair{"qwen2", single}, std::pair{"smollm", single},
        std::pair{"gpt-2", grouped}, std::pair{"default", grouped}}) {
    v.pre = pre;
    auto tok = BuildGgufBpeTokenizer(v, "t.gguf");
    ASSERT_TRUE(tok.ok()) << tok.status();
    EXPECT_EQ((*tok)->Encode("1234", false), expected) << pre;
  }
}

TEST_F(GgufBpeVocabTest, HostileVocabulariesAreNamedErrors) {
  GgufBpeVocab v = Small();
  v.pre = "tekken";
  EXPECT_THAT(Error(v), HasSubstr("tokenizer.ggml.pre \"tekken\" is not supported"));
  v = Small();
  v.merges = {"ab"};
  EXPECT_THAT(Error(v), HasSubstr("tokenizer.ggml.merges[0] = \"ab\" is not two tokens"));
  v.merges = {"a c"};
  EXPECT_THAT(Error(v), HasSubstr("piece \"c\" is not in model.vocab"));
  v.merges = {"b b"};
  EXPECT_THAT(Error(v), HasSubstr("merged piece \"bb\" is not in model.vocab"));
  v = Small();
  v.bos_id = 5;
  EXPECT_THAT(Error(v), HasSubstr("tokenizer.ggml.bos_token_id = 5 is outside"));
  v = Small();
  v.eos_id = -7;
  EXPECT_THAT(Error(v), HasSubstr("eos_token_id = -7"));
  v = Small();
  v.token_types.pop_back();
  EXPECT_THAT(Error(v), HasSubstr("token_type has 4 entries, tokens has 5"));
  v = Small();
  v.tokens[2] = "a";
  EXPECT_THAT(Error(v), HasSubstr("tokens[2] = \"a\" repeats tokens[1]"));
  v = Small();
  v.tokens.clear();
  v.token_types.clear();
  EXPECT_THAT(Error(v), HasSubstr("tokenizer.ggml.tokens is empty"));
}

// SmolLM's Sequence: Digits, then ByteLevel with the GPT-2 regex. With the merge 1+2, "12" is
// [1, 2] when every digit is a word of its own and [12] when runs of digits are.
TEST(HfByteLevelJson, DigitsPreTokenizer) {
  for (const auto& [individual, expected] :
       {std::pair{"true", std::vector<int>{0, 1}}, std::pair{"false", std::vector<int>{2}}}) {
    const std::string json =
        absl::StrCat(R"({"pre_tokenizer":{"type":"Sequence","pretokenizers":[)",
                     R"({"type":"Digits","individual_digits":)", individual, "},",
                     R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":true}]},)",
                     R"("model":{"type":"BPE","vocab":{"1":0,"2":1,"12":2},"merges":["1 2"]}})");
    auto tok = HfBpeTokenizer::FromJson(*ParseJson(json), "t.json");
    ASSERT_TRUE(tok.ok()) << tok.status();
    EXPECT_EQ((*tok)->Encode("12", false), expected) << individual;
  }
}

TEST(HfByteLevelJson, SplitAndByteLevelComponentsAndErrors) {
  const std::string model =
      R"("model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"Ġ":3,"Ġa":4},"merges":["a b","Ġ a"]})";
  const auto load = [&](const std::string& pre) {
    return HfBpeTokenizer::FromJson(*ParseJson("{\"pre_tokenizer\":" + pre +
                                               R"(,"decoder":{"type":"ByteLevel"},)" + model + "}"),
                                    "t.json");
  };
  // ByteLevel with add_prefix_space and the GPT-2 regex: "ab a" -> " ab" " a" -> "Ġab" "Ġa". In
  // "Ġab", a+b (rank 0) merges before Ġ+a (rank 1) could, so it is "Ġ" "ab".
  auto tok = load(R"({"type":"ByteLevel","add_prefix_space":true,"use_regex":true})");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("ab a", false), (std::vector<int>{3, 2, 4}));
  EXPECT_EQ((*tok)->Decode({3, 2, 4}), " ab a");
  const auto error = [&](const std::string& pre) {
    auto t = load(pre);
    return t.ok() ? std::string("ok") : std::string(t.status().message());
  };
  EXPECT_THAT(error(R"({"type":"Split","pattern":{"Regex":"[a-"},"behavior":"Isolated"})"),
              HasSubstr("t.json: pre_tokenizer Split: regex \"[a-\""));
  EXPECT_THAT(error(R"({"type":"Split","pattern":{"Regex":"a"},"behavior":"Sideways"})"),
              HasSubstr("split behavior \"Sideways\" is unknown"));
  EXPECT_THAT(error(R"({"type":"Split","pattern":{},"behavior":"Isolated"})"),
              HasSubstr("needs a pattern"));
  EXPECT_THAT(error(R"({"type":"Sequence","pretokenizers":[{"type":"Metaspace"},
                 {"type":"ByteLevel"}]})"),
              HasSubstr("ByteLevel after a Metaspace"));
  EXPECT_THAT(error(R"({"type":"Punctuation"})"),
              HasSubstr("pre_tokenizer \"Punctuation\" is not supported"));
}

}  // namespace
}  // namespace kvbench
