// HfBpeTokenizer on TinyStories-656K's tokenizer.json (BPE, Prepend/Replace normalizer, decoder
// Replace/ByteFallback/Fuse/Strip), plus small hand-written tokenizer.json files for the other
// supported components and for errors. Also covers formats/json.h, which it is built on.
#include "text/hf_tokenizer.h"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "formats/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

using ::testing::HasSubstr;

const std::string kTokenizerPath =
    std::string(KVBENCH_SHARED_DIR) + "/models/tinystories656k/tokenizer.json";

class TinyStoriesTokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto tok = HfBpeTokenizer::FromFile(kTokenizerPath);
    ASSERT_TRUE(tok.ok()) << tok.status();
    tokenizer_ = tok->release();
  }
  static void TearDownTestSuite() { delete tokenizer_; }
  static HfBpeTokenizer* tokenizer_;
};
HfBpeTokenizer* TinyStoriesTokenizerTest::tokenizer_ = nullptr;

TEST_F(TinyStoriesTokenizerTest, ReadsVocabularyAndSpecialTokens) {
  EXPECT_EQ(tokenizer_->vocab_size(), 2048);
  EXPECT_EQ(tokenizer_->num_merges(), 1967);
  // BOS from the TemplateProcessing post_processor; EOS "<|end_story|>" (config.json says 2).
  EXPECT_EQ(tokenizer_->bos_id(), 1);
  EXPECT_EQ(tokenizer_->eos_id(), 2);
  EXPECT_EQ(tokenizer_->Piece(1), "<|start_story|>");
  EXPECT_EQ(tokenizer_->Piece(3), "\n");
  EXPECT_EQ(tokenizer_->Piece(108), "\xE2\x96\x81the\xE2\x96\x81");  // "▁the▁"
  EXPECT_EQ(tokenizer_->Piece(2048), "");
  EXPECT_TRUE(tokenizer_->IsSpecial(0));
  EXPECT_FALSE(tokenizer_->IsSpecial(3));
  EXPECT_EQ(tokenizer_->Summary(),
            "hf-bpe, 2048 tokens, 1967 merges, byte fallback without <0xNN> pieces (unknown "
            "characters -> <unk>), 3 added tokens, bos=1 <|start_story|> (post_processor) eos=2 "
            "<|end_story|>");
}

TEST_F(TinyStoriesTokenizerTest, HandDerivedEncodings) {
  // "the" -> "▁the": merges t+h (rank 2), th+e (rank 50); "▁"+"the" is no merge.
  EXPECT_EQ(tokenizer_->Encode("the", false), (std::vector<int>{80, 131}));
  // "the " -> "▁the▁": e+▁ (rank 0), t+h (2), th+e▁ (12), ▁+the▁ (27) = "▁the▁" (108). The
  // queued h+e▁ (rank 16) is stale by then because h was merged into th.
  EXPECT_EQ(tokenizer_->Encode("the ", false), std::vector<int>{108});
  // "a " -> "▁a▁": ▁+a (4), then ▁a+▁ (23) = 104, before a+▁ (53) could apply.
  EXPECT_EQ(tokenizer_->Encode("a ", false), std::vector<int>{104});
  EXPECT_EQ(tokenizer_->Encode("a ", true), (std::vector<int>{1, 104}));
  EXPECT_TRUE(tokenizer_->Encode("", false).empty());
  EXPECT_EQ(tokenizer_->Encode("", true), std::vector<int>{1});
  EXPECT_EQ(tokenizer_->Encode("\n", false), (std::vector<int>{80, 3}));
  // A character outside the vocabulary: byte_fallback is on but there are no <0xNN> pieces, so it
  // becomes <unk> (0), and a run of them is fused into one (fuse_unk).
  EXPECT_EQ(tokenizer_->Encode("\xC3\xA9\xC3\xA9", false), (std::vector<int>{80, 0}));
}

TEST_F(TinyStoriesTokenizerTest, RoundTripsEveryStory) {
  const std::vector<std::string> stories = ReadTinyStories();
  ASSERT_EQ(stories.size(), 200u);
  size_t bytes = 0, tokens = 0;
  double seconds = 0;
  for (size_t i = 0; i < stories.size(); ++i) {
    const std::clock_t start = std::clock();  // CPU time: the test machine may be shared
    const std::vector<int> ids = tokenizer_->Encode(stories[i], /*add_bos=*/true);
    seconds += static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
    bytes += stories[i].size();
    tokens += ids.size();
    ASSERT_EQ(ids.front(), 1);
    ASSERT_EQ(std::count(ids.begin(), ids.end(), 0), 0) << "story " << i << " has <unk>";
    ASSERT_EQ(tokenizer_->Decode(ids), stories[i]) << "story " << i;
  }
  // BPE with 2048 tokens compresses TinyStories roughly 3-5 bytes per token.
  EXPECT_GT(static_cast<double>(bytes) / tokens, 3.0);
  std::cout << "[ encode ] " << bytes << " bytes, " << tokens << " tokens in " << seconds * 1e3
            << " ms: " << bytes / seconds / 1e6 << " MB/s (CPU time)\n";
  RecordProperty("encode_mb_per_s", std::to_string(bytes / seconds / 1e6));
}

TEST_F(TinyStoriesTokenizerTest, RoundTripsTheWholeFileAndEdgeCases) {
  const std::string text = ReadFile(kTinyStoriesPath);
  EXPECT_EQ(tokenizer_->Decode(tokenizer_->Encode(text, false)), text);
  for (const std::string s : {" ", "  two leading", "trailing  ", "\n\nx\n", "a  b", "x"}) {
    EXPECT_EQ(tokenizer_->Decode(tokenizer_->Encode(s, false)), s) << "\"" << s << "\"";
  }
}

TEST_F(TinyStoriesTokenizerTest, RecognisesSpecialTokensInText) {
  // The special tokens are normalized=true, so (as in the tokenizers library) their pattern is
  // normalized too: "▁<|end_story|>", matched after a space or at the start of the text.
  const std::vector<int> ids = tokenizer_->Encode("The end. <|end_story|>", false);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.back(), 2);
  EXPECT_EQ(tokenizer_->Decode(ids), "The end.");
  EXPECT_EQ(tokenizer_->Decode(ids, /*skip_special_tokens=*/false), "The end.<|end_story|>");
  const std::vector<int> start = tokenizer_->Encode("<|start_story|>Once", false);
  ASSERT_GE(start.size(), 2u);
  EXPECT_EQ(start[0], 1);
  EXPECT_EQ(tokenizer_->Decode(start), "Once");
  // Directly after a word there is no "▁" before it: the characters are ordinary text.
  const std::vector<int> glued = tokenizer_->Encode("end<|end_story|>", false);
  EXPECT_EQ(std::count(glued.begin(), glued.end(), 2), 0);
  EXPECT_EQ(tokenizer_->Decode(glued), "end<|end_story|>");
}

TEST_F(TinyStoriesTokenizerTest, DecodeToleratesAnyIds) {
  EXPECT_EQ(tokenizer_->Decode({-1, 2048, 1 << 30}), "");
  for (int id = 0; id < tokenizer_->vocab_size(); ++id) {
    const std::string text = tokenizer_->Decode({id}, /*skip_special_tokens=*/false);
    EXPECT_FALSE(text.empty() && tokenizer_->Piece(id) != "\xE2\x96\x81") << id;
  }
}

// Small tokenizer.json files written by the tests.
class HfTokenizerFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kvbench_hf_tok_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& json) {
    const std::string path = (dir_ / "tokenizer.json").string();
    std::ofstream(path, std::ios::binary) << json;
    return path;
  }
  absl::StatusOr<std::unique_ptr<HfBpeTokenizer>> Load(const std::string& json) {
    return HfBpeTokenizer::FromFile(Write(json));
  }
  std::filesystem::path dir_;
};

// A Llama-2 style file (legacy=false): Metaspace pre-tokenizer and decoder, byte fallback with all
// 256 byte pieces, "<s>" BOS from the template, merges as [a, b] pairs.
std::string MetaspaceJson() {
  std::string vocab = R"("<unk>":0,"<s>":1,"</s>":2)";
  for (int b = 0; b < 256; ++b) {
    char piece[16];
    std::snprintf(piece, sizeof(piece), "<0x%02X>", b);
    vocab += ",\"" + std::string(piece) + "\":" + std::to_string(3 + b);
  }
  vocab += R"(,"▁":259,"h":260,"i":261,"▁h":262,"▁hi":263)";
  return R"({"added_tokens":[{"id":0,"content":"<unk>","special":true,"normalized":false},
    {"id":1,"content":"<s>","special":true,"normalized":false},
    {"id":2,"content":"</s>","special":true,"normalized":false}],
    "normalizer":null,
    "pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false},
    "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},
       {"Sequence":{"id":"A","type_id":0}}],"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}},
    "decoder":{"type":"Sequence","decoders":[{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false},
       {"type":"ByteFallback"},{"type":"Fuse"}]},
    "model":{"type":"BPE","unk_token":"<unk>","fuse_unk":true,"byte_fallback":true,
    "vocab":{)" +
         vocab + R"(},"merges":[["▁","h"],["▁h","i"]]}})";
}

TEST_F(HfTokenizerFileTest, MetaspaceByteFallbackAndPairMerges) {
  auto tok = Load(MetaspaceJson());
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->bos_id(), 1);
  EXPECT_EQ((*tok)->eos_id(), 2);  // "</s>" by name
  // "hi hi" -> "▁hi▁hi" (prepend_scheme first): two "▁hi".
  EXPECT_EQ((*tok)->Encode("hi hi", true), (std::vector<int>{1, 263, 263}));
  // "é" has no piece: bytes C3 A9 -> ids 3 + byte.
  EXPECT_EQ((*tok)->Encode("h\xC3\xA9", false), (std::vector<int>{262, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ((*tok)->Decode({1, 262, 3 + 0xC3, 3 + 0xA9, 2}), "h\xC3\xA9");
  // "</s>" is a raw (normalized=false) special token: found anywhere in the text.
  EXPECT_EQ((*tok)->Encode("hi</s>", false), (std::vector<int>{263, 2}));
  EXPECT_EQ((*tok)->Decode({263, 2}, /*skip_special_tokens=*/false), "hi</s>");
  EXPECT_TRUE((*tok)->SetSpecialIds(2, 1).ok());
  EXPECT_EQ((*tok)->bos_id(), 2);
  EXPECT_THAT((*tok)->SetSpecialIds(0, 9999).message(), HasSubstr("eos id 9999"));
}

TEST_F(HfTokenizerFileTest, RefusesUnsupportedModelTypes) {
  for (const std::string type : {"WordPiece", "Unigram", "WordLevel"}) {
    auto tok = Load(R"({"model":{"type":")" + type + R"(","vocab":{"a":0}}})");
    ASSERT_FALSE(tok.ok());
    EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(tok.status().message(), HasSubstr("model type \"" + type + "\""));
    EXPECT_THAT(tok.status().message(), HasSubstr("tokenizer.json"));
  }
}

TEST_F(HfTokenizerFileTest, RefusesUnsupportedComponentsAndBadModels) {
  const auto error = [&](const std::string& json) {
    auto tok = Load(json);
    return tok.ok() ? std::string("ok") : std::string(tok.status().message());
  };
  const std::string model =
      R"("model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]})";
  EXPECT_EQ(error("{" + model + "}"), "ok");
  EXPECT_THAT(error(R"({"pre_tokenizer":{"type":"Whitespace"},)" + model + "}"),
              HasSubstr("pre_tokenizer \"Whitespace\" is not supported"));
  EXPECT_THAT(error(R"({"normalizer":{"type":"NFKC"},)" + model + "}"),
              HasSubstr("normalizer \"NFKC\" is not supported"));
  EXPECT_THAT(error(R"({"decoder":{"type":"WordPiece"},)" + model + "}"),
              HasSubstr("decoder \"WordPiece\" is not supported"));
  EXPECT_THAT(error(R"({"normalizer":{"type":"Replace","pattern":{"Regex":" +"},"content":"▁"},)" +
                    model + "}"),
              HasSubstr("regex patterns are not supported"));
  EXPECT_THAT(error(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]}})"),
              HasSubstr("piece \"b\" is not in model.vocab"));
  EXPECT_THAT(error(R"({"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}})"),
              HasSubstr("merged piece \"ab\" is not in model.vocab"));
  EXPECT_THAT(error(R"({"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b c"]}})"),
              HasSubstr("model.merges[0] = \"a b c\""));
  EXPECT_THAT(error(R"({"model":{"type":"BPE","vocab":{"a":-1}}})"),
              HasSubstr("model.vocab[\"a\"] = -1"));
  EXPECT_THAT(error(R"({"model":{"type":"BPE","vocab":{"a":2000000000}}})"),
              HasSubstr("model.vocab[\"a\"] = 2000000000 is outside"));
  EXPECT_THAT(error(R"({"model":{"type":"BPE","vocab":{"a":0,"b":0}}})"),
              HasSubstr("gives id 0 to both"));
  EXPECT_THAT(error(R"({"model":{"type":"BPE","vocab":{"a":"zero"}}})"),
              HasSubstr("unexpected JSON value type"));
  EXPECT_THAT(error(R"({"added_tokens":[{"id":0,"content":"x"}],)" + model + "}"),
              HasSubstr("which model.vocab gives to \"a\""));
  EXPECT_THAT(error(R"({"model":{"type":"BPE","vocab":{}}})"), HasSubstr("non-empty"));
  EXPECT_THAT(error(R"({"normalizer":null})"), HasSubstr("no \"model\" object"));
}

TEST_F(HfTokenizerFileTest, MalformedJsonNamesThePath) {
  const std::string path = Write(R"({"model": {"type": "BPE", "vocab": {"a": 0,}})");
  auto tok = HfBpeTokenizer::FromFile(path);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tok.status().message(), HasSubstr(path));
  EXPECT_THAT(tok.status().message(), HasSubstr("line 1"));
  auto missing = HfBpeTokenizer::FromFile((dir_ / "missing.json").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("missing.json"));
}

TEST(ParseJson, ReadsTokenizerJsonAndSafetensorsHeaders) {
  auto root = ParseJsonFile(kTokenizerPath);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ((*root)["model"]["vocab"].size(), 2048u);
  EXPECT_EQ((*root)["model"]["vocab"]["\xE2\x96\x81the\xE2\x96\x81"], 108);
  EXPECT_EQ((*root)["model"]["vocab"]["\n"], 3);
  EXPECT_EQ((*root)["model"]["merges"].size(), 1967u);
  EXPECT_TRUE((*root)["model"]["dropout"].is_null());
  EXPECT_EQ((*root)["normalizer"]["normalizers"][0]["prepend"], "\xE2\x96\x81");

  auto header = ParseJson(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})");
  ASSERT_TRUE(header.ok()) << header.status();
  const Json& a = (*header)["a"];
  EXPECT_EQ(a["dtype"], "F32");
  EXPECT_EQ(JsonInteger<int>(a["shape"][1]), 3);
  EXPECT_EQ(JsonInteger<int64_t>(a["data_offsets"][1]), 24);
  EXPECT_EQ(JsonMember(a, "dtype"), &a["dtype"]);
  EXPECT_EQ(JsonMember(a, "missing"), nullptr);
  EXPECT_EQ(JsonMember(a["shape"], "dtype"), nullptr);  // not an object
}

TEST(ParseJson, TypedReads) {
  auto root = ParseJson(R"({"i":-3,"u":18446744073709551615,"f":1.0,"s":"1","b":true})");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(JsonInteger<int>((*root)["i"]), -3);
  EXPECT_EQ(JsonInteger<uint32_t>((*root)["i"]), std::nullopt);
  EXPECT_EQ(JsonInteger<uint64_t>((*root)["u"]), 18446744073709551615u);
  EXPECT_EQ(JsonInteger<int64_t>((*root)["u"]), std::nullopt);
  for (const char* key : {"f", "s", "b"}) EXPECT_EQ(JsonInteger<int>((*root)[key]), std::nullopt);
  EXPECT_EQ(JsonShow((*root)["s"]), "1");
  EXPECT_EQ(JsonShow((*root)["f"]), "1.0");
  EXPECT_EQ(JsonShow((*root)["b"]), "true");
  EXPECT_EQ(JsonShow(Json::array()), "a list");
}

// yaml-cpp, which read JSON before, called any key over 1024 characters malformed.
TEST(ParseJson, LongKeysParse) {
  const std::string key(5000, 'k');
  auto root = ParseJson(absl::StrCat("{\"", key, "\": 1}"));
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(JsonInteger<int>((*root)[key]), 1);
}

TEST(ParseJson, EscapesAndErrors) {
  auto escapes =
      ParseJson(R"({"e":"\u00e9","s":"\ud83d\ude00","b":"\\ud83d","q":"\"\/","n":"null"})");
  ASSERT_TRUE(escapes.ok()) << escapes.status();
  EXPECT_EQ((*escapes)["e"], "\xC3\xA9");
  EXPECT_EQ((*escapes)["s"], "\xF0\x9F\x98\x80");
  EXPECT_EQ((*escapes)["b"], "\\ud83d");
  EXPECT_EQ((*escapes)["q"], "\"/");
  EXPECT_TRUE((*escapes)["n"].is_string());
  const auto message = [](std::string_view text) {
    auto r = ParseJson(text, "x.json", /*max_depth=*/3);
    if (r.ok()) return std::string("ok");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    return std::string(r.status().message());
  };
  EXPECT_THAT(message(R"({"a":"\ud83d"})"), HasSubstr("x.json: line 1, column 13: malformed JSON"));
  EXPECT_THAT(message(R"({"a":"\ud83d"})"), HasSubstr("surrogate"));
  EXPECT_THAT(message("{\n\"a\": [1,2,}"), HasSubstr("x.json: line 2, column 11: malformed JSON"));
  EXPECT_THAT(message("{} {}"), HasSubstr("x.json: line 1, column 4: text after the JSON value"));
  EXPECT_THAT(message(""), HasSubstr("must start with"));
  EXPECT_THAT(message("key: value"), HasSubstr("must start with '{' or '['"));
  EXPECT_THAT(message("7"), HasSubstr("must start with '{' or '['"));
  EXPECT_THAT(message(R"({"a": 1, "a": 2})"), HasSubstr("x.json: key \"a\" appears twice"));
  EXPECT_THAT(message(R"({"a": {"a": 1}, "b": {"a": 2}})"), "ok");
  EXPECT_THAT(message("[[[1]]]"), "ok");
  EXPECT_THAT(message("[[[[1]]]]"), HasSubstr("nesting too deep"));
  EXPECT_THAT(message("{\"a\": \"" + std::string(100000, 'x')), HasSubstr("..."));
  EXPECT_LT(message("{\"a\": \"" + std::string(100000, 'x')).size(), 400u);
}

TEST(ParseJson, JsonLinesNameTheLine) {
  auto records = ParseJsonLines("{\"a\": 1}\n\n  \n[2]\r\n", "t.jsonl");
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].line, 1);
  EXPECT_EQ((*records)[1].line, 4);
  EXPECT_EQ((*records)[1].value[0], 2);
  auto bad = ParseJsonLines("{}\n{oops\n", "t.jsonl");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(bad.status().message(), HasSubstr("t.jsonl:2: line 1, column"));
}

}  // namespace
}  // namespace kvbench
