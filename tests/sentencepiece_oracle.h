// The reference SentencePiece library behind an interface of standard types, for
// sp_tokenizer_test. sentencepiece_processor.h declares `absl::string_view` as an alias of
// std::string_view, which collides with Abseil's own absl::string_view, so the library is only
// included in sentencepiece_oracle.cc and never next to Abseil headers.
#ifndef KVBENCH_TESTS_SENTENCEPIECE_ORACLE_H_
#define KVBENCH_TESTS_SENTENCEPIECE_ORACLE_H_

#include <memory>
#include <string>
#include <vector>

namespace kvbench::testing {

class SentencePieceOracle {
 public:
  // nullptr (and `error` set) when the model cannot be loaded.
  static std::unique_ptr<SentencePieceOracle> Load(const std::string& model_path,
                                                   std::string* error);
  ~SentencePieceOracle();

  std::vector<int> Encode(const std::string& text) const;
  std::string Decode(const std::vector<int>& ids) const;
  int vocab_size() const;
  std::string IdToPiece(int id) const;
  float score(int id) const;
  bool IsControl(int id) const;
  bool IsUnknown(int id) const;
  bool IsByte(int id) const;
  bool IsUnused(int id) const;
  int bos_id() const;
  int eos_id() const;
  int unk_id() const;

 private:
  struct Impl;
  explicit SentencePieceOracle(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvbench::testing

#endif  // KVBENCH_TESTS_SENTENCEPIECE_ORACLE_H_
