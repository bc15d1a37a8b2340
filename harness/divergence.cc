#include "harness/divergence.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/case_guard.h"
#include "base/status.h"
#include "harness/memory_tally.h"
#include "model/sampler.h"
#include "model/session.h"
#include "policies/policy_cache.h"

namespace kvbench {
namespace {

// The sessions of one pass: slot 0 the reference, slot i + 1 policy i (null when its cache does
// not build), and each slot's number formats ("k store|v store" as the stores name themselves):
// fresh caches that share them and are fed the same tokens stay in the same state until their
// first eviction.
struct Lanes {
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<std::string> formats;
};

// Fresh lanes for the reference and every policy whose cache builds (`errors` gets the others'
// status on the first sequence).
absl::StatusOr<Lanes> MakeLanes(const CacheSpec& reference, const std::vector<CacheSpec>& policies,
                                const CacheShape& shape, std::vector<absl::Status>* errors) {
  Lanes lanes;
  lanes.sessions.resize(policies.size() + 1);
  lanes.formats.resize(policies.size() + 1);
  auto add = [&](size_t slot, std::unique_ptr<PolicyCache> cache) {
    lanes.formats[slot] = cache->k_store().name() + "|" + cache->v_store().name();
    lanes.sessions[slot] = std::make_unique<Session>(std::move(cache));
  };
  auto ref = MakeCache(reference, shape);
  if (!ref.ok()) return Annotate(ref.status(), absl::StrCat("reference ", reference.Label()));
  add(0, *std::move(ref));
  for (size_t i = 0; i < policies.size(); ++i) {
    if (!(*errors)[i].ok()) continue;
    auto cache = MakeCache(policies[i], shape);
    if (!cache.ok()) {
      (*errors)[i] = cache.status();
      continue;
    }
    add(i + 1, *std::move(cache));
  }
  return lanes;
}

// One step: feeds tokens[i] to every live session i, last-token logits into logits[i].
// - The prompt prefill of fresh sessions with the same store formats is computed once
//   (FeedMirrored): every policy still observes its own attention and applies its own eviction.
// - Everything else goes in one decoder call, so the weights are read once for the reference and
//   every policy. The decoder is batch-invariant (a row's arithmetic does not depend on what else
//   is in the batch), which is what makes lockstep reproduce one-at-a-time evaluation bit for bit.
void Step(Decoder& decoder, const Lanes& lanes, const std::vector<absl::Span<const int>>& tokens,
          std::vector<std::vector<float>>& logits) {
  const std::vector<std::unique_ptr<Session>>& sessions = lanes.sessions;
  std::vector<bool> fed(sessions.size(), false);
  auto fresh = [&](size_t i) {
    return sessions[i] != nullptr && sessions[i]->tokens().empty() &&
           sessions[i]->cache().retains_entries() && tokens[i].size() > 1;
  };
  for (size_t i = 0; i < sessions.size(); ++i) {
    if (fed[i] || !fresh(i)) continue;
    std::vector<Session*> mirrors;
    std::vector<size_t> mirror_index;
    for (size_t j = i + 1; j < sessions.size(); ++j) {
      if (!fed[j] && fresh(j) && lanes.formats[j] == lanes.formats[i] &&
          std::equal(tokens[j].begin(), tokens[j].end(), tokens[i].begin(), tokens[i].end())) {
        mirrors.push_back(sessions[j].get());
        mirror_index.push_back(j);
      }
    }
    if (mirrors.empty()) continue;
    FeedMirrored(decoder, *sessions[i], mirrors, tokens[i], /*all_logits=*/false, logits[i].data());
    fed[i] = true;
    for (size_t j : mirror_index) {
      logits[j] = logits[i];
      fed[j] = true;
    }
  }
  std::vector<Session*> batch;
  std::vector<absl::Span<const int>> batch_tokens;
  std::vector<float*> batch_logits;
  for (size_t i = 0; i < sessions.size(); ++i) {
    if (sessions[i] == nullptr || fed[i]) continue;
    batch.push_back(sessions[i].get());
    batch_tokens.push_back(tokens[i]);
    batch_logits.push_back(logits[i].data());
  }
  if (!batch.empty()) Feed(decoder, batch, batch_tokens, /*all_logits=*/false, batch_logits);
}

}  // namespace

absl::StatusOr<DivergenceRun> EvaluateDivergence(Decoder& decoder, const CacheSpec& reference,
                                                 const std::vector<CacheSpec>& policies,
                                                 const std::vector<std::vector<int>>& sequences,
                                                 int context_tokens,
                                                 const DivergenceOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const int P = options.prompt_tokens, S = options.score_tokens;
  if (P < 1 || S < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt_tokens ", P, " and score_tokens ", S, " must be >= 1"));
  }
  for (size_t s = 0; s < sequences.size(); ++s) {
    if (sequences[s].size() < static_cast<size_t>(P) + S) {
      return absl::OutOfRangeError(
          absl::StrCat("sequence ", s, " has ", sequences[s].size(),
                       " tokens, fewer than prompt_tokens + score_tokens = ", P + S));
    }
  }
  if (options.resume != nullptr && options.resume->policies.size() != policies.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a checkpoint of ", options.resume->policies.size(),
                     " policies cannot resume a pass of ", policies.size()));
  }
  const int vocab = decoder.config().vocab_size;
  CacheShape shape = CacheShape::ForModel(decoder.config(), context_tokens);
  shape.prompt_tokens = P;               // the first step: what one-shot policies compress
  const size_t n = policies.size() + 1;  // slot 0: the reference
  std::vector<absl::Status> errors(policies.size());
  DivergenceState state;
  if (options.resume != nullptr) {
    state = *options.resume;
    // A cache that does not build failed on every sequence before: learn it again, even when no
    // sequence is left to feed.
    for (size_t i = 0; i < policies.size(); ++i) {
      if (absl::StatusOr<std::unique_ptr<PolicyCache>> cache = MakeCache(policies[i], shape);
          !cache.ok()) {
        errors[i] = cache.status();
      }
    }
  } else {
    state.policies.resize(policies.size());
  }
  std::vector<std::vector<float>> logits(n, std::vector<float>(vocab));
  ReferenceDistribution ref;
  std::vector<std::vector<double>> scratch(policies.size());
  const bool compare_in_parallel =
      policies.size() > 1 && policies.size() * vocab >= (size_t{1} << 17);
  std::vector<absl::Span<const int>> tokens(n);
  // Every lane is fed as many tokens as the reference (slot 0, always live).
  auto step = [&](const Lanes& lanes) {
    Step(decoder, lanes, tokens, logits);
    if (options.on_tokens) options.on_tokens(static_cast<int64_t>(tokens[0].size()));
  };

  for (size_t q = state.sequences_done; q < sequences.size(); ++q) {
    const std::vector<int>& seq = sequences[q];
    // Teacher forcing.
    ASSIGN_OR_RETURN(Lanes lanes, MakeLanes(reference, policies, shape, &errors));
    const absl::Span<const int> prompt(seq.data(), P);
    std::fill(tokens.begin(), tokens.end(), prompt);
    step(lanes);
    for (int s = 0; s < S; ++s) {
      const int next = seq[P + s];
      SetReference(logits[0], &ref);
      // Policies are independent: compare them in parallel when the vocabulary makes it pay.
      ParallelFailure failure;
#pragma omp parallel for schedule(dynamic, 1) if (compare_in_parallel)
      for (size_t i = 0; i < policies.size(); ++i)
        failure.Run([&] {
          if (lanes.sessions[i + 1] == nullptr) return;
          state.policies[i].positions.push_back(
              ComparePosition(ref, logits[i + 1], next, &scratch[i]));
        });
      failure.Rethrow();
      if (s + 1 < S) {
        std::fill(tokens.begin(), tokens.end(), absl::Span<const int>(&seq[P + s], 1));
        step(lanes);
      }
    }
    state.reference_memory.Add(lanes.sessions[0]->cache(), shape);
    for (size_t i = 0; i < policies.size(); ++i) {
      if (lanes.sessions[i + 1] == nullptr) continue;
      state.policies[i].memory.Add(lanes.sessions[i + 1]->cache(), shape);
    }

    // Free running: every cache continues on its own greedy output.
    ASSIGN_OR_RETURN(lanes, MakeLanes(reference, policies, shape, &errors));
    std::fill(tokens.begin(), tokens.end(), prompt);
    step(lanes);
    std::vector<std::vector<int>> generated(n);
    for (int s = 0; s < S; ++s) {
      for (size_t i = 0; i < n; ++i) {
        if (lanes.sessions[i] != nullptr) generated[i].push_back(ArgMax(logits[i]));
      }
      if (s + 1 < S) {
        for (size_t i = 0; i < n; ++i) {
          if (lanes.sessions[i] != nullptr)
            tokens[i] = absl::Span<const int>(&generated[i].back(), 1);
        }
        step(lanes);
      }
    }
    for (size_t i = 0; i < policies.size(); ++i) {
      if (lanes.sessions[i + 1] == nullptr) continue;
      const GreedyMatch g = CompareGreedy(generated[0], generated[i + 1]);
      DivergenceState::Lane& lane = state.policies[i];
      lane.greedy_prefix_sum += g.common_prefix;
      lane.greedy_matches += g.matches;
      lane.greedy_compared += g.n;
    }
    state.sequences_done = static_cast<int>(q + 1);
    if (options.on_sequence) RETURN_IF_ERROR(options.on_sequence(state));
  }

  DivergenceRun run;
  const uint64_t n_seq = std::max<uint64_t>(1, sequences.size());
  run.reference_memory_end = state.reference_memory.Mean();
  for (size_t i = 0; i < policies.size(); ++i) {
    if (!errors[i].ok()) {
      run.policies.push_back(errors[i]);
      continue;
    }
    DivergenceState::Lane& lane = state.policies[i];
    PolicyDivergence r;
    r.positions = std::move(lane.positions);
    r.summary = Summarize(r.positions);
    r.greedy_match_len = static_cast<double>(lane.greedy_prefix_sum) / n_seq;
    r.token_match_rate = lane.greedy_compared > 0
                             ? static_cast<double>(lane.greedy_matches) / lane.greedy_compared
                             : 0;
    r.memory_end = lane.memory.Mean();
    r.evicted_tokens = lane.memory.evicted_tokens();
    run.policies.push_back(std::move(r));
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

}  // namespace kvbench
