#include "harness/keep.h"

#include <cmath>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "model/decoder.h"
#include "model/session.h"

namespace kvbench {
namespace {

bool SameStores(const CacheSpec& a, const CacheSpec& b) {
  return a.k_store == b.k_store && a.k_params == b.k_params && a.v_store == b.v_store &&
         a.v_params == b.v_params;
}

KeptPositions Read(const PolicyCache& cache, int n_tokens, bool with_scores) {
  const CacheShape& s = cache.shape();
  KeptPositions out{.label = cache.label(), .n_tokens = n_tokens};
  out.kept.resize(s.n_layers);
  bool scored = with_scores;
  std::vector<std::vector<std::vector<float>>> scores(s.n_layers);
  for (int l = 0; l < s.n_layers; ++l) {
    for (int h = 0; h < s.n_kv_heads; ++h) {
      absl::Span<const int32_t> pos = cache.positions(l, h);
      out.kept[l].emplace_back(pos.begin(), pos.end());
      if (!scored) continue;
      std::vector<float> v;
      scored = cache.policy().EntryScores(l, h, &v) && v.size() == pos.size();
      scores[l].push_back(std::move(v));
    }
  }
  if (scored) out.scores = std::move(scores);
  return out;
}

template <typename T, typename F>
std::string Nested(const std::vector<std::vector<std::vector<T>>>& v, F format) {
  return absl::StrCat(
      "[",
      absl::StrJoin(v, ",",
                    [&](std::string* out, const std::vector<std::vector<T>>& layer) {
                      absl::StrAppend(
                          out, "[",
                          absl::StrJoin(layer, ",",
                                        [&](std::string* o, const std::vector<T>& head) {
                                          absl::StrAppend(o, "[", absl::StrJoin(head, ",", format),
                                                          "]");
                                        }),
                          "]");
                    }),
      "]");
}

// A JSON string: the labels hold no control characters, but quotes and backslashes are escaped.
std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

absl::StatusOr<std::vector<KeptPositions>> KeepPositions(const Model& model,
                                                         absl::Span<const int> tokens,
                                                         absl::Span<const CacheSpec> specs,
                                                         const KeepOptions& options) {
  const int n = static_cast<int>(tokens.size());
  if (n < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keep: a context of ", n, " token", n == 1 ? "" : "s",
        " holds nothing for a policy to keep or evict (an empty text is BOS alone); at least 2"));
  }
  if (n > model.config.context_length) {
    return absl::OutOfRangeError(absl::StrCat("keep: ", n, " tokens exceed the model's context of ",
                                              model.config.context_length));
  }
  const int prompt = options.context_end == 0 ? n : options.context_end;
  if (prompt < 1 || prompt > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("keep: context end ", options.context_end, " is not in [1, ", n, "]"));
  }
  CacheShape shape = CacheShape::ForModel(model.config, n);
  shape.prompt_tokens = prompt;
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<PolicyCache*> caches;
  bool mirrored = true;
  for (const CacheSpec& spec : specs) {
    auto cache = MakeCache(spec, shape);
    if (!cache.ok()) return Annotate(cache.status(), spec.Label());
    mirrored &= (*cache)->retains_entries() && SameStores(spec, specs[0]);
    caches.push_back(cache->get());
    sessions.push_back(std::make_unique<Session>(*std::move(cache)));
  }
  if (sessions.empty()) return std::vector<KeptPositions>{};
  Decoder decoder(model);
  std::vector<Session*> all;
  for (auto& s : sessions) all.push_back(s.get());
  // The prompt in one step: its rows once for every cache when they can share them.
  if (mirrored) {
    FeedMirrored(decoder, *all[0], absl::MakeConstSpan(all).subspan(1), tokens.first(prompt), false,
                 nullptr);
  } else {
    std::vector<absl::Span<const int>> blocks(all.size(), tokens.first(prompt));
    std::vector<float*> no_logits(all.size(), nullptr);
    Feed(decoder, all, blocks, false, no_logits);
  }
  // Then one token per step, every cache in the same decoder step.
  for (int t = prompt; t < n; ++t) {
    std::vector<absl::Span<const int>> blocks(all.size(), tokens.subspan(t, 1));
    std::vector<float*> no_logits(all.size(), nullptr);
    Feed(decoder, all, blocks, false, no_logits);
  }
  std::vector<KeptPositions> out;
  for (const PolicyCache* cache : caches) out.push_back(Read(*cache, n, options.scores));
  return out;
}

std::string KeptJson(const KeptPositions& kept, bool with_scores) {
  std::string json =
      absl::StrCat("{\"policy\":", Quoted(kept.label), ",\"n_tokens\":", kept.n_tokens,
                   ",\"kept\":", Nested(kept.kept, absl::AlphaNumFormatter()));
  if (with_scores) {
    absl::StrAppend(&json, ",\"scores\":",
                    kept.scores.empty() ? std::string("null")
                                        : Nested(kept.scores, [](std::string* out, float x) {
                                            // JSON has no inf or nan (a score may be -inf: none
                                            // yet).
                                            absl::StrAppend(out, std::isfinite(x)
                                                                     ? absl::StrFormat("%.9g", x)
                                                                     : std::string("null"));
                                          }));
  }
  return json + "}";
}

}  // namespace kvbench
