#include "model/session.h"

#include "absl/container/inlined_vector.h"
#include "base/check.h"

namespace kvbench {

void Feed(Decoder& decoder, absl::Span<Session* const> sessions,
          absl::Span<const absl::Span<const int>> tokens, bool all_logits,
          absl::Span<float* const> logits) {
  KVBENCH_CHECK(sessions.size() == tokens.size() && sessions.size() == logits.size());
  // Inline storage: a decode step of a few sequences allocates nothing.
  absl::InlinedVector<StepInput, 8> inputs(sessions.size());
  for (size_t i = 0; i < sessions.size(); ++i) {
    Session& s = *sessions[i];
    const absl::Span<const int> fresh = tokens[i];
    const size_t n_before = s.tokens_.size();
    s.tokens_.insert(s.tokens_.end(), fresh.begin(), fresh.end());
    StepInput& in = inputs[i];
    in.cache = s.cache_.get();
    if (s.cache_->retains_entries()) {
      in.tokens = fresh;
      in.pos0 = static_cast<int>(n_before);
    } else {  // recompute the whole prefix
      in.tokens = s.tokens_;
      in.pos0 = 0;
    }
    const int n = static_cast<int>(in.tokens.size());
    in.logits = logits[i];
    if (logits[i] == nullptr || fresh.empty()) {
      in.logits_begin = n;
    } else {
      in.logits_begin = all_logits ? n - static_cast<int>(fresh.size()) : n - 1;
    }
  }
  decoder.Forward(inputs);
}

void FeedMirrored(Decoder& decoder, Session& primary, absl::Span<Session* const> mirrors,
                  absl::Span<const int> tokens, bool all_logits, float* logits) {
  absl::InlinedVector<KvCache*, 16> caches;
  for (Session* m : mirrors) {
    KVBENCH_CHECK(m->cache_->retains_entries() && m->tokens_ == primary.tokens_,
                  "a mirror must keep its entries and have seen the primary's tokens");
    m->tokens_.insert(m->tokens_.end(), tokens.begin(), tokens.end());
    caches.push_back(m->cache_.get());
  }
  KVBENCH_CHECK(primary.cache_->retains_entries());
  const int n = static_cast<int>(tokens.size());
  StepInput in{.cache = primary.cache_.get(),
               .tokens = tokens,
               .pos0 = static_cast<int>(primary.tokens_.size()),
               .logits_begin = logits == nullptr || n == 0 ? n : (all_logits ? 0 : n - 1),
               .logits = logits,
               .mirrors = caches};
  primary.tokens_.insert(primary.tokens_.end(), tokens.begin(), tokens.end());
  decoder.Forward(absl::MakeConstSpan(&in, 1));
}

}  // namespace kvbench
