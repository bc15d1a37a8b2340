// No Abseil header may be included in this file (see sentencepiece_oracle.h).
#include "tests/sentencepiece_oracle.h"

#include <sentencepiece_processor.h>

namespace kvbench::testing {

struct SentencePieceOracle::Impl {
  sentencepiece::SentencePieceProcessor processor;
};

SentencePieceOracle::SentencePieceOracle(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SentencePieceOracle::~SentencePieceOracle() = default;

std::unique_ptr<SentencePieceOracle> SentencePieceOracle::Load(const std::string& model_path,
                                                               std::string* error) {
  auto impl = std::make_unique<Impl>();
  const auto status = impl->processor.Load(model_path);
  if (!status.ok()) {
    *error = status.ToString();
    return nullptr;
  }
  return std::unique_ptr<SentencePieceOracle>(new SentencePieceOracle(std::move(impl)));
}

std::vector<int> SentencePieceOracle::Encode(const std::string& text) const {
  std::vector<int> ids;
  const auto status = impl_->processor.Encode(text, &ids);
  if (!status.ok()) ids.assign(1, -1);  // never a valid encoding: the comparison fails loudly
  return ids;
}

std::string SentencePieceOracle::Decode(const std::vector<int>& ids) const {
  std::string text;
  const auto status = impl_->processor.Decode(ids, &text);
  if (!status.ok()) return "<oracle decode error: " + status.ToString() + ">";
  return text;
}

int SentencePieceOracle::vocab_size() const { return impl_->processor.GetPieceSize(); }
std::string SentencePieceOracle::IdToPiece(int id) const { return impl_->processor.IdToPiece(id); }
float SentencePieceOracle::score(int id) const { return impl_->processor.GetScore(id); }
bool SentencePieceOracle::IsControl(int id) const { return impl_->processor.IsControl(id); }
bool SentencePieceOracle::IsUnknown(int id) const { return impl_->processor.IsUnknown(id); }
bool SentencePieceOracle::IsByte(int id) const { return impl_->processor.IsByte(id); }
bool SentencePieceOracle::IsUnused(int id) const { return impl_->processor.IsUnused(id); }
int SentencePieceOracle::bos_id() const { return impl_->processor.bos_id(); }
int SentencePieceOracle::eos_id() const { return impl_->processor.eos_id(); }
int SentencePieceOracle::unk_id() const { return impl_->processor.unk_id(); }

}  // namespace kvbench::testing
