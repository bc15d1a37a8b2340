// A sequence being decoded: its KV cache and the tokens it has consumed.
//
// Feed() is how everything above the decoder advances sequences. For a cache that keeps nothing
// between steps (the `none` policy) it re-runs the whole history every step, which is exactly the
// cost that a KV cache removes.
#ifndef KVBENCH_MODEL_SESSION_H_
#define KVBENCH_MODEL_SESSION_H_

#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "model/decoder.h"
#include "model/kv_cache.h"

namespace kvbench {

class Session {
 public:
  explicit Session(std::unique_ptr<KvCache> cache) : cache_(std::move(cache)) {}

  KvCache& cache() { return *cache_; }
  const KvCache& cache() const { return *cache_; }
  const std::vector<int>& tokens() const { return tokens_; }

 private:
  friend void Feed(Decoder&, absl::Span<Session* const>, absl::Span<const absl::Span<const int>>,
                   bool, absl::Span<float* const>);
  friend void FeedMirrored(Decoder&, Session&, absl::Span<Session* const>, absl::Span<const int>,
                           bool, float*);
  std::unique_ptr<KvCache> cache_;
  std::vector<int> tokens_;
};

// Feeds tokens[i] to sessions[i], all in one decoder step (weights read once). logits[i] receives
// (tokens[i].size(), vocab) floats when all_logits, else the last token's (vocab) floats; a null
// logits pointer skips the classifier for that session.
void Feed(Decoder& decoder, absl::Span<Session* const> sessions,
          absl::Span<const absl::Span<const int>> tokens, bool all_logits,
          absl::Span<float* const> logits);

// Feeds the same `tokens` to `primary` and to every session in `mirrors`, computing the decoder's
// rows once (see StepInput::mirrors: valid while all their caches hold the same entries in the
// same formats, e.g. a sweep's policies before their first eviction). `logits` receives the
// primary's logits, which the mirrors' equal. All caches must keep their entries (not `none`).
void FeedMirrored(Decoder& decoder, Session& primary, absl::Span<Session* const> mirrors,
                  absl::Span<const int> tokens, bool all_logits, float* logits);

// One session, one token block.
inline void Feed(Decoder& decoder, Session& session, absl::Span<const int> tokens, bool all_logits,
                 float* logits) {
  Session* s = &session;
  Feed(decoder, absl::MakeConstSpan(&s, 1), absl::MakeConstSpan(&tokens, 1), all_logits,
       absl::MakeConstSpan(&logits, 1));
}

}  // namespace kvbench

#endif  // KVBENCH_MODEL_SESSION_H_
