#include "prefix/serve.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status.h"
#include "harness/metrics.h"
#include "stores/store_registry.h"

namespace kvbench {

absl::StatusOr<PrefixStrategy> ParsePrefixStrategy(std::string_view name) {
  if (name == "none") return PrefixStrategy::kNone;
  if (name == "lazy") return PrefixStrategy::kLazy;
  if (name == "active") return PrefixStrategy::kActive;
  if (name == "hybrid") return PrefixStrategy::kHybrid;
  return absl::InvalidArgumentError(absl::StrCat("unknown prefix strategy '", std::string(name),
                                                 "' (valid: none, lazy, active, hybrid)"));
}

const char* PrefixStrategyName(PrefixStrategy s) {
  switch (s) {
    case PrefixStrategy::kNone:
      return "none";
    case PrefixStrategy::kLazy:
      return "lazy";
    case PrefixStrategy::kActive:
      return "active";
    case PrefixStrategy::kHybrid:
      return "hybrid";
  }
  return "?";
}

absl::StatusOr<uint64_t> PrefixBytesPerToken(const CacheSpec& spec, const ModelConfig& c) {
  ASSIGN_OR_RETURN(const double k,
                   BytesPerValue(spec.k_store, spec.k_params, KvRole::kKey, c.head_dim));
  ASSIGN_OR_RETURN(const double v,
                   BytesPerValue(spec.v_store, spec.v_params, KvRole::kValue, c.head_dim));
  const double values = static_cast<double>(c.n_layers) * c.n_kv_heads * c.head_dim;
  return static_cast<uint64_t>(std::ceil(values * (k + v)));
}

std::vector<std::vector<int>> FrequentPrefixes(absl::Span<const TraceRequest> window,
                                               int block_tokens, int k) {
  struct Seen {
    int requests = 0;
    int last = -1;  // request index that counted last (a request counts once)
  };
  std::map<std::vector<int>, Seen> seen;
  for (size_t r = 0; r < window.size(); ++r) {
    const std::vector<int>& t = window[r].tokens;
    if (t.empty() || block_tokens < 1) continue;
    for (size_t len = block_tokens; len + 1 <= t.size(); len += block_tokens) {
      Seen& s = seen[std::vector<int>(t.begin(), t.begin() + len)];
      if (s.last != static_cast<int>(r)) {
        s.last = static_cast<int>(r);
        s.requests += 1;
      }
    }
  }
  std::vector<std::pair<const std::vector<int>*, int>> ranked;
  for (const auto& [prefix, s] : seen) {
    if (s.requests >= 2) ranked.push_back({&prefix, s.requests});
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    const double va = static_cast<double>(a.second) * a.first->size();
    const double vb = static_cast<double>(b.second) * b.first->size();
    if (va != vb) return va > vb;
    if (a.first->size() != b.first->size()) return a.first->size() > b.first->size();
    return *a.first < *b.first;
  });
  std::vector<std::vector<int>> out;
  for (const auto& ranked_prefix : ranked) {
    if (static_cast<int>(out.size()) >= k) break;
    // A named reference, not a structured binding: clang 14 cannot capture one in a lambda.
    const std::vector<int>& prefix = *ranked_prefix.first;
    const bool covered = std::any_of(out.begin(), out.end(), [&prefix](const std::vector<int>& o) {
      return o.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), o.begin());
    });
    if (!covered) out.push_back(prefix);
  }
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;

// Forwards to the request's cache and keeps a copy of the f32 K/V rows the decoder appends, so
// the request's new blocks can be cached after its prefill.
class RecordingCache : public KvCache {
 public:
  RecordingCache(KvCache* inner, int n_layers, int kv_dim)
      : inner_(inner), kv_dim_(kv_dim), k_(n_layers), v_(n_layers) {}

  void BeginStep(int pos0, int n_tokens) override {
    inner_->BeginStep(pos0, n_tokens);
    n_tokens_ = n_tokens;
  }
  void Append(int layer, const float* k, const float* v) override {
    inner_->Append(layer, k, v);
    const size_t n = static_cast<size_t>(n_tokens_) * kv_dim_;
    k_[layer].assign(k, k + n);
    v_[layer].assign(v, v + n);
  }
  void Attend(int layer, const float* q, float* out) override { inner_->Attend(layer, q, out); }
  void EndStep() override { inner_->EndStep(); }
  bool retains_entries() const override { return inner_->retains_entries(); }
  int n_past() const override { return inner_->n_past(); }
  KvMemory memory(int layer) const override { return inner_->memory(layer); }

  // Row t of the last step's keys / values of `layer`.
  const float* k_row(int layer, int t) const {
    return &k_[layer][static_cast<size_t>(t) * kv_dim_];
  }
  const float* v_row(int layer, int t) const {
    return &v_[layer][static_cast<size_t>(t) * kv_dim_];
  }

 private:
  KvCache* inner_;
  int kv_dim_;
  int n_tokens_ = 0;
  std::vector<std::vector<float>> k_, v_;  // (layers) x (tokens, kv_dim)
};

class Server {
 public:
  Server(Decoder& decoder, const ServeOptions& o, PrefixCache* cache)
      : decoder_(decoder), o_(o), cache_(cache) {
    const ModelConfig& c = decoder.config();
    n_layers_ = c.n_layers;
    kv_dim_ = c.n_kv_heads * c.head_dim;
    context_ = o.context_tokens > 0 ? o.context_tokens : c.context_length;
    shape_ = CacheShape::ForModel(c, context_);
    logits_.resize(c.vocab_size);
  }

  // Serves one prompt: TTFT and hit counts in *r.
  // `fill`: cache the new whole blocks of the first `insert_tokens` tokens afterwards.
  absl::Status Run(absl::Span<const int> tokens, bool fill, bool allow_evict, RequestResult* r,
                   int insert_tokens = -1) {
    const int n = static_cast<int>(tokens.size());
    if (n < 1 || n > context_) {
      return absl::OutOfRangeError(
          absl::StrCat("request '", r->id, "' has ", n, " tokens; must be in [1, ", context_, "]"));
    }
    for (int t : tokens) {
      if (t < 0 || t >= decoder_.config().vocab_size) {
        return absl::OutOfRangeError(absl::StrCat("request '", r->id, "' holds token ", t,
                                                  ", outside the vocabulary [0, ",
                                                  decoder_.config().vocab_size, ")"));
      }
    }
    const int bt = o_.block_tokens;
    const auto start = Clock::now();
    PrefixMatch match;
    if (cache_ != nullptr) match = cache_->Acquire(tokens.first(n - 1));
    const int p = match.tokens;
    auto built = MakeCache(o_.cache, shape_);
    if (!built.ok()) {
      if (cache_ != nullptr) cache_->Release(match.blocks);
      return built.status();
    }
    std::unique_ptr<PolicyCache> kv = *std::move(built);
    if (p > 0) Replay(match, kv.get());
    RecordingCache rec(kv.get(), n_layers_, kv_dim_);
    const absl::Span<const int> suffix = tokens.subspan(p);
    StepInput in{.cache = &rec,
                 .tokens = suffix,
                 .pos0 = p,
                 .logits_begin = static_cast<int>(suffix.size()) - 1,
                 .logits = logits_.data()};
    decoder_.Forward(absl::MakeConstSpan(&in, 1));
    r->ttft_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    r->prompt_tokens = n;
    r->cached_tokens = p;
    r->blocks_eligible = (n - 1) / bt;
    r->blocks_hit = static_cast<int>(match.blocks.size());
    if (o_.keep_logits) r->logits = logits_;
    if (cache_ != nullptr && fill) {
      // Blocks before p are cached already (present), so fill only sees blocks of the suffix.
      const int m = insert_tokens < 0 ? n : std::min(insert_tokens, n);
      cache_->Insert(
          tokens.first(m),
          [&](int i, absl::Span<float> payload) {
            KVBENCH_CHECK(i * bt >= p, "block %d of a request matched up to token %d", i, p);
            float* out = payload.data();
            for (int l = 0; l < n_layers_; ++l) {
              for (int kv = 0; kv < 2; ++kv) {
                for (int t = i * bt; t < (i + 1) * bt; ++t) {
                  const float* row = kv == 0 ? rec.k_row(l, t - p) : rec.v_row(l, t - p);
                  out = std::copy_n(row, kv_dim_, out);
                }
              }
            }
          },
          allow_evict);
    }
    if (cache_ != nullptr) cache_->Release(match.blocks);
    return absl::OkStatus();
  }

 private:
  // Appends the matched blocks' K/V into `kv` as positions 0 .. match.tokens - 1.
  void Replay(const PrefixMatch& match, PolicyCache* kv) {
    const int bt = o_.block_tokens, p = match.tokens;
    k_buf_.resize(static_cast<size_t>(p) * kv_dim_);
    v_buf_.resize(static_cast<size_t>(p) * kv_dim_);
    const size_t block_rows = static_cast<size_t>(bt) * kv_dim_;
    kv->BeginStep(0, p);
    for (int l = 0; l < n_layers_; ++l) {
      for (size_t b = 0; b < match.blocks.size(); ++b) {
        const float* src =
            cache_->payload(match.blocks[b]).data() + static_cast<size_t>(l) * 2 * block_rows;
        std::copy_n(src, block_rows, &k_buf_[b * block_rows]);
        std::copy_n(src + block_rows, block_rows, &v_buf_[b * block_rows]);
      }
      kv->Append(l, k_buf_.data(), v_buf_.data());
    }
    kv->EndStep();
  }

  Decoder& decoder_;
  const ServeOptions& o_;
  PrefixCache* cache_;
  int n_layers_ = 0, kv_dim_ = 0, context_ = 0;
  CacheShape shape_;
  std::vector<float> logits_, k_buf_, v_buf_;
};

}  // namespace

absl::StatusOr<ServeReport> Serve(Decoder& decoder, absl::Span<const TraceRequest> trace,
                                  const ServeOptions& o) {
  if (o.cache.policy != "full") {
    return absl::InvalidArgumentError(absl::StrCat(
        "prefix cache: policy must be 'full' (got '", o.cache.policy,
        "'): an evicting policy's cache is not a function of the prefix tokens alone"));
  }
  if (o.block_tokens < 1 || o.block_tokens > (1 << 16)) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefix cache: block_tokens must be in [1, 65536], got ", o.block_tokens));
  }
  if (o.warmup_requests < 0 || o.active_top_k < 0) {
    return absl::InvalidArgumentError(absl::StrCat("prefix cache: warmup_requests (",
                                                   o.warmup_requests, ") and active_top_k (",
                                                   o.active_top_k, ") must be >= 0"));
  }
  const ModelConfig& c = decoder.config();
  ASSIGN_OR_RETURN(const uint64_t bpt, PrefixBytesPerToken(o.cache, c));
  ServeReport rep;
  rep.bytes_per_token = bpt;
  std::optional<PrefixCache> cache;
  if (o.strategy != PrefixStrategy::kNone) {
    ASSIGN_OR_RETURN(
        cache, PrefixCache::Create({.block_tokens = o.block_tokens,
                                    .budget_bytes = o.budget_bytes,
                                    .bytes_per_token = bpt,
                                    .floats_per_token = 2 * c.n_layers * c.n_kv_heads * c.head_dim,
                                    .eviction = o.eviction}));
  }
  Server server(decoder, o, cache ? &*cache : nullptr);
  const size_t warm = std::min<size_t>(o.warmup_requests, trace.size());
  const bool fill_on_miss =
      o.strategy == PrefixStrategy::kLazy || o.strategy == PrefixStrategy::kHybrid;
  if (o.strategy == PrefixStrategy::kLazy) {
    for (size_t i = 0; i < warm; ++i) {
      RequestResult r{.id = trace[i].id};
      RETURN_IF_ERROR(server.Run(trace[i].tokens, true, true, &r));
      if (o.on_requests) o.on_requests(1);
    }
  } else if (o.strategy == PrefixStrategy::kActive || o.strategy == PrefixStrategy::kHybrid) {
    std::vector<std::vector<int>> prefixes = o.declared_prefixes;
    for (auto& p : FrequentPrefixes(trace.first(warm), o.block_tokens, o.active_top_k)) {
      prefixes.push_back(std::move(p));
    }
    // Warm in priority order; no eviction, so a later prefix never displaces an earlier one.
    for (size_t i = 0; i < prefixes.size(); ++i) {
      const size_t whole = prefixes[i].size() / o.block_tokens * o.block_tokens;
      if (whole == 0) continue;
      std::vector<int> t(prefixes[i].begin(), prefixes[i].begin() + whole);
      t.push_back(0);  // a stand-in last token, computed and discarded: the blocks are what counts
      RequestResult r{.id = absl::StrCat("warm", i)};
      RETURN_IF_ERROR(server.Run(t, true, false, &r, static_cast<int>(whole)));
      rep.warm_prefixes += 1;
      rep.warm_tokens_computed += static_cast<int64_t>(whole) - r.cached_tokens;
    }
    if (o.on_requests && warm > 0) o.on_requests(static_cast<int>(warm));
  }
  std::vector<double> ttft;
  for (size_t i = warm; i < trace.size(); ++i) {
    RequestResult r{.id = trace[i].id};
    RETURN_IF_ERROR(server.Run(trace[i].tokens, fill_on_miss, true, &r));
    if (o.on_requests) o.on_requests(1);
    rep.blocks_eligible += r.blocks_eligible;
    rep.blocks_hit += r.blocks_hit;
    rep.tokens_requested += r.prompt_tokens;
    rep.tokens_cached += r.cached_tokens;
    ttft.push_back(r.ttft_ms);
    rep.requests.push_back(std::move(r));
  }
  rep.tokens_computed = rep.tokens_requested - rep.tokens_cached;
  rep.hit_rate_blocks =
      rep.blocks_eligible > 0 ? static_cast<double>(rep.blocks_hit) / rep.blocks_eligible : 0;
  rep.hit_rate_tokens =
      rep.tokens_requested > 0 ? static_cast<double>(rep.tokens_cached) / rep.tokens_requested : 0;
  if (!ttft.empty()) {
    double sum = 0;
    for (double t : ttft) sum += t;
    rep.ttft_ms_mean = sum / ttft.size();
    std::sort(ttft.begin(), ttft.end());
    rep.ttft_ms_p50 = Percentile(ttft, 0.5);
    rep.ttft_ms_p95 = Percentile(ttft, 0.95);
  }
  if (cache) {
    const PrefixCacheStats& s = cache->stats();
    rep.cache_bytes_end = s.bytes_used;
    rep.cache_bytes_peak = s.bytes_peak;
    rep.cache_f32_bytes_end = static_cast<uint64_t>(s.blocks) * o.block_tokens *
                              cache->options().floats_per_token * sizeof(float);
    rep.blocks_end = s.blocks;
    rep.blocks_added = s.blocks_added;
    rep.evictions = s.evictions;
    rep.collisions = s.collisions;
  }
  return rep;
}

}  // namespace kvbench
