// Exact-equivalence oracles of the decoder on a synthetic model (random weights are fine here: the
// claims are algebraic identities, not quality): cached decoding == recomputation without cache,
// block prefill == token-by-token, batched sequences == separate runs, mirrored (lockstep) sessions
// == a session fed alone.
#include "model/decoder.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/ops.h"
#include "model/session.h"
#include "model/synthetic.h"
#include "policies/full.h"
#include "policies/none.h"
#include "policies/policy_cache.h"
#include "stores/f32_store.h"
#include "tests/test_util.h"

namespace kvbench {
namespace {

// Largest |a - b| relative to the largest |a|.
float RelMaxDiff(const std::vector<float>& a, const std::vector<float>& b) {
  float diff = 0.0f, scale = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(a[i]));
  }
  return diff / scale;
}

TEST(DecoderTest, CachedDecodingEqualsRecomputationWithoutCache) {
  auto model = MakeSyntheticModel(SmallSyntheticConfig(), DType::kF32, 1).value();
  Decoder decoder(*model);
  const int vocab = model->config.vocab_size;
  const std::vector<int> tokens = RandomTokens(64, vocab, 2);
  auto full = NewF32Session<FullPolicy>(*model);
  auto none = NewF32Session<NonePolicy>(*model);
  std::vector<float> a(vocab), b(vocab);
  for (int t = 0; t < static_cast<int>(tokens.size()); ++t) {
    Feed(decoder, *full, absl::MakeConstSpan(&tokens[t], 1), false, a.data());
    Feed(decoder, *none, absl::MakeConstSpan(&tokens[t], 1), false, b.data());
    // Recomputation runs the prefix as one block with causal masking instead of one query at a
    // time; 1e-5 of the logit scale allows for rounding and is far below any policy's effect.
    ASSERT_LT(RelMaxDiff(a, b), 1e-5f) << "position " << t;
  }
  EXPECT_EQ(none->cache().total_memory(model->config.n_layers).logical, 0u);
}

TEST(DecoderTest, BlockPrefillEqualsTokenByToken) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    auto model = MakeSyntheticModel(SmallSyntheticConfig(), dtype, 3).value();
    Decoder decoder(*model);
    const int vocab = model->config.vocab_size;
    const std::vector<int> tokens = RandomTokens(40, vocab, 4);
    auto block = NewF32Session<FullPolicy>(*model);
    auto step = NewF32Session<FullPolicy>(*model);
    std::vector<float> all(tokens.size() * vocab), one(vocab);
    Feed(decoder, *block, tokens, true, all.data());
    for (size_t t = 0; t < tokens.size(); ++t) {
      Feed(decoder, *step, absl::MakeConstSpan(&tokens[t], 1), false, one.data());
      std::vector<float> row(all.begin() + t * vocab, all.begin() + (t + 1) * vocab);
      ASSERT_LT(RelMaxDiff(one, row), 1e-5f) << DTypeName(dtype) << " position " << t;
    }
  }
}

TEST(DecoderTest, BatchOfSequencesEqualsSeparateRuns) {
  auto model = MakeSyntheticModel(SmallSyntheticConfig(), DType::kF16, 5).value();
  Decoder decoder(*model);
  const int vocab = model->config.vocab_size;
  std::vector<std::vector<int>> seqs = {RandomTokens(9, vocab, 6), RandomTokens(5, vocab, 7),
                                        RandomTokens(7, vocab, 8)};
  std::vector<std::unique_ptr<Session>> batch, alone;
  std::vector<Session*> ptrs;
  for (size_t i = 0; i < seqs.size(); ++i) {
    batch.push_back(NewF32Session<FullPolicy>(*model));
    alone.push_back(NewF32Session<FullPolicy>(*model));
    ptrs.push_back(batch.back().get());
  }
  std::vector<std::vector<float>> got(seqs.size(), std::vector<float>(vocab));
  std::vector<absl::Span<const int>> spans(seqs.begin(), seqs.end());
  std::vector<float*> outs;
  for (auto& g : got) outs.push_back(g.data());
  Feed(decoder, ptrs, spans, false, outs);
  for (size_t i = 0; i < seqs.size(); ++i) {
    std::vector<float> want(vocab);
    Feed(decoder, *alone[i], seqs[i], false, want.data());
    EXPECT_EQ(got[i], want) << "sequence " << i;
  }
}

// A lockstep step (FeedMirrored) leaves every mirror exactly as if it had been fed alone: the
// primary's logits and every session's next decode step are bit-identical to a lone session's. A
// prefill of 4 keeps the attention of the three caches serial; at 100 they have enough work
// together (kMinParallelWork) to run on different threads, into per-thread mirror slices; at 128
// each has enough on its own and splits it over the threads (PolicyCache), one cache after another.
TEST(DecoderTest, MirroredSessionsEqualASessionFedAlone) {
  SetNumThreads(2);
  auto model = MakeSyntheticModel(SmallSyntheticConfig(), DType::kF32, 11).value();
  Decoder decoder(*model);
  const int vocab = model->config.vocab_size;
  for (int prefill : {4, 100, 128}) {
    const std::vector<int> tokens = RandomTokens(prefill + 1, vocab, 12);
    const absl::Span<const int> prefix = absl::MakeConstSpan(tokens).first(prefill);
    const absl::Span<const int> next = absl::MakeConstSpan(tokens).last(1);
    auto primary = NewF32Session<FullPolicy>(*model);
    std::vector<std::unique_ptr<Session>> mirrors;
    std::vector<Session*> mirror_ptrs;
    for (int i = 0; i < 2; ++i) {
      mirrors.push_back(NewF32Session<FullPolicy>(*model));
      mirror_ptrs.push_back(mirrors.back().get());
    }
    auto alone = NewF32Session<FullPolicy>(*model);
    std::vector<float> mirrored(prefix.size() * vocab), want(prefix.size() * vocab);
    FeedMirrored(decoder, *primary, mirror_ptrs, prefix, true, mirrored.data());
    Feed(decoder, *alone, prefix, true, want.data());
    EXPECT_EQ(mirrored, want) << "prefill " << prefill;

    std::vector<float> want_next(vocab), got_next(vocab);
    Feed(decoder, *alone, next, false, want_next.data());
    std::vector<Session*> fed = mirror_ptrs;
    fed.push_back(primary.get());
    for (size_t i = 0; i < fed.size(); ++i) {
      Feed(decoder, *fed[i], next, false, got_next.data());
      EXPECT_EQ(got_next, want_next) << "prefill " << prefill << " session " << i;
    }
  }
}

}  // namespace
}  // namespace kvbench

namespace kvbench {
namespace {

// Results must not depend on the thread count: every output element of a MatMul is computed by one
// thread in a fixed order. Shapes large enough that the parallel row split is really taken.
TEST(DecoderTest, ThreadCountDoesNotChangeLogits) {
  ModelConfig c = SmallSyntheticConfig();
  c.dim = 256;
  c.hidden_dim = 512;
  c.n_heads = 8;
  c.head_dim = 32;
  c.rope_dims = 32;
  c.vocab_size = 4096;
  auto model = MakeSyntheticModel(c, DType::kF32, 9).value();
  const std::vector<int> tokens = RandomTokens(48, c.vocab_size, 10);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2}) {
    SetNumThreads(threads);
    Decoder decoder(*model);
    auto session = NewF32Session<FullPolicy>(*model);
    std::vector<float> logits(tokens.size() * c.vocab_size);
    Feed(decoder, *session, tokens, true, logits.data());
    std::vector<float> last(c.vocab_size);
    Feed(decoder, *session, absl::MakeConstSpan(&tokens[0], 1), false, last.data());
    logits.insert(logits.end(), last.begin(), last.end());
    results.push_back(std::move(logits));
  }
  EXPECT_EQ(results[0], results[1]);
}

}  // namespace
}  // namespace kvbench
