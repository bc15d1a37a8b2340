// Serving a request trace through the real decoder, with or without the prefix cache, and what the
// cache saved: hit rates, prefill tokens, time to first token (TTFT), bytes, evictions.
//
// One request: look up the longest cached block chain of its prompt (all but the last token: the
// last is always computed, its logits are the first token's), take references on those blocks,
// build the request's own KV cache (CacheSpec, policy `full`, any stores) and append the cached K/V
// of positions 0 .. P-1 into it (KvCache BeginStep(0, P) / Append / EndStep, no attention), then
// prefill only tokens P .. n-1 at pos0 = P. TTFT is the wall time from the lookup to the logits,
// replay included. Then, if the strategy fills on a miss, the request's new whole blocks are cached
// (evicting unreferenced leaves), and its references are dropped.
//
// What a block holds: the f32 K and V rows the decoder produced (RoPE applied), layout
// (layer, K|V, token, n_kv_heads * head_dim). Replaying them through the store's own Append
// reproduces what the request's store would hold had it computed the prefix itself: quantization
// is deterministic and row-local (f16, bf16, q*_*, int8, fp8 with a fixed scale), and KIVI
// quantizes the same oldest-first groups whatever the step sizes. Not exact: fp8 with
// calibrate=vllm|max (its scale comes from the first rows appended, here the prefix alone). The
// budget counts each cached token at the stores' own rate (BytesPerValue: the quantized size,
// without KIVI's f32 residual or fp8's per-store scales), i.e. as the format would hold it; the f32
// payload actually kept in memory is reported separately (cache_f32_bytes).
//
// Strategies:
//   none    no prefix cache: every request prefills its whole prompt (the baseline)
//   lazy    fill on miss: every request's new whole blocks are cached (evicting as needed)
//   active  the cache is warmed before the trace with declared prefixes, then the top_k most
//           frequent block-aligned prefixes of the warm-up window; requests never fill it
//   hybrid  active warming, then lazy filling
// The first warmup_requests of the trace form the warm-up window and are never measured: lazy
// serves them (that is how it warms), active and hybrid analyse them, none skips them. Every
// strategy is therefore measured on the same requests.
#ifndef KVBENCH_PREFIX_SERVE_H_
#define KVBENCH_PREFIX_SERVE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/decoder.h"
#include "policies/registry.h"
#include "prefix/prefix_cache.h"
#include "prefix/workload.h"

namespace kvbench {

enum class PrefixStrategy { kNone, kLazy, kActive, kHybrid };

// "none" | "lazy" | "active" | "hybrid"; InvalidArgument naming the value otherwise.
absl::StatusOr<PrefixStrategy> ParsePrefixStrategy(std::string_view name);
const char* PrefixStrategyName(PrefixStrategy strategy);

struct ServeOptions {
  CacheSpec cache;  // each request's KV cache; the policy must be `full`
  PrefixStrategy strategy = PrefixStrategy::kLazy;
  int block_tokens = 16;
  uint64_t budget_bytes = 0;
  EvictionRule eviction = EvictionRule::kLru;
  int warmup_requests = 0;
  int active_top_k = 4;                             // active/hybrid: frequent prefixes to warm
  std::vector<std::vector<int>> declared_prefixes;  // active/hybrid: warmed first (BOS first)
  int context_tokens = 0;                           // cache shape; 0 = the model's context length
  bool keep_logits = false;                         // keep each measured request's logits
  // Progress: called with 1 after each request of the trace is served (warm-up or measured), and
  // with the warm-up count once active warming is done; trace.size() in all.
  std::function<void(int requests)> on_requests;
};

struct RequestResult {
  std::string id;
  int prompt_tokens = 0;
  int cached_tokens = 0;    // reused from the prefix cache
  int blocks_eligible = 0;  // whole blocks of the prompt without its last token
  int blocks_hit = 0;
  double ttft_ms = 0;
  std::vector<float> logits;  // (vocab) of the last prompt token, when keep_logits
};

struct ServeReport {
  std::vector<RequestResult> requests;  // the measured ones, in trace order
  int64_t blocks_eligible = 0, blocks_hit = 0;
  int64_t tokens_requested = 0;  // prefill tokens asked for (sum of prompt lengths)
  int64_t tokens_cached = 0;     // of those, reused
  int64_t tokens_computed = 0;   // requested - cached
  double hit_rate_blocks = 0;    // blocks_hit / blocks_eligible (0 when none eligible)
  double hit_rate_tokens = 0;    // tokens_cached / tokens_requested
  double ttft_ms_p50 = 0, ttft_ms_p95 = 0, ttft_ms_mean = 0;
  uint64_t bytes_per_token = 0;  // accounted bytes per cached token
  uint64_t cache_bytes_end = 0;  // accounted, at the end
  uint64_t cache_bytes_peak = 0;
  uint64_t cache_f32_bytes_end = 0;  // the f32 payload actually held
  int64_t blocks_end = 0, blocks_added = 0, evictions = 0, collisions = 0;
  int warm_prefixes = 0;             // active/hybrid: prefixes warmed
  int64_t warm_tokens_computed = 0;  // prefill done before the trace to warm the cache
};

// Accounted bytes of one cached token: layers x KV heads x head_dim x (BytesPerValue of the K store
// + of the V store), rounded up. Errors as BytesPerValue's.
absl::StatusOr<uint64_t> PrefixBytesPerToken(const CacheSpec& spec, const ModelConfig& config);

// The `k` most valuable block-aligned prefixes of `window` (each no longer than its request minus
// one token): those shared by at least two requests, ranked by (requests sharing it) x (length),
// longer first on ties; a prefix of one already chosen is skipped (warming the longer one caches
// it too).
std::vector<std::vector<int>> FrequentPrefixes(absl::Span<const TraceRequest> window,
                                               int block_tokens, int k);

// Runs the trace. InvalidArgument for a policy other than `full`, a bad cache spec or bad options;
// OutOfRange for a request that is empty or longer than the context.
absl::StatusOr<ServeReport> Serve(Decoder& decoder, absl::Span<const TraceRequest> trace,
                                  const ServeOptions& options);

}  // namespace kvbench

#endif  // KVBENCH_PREFIX_SERVE_H_
