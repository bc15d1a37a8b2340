#include "policies/policy_cache.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "base/case_guard.h"
#include "base/check.h"
#include "model/ops.h"
#include "model/rope.h"

namespace kvbench {
namespace {

// A prefill block attends in chunks of query tokens. A chunk reads the entries its last query can
// see, so the masked triangle it computes and discards is kChunkTokens^2 / 2 scores per chunk (1.6%
// of a 4096-token prefill's attention at 64) while each K/V row read still serves
// kChunkTokens * group queries. Scores of one chunk are bounded too: a long cache does not need
// tokens x entries floats at once.
constexpr int kChunkTokens = 64;
constexpr int64_t kMaxScoresPerChunk = int64_t{1} << 22;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

PolicyCache::PolicyCache(const CacheShape& shape, std::unique_ptr<CachePolicy> policy,
                         std::unique_ptr<KvStore> k_store, std::unique_ptr<KvStore> v_store,
                         PolicyCacheOptions options)
    : shape_(shape),
      policy_(std::move(policy)),
      k_store_(std::move(k_store)),
      v_store_(std::move(v_store)),
      position_mode_(options.positions),
      schedule_(options.schedule),
      label_(std::move(options.label)),
      cells_(shape.n_layers, shape.n_kv_heads, options.positions == PositionMode::kCache),
      rope_freqs_(RopeFrequencies(shape.rope_dims, shape.rope_theta, shape.rope_freq_factors)),
      sliding_rope_freqs_(shape.sliding_rope_theta > 0.0f
                              ? RopeFrequencies(shape.rope_dims, shape.sliding_rope_theta,
                                                shape.sliding_rope_freq_factors)
                              : std::vector<double>()) {
  KVBENCH_CHECK(
      shape.layer_windows.empty() || static_cast<int>(shape.layer_windows.size()) == shape.n_layers,
      "%zu layer windows for %d layers", shape.layer_windows.size(), shape.n_layers);
}

void PolicyCache::BeginStep(int pos0, int n_tokens) {
  KVBENCH_CHECK(pos0 == n_past_ || !policy_->retains_entries(),
                "step at position %d but the cache has seen %d tokens", pos0, n_past_);
  pos0_ = pos0;
  n_tokens_ = n_tokens;
  ++steps_;
  policy_->BeginStep(pos0, n_tokens);
}

void PolicyCache::Append(int layer, const float* k, const float* v) {
  const int hd = shape_.head_dim, kv_dim = shape_.kv_dim();
  for (int h = 0; h < shape_.n_kv_heads; ++h) {
    k_store_->Append(layer, h, k + h * hd, n_tokens_, kv_dim);
    v_store_->Append(layer, h, v + h * hd, n_tokens_, kv_dim);
    cells_.Append(layer, h, pos0_, n_tokens_);
  }
  const int64_t t0 = NowNs();
  for (int h = 0; h < shape_.n_kv_heads; ++h)
    policy_->OnAppend(layer, h, k + h * hd, n_tokens_, kv_dim);
  if (policy_->wants_queries()) {
    for (int h = 0; h < shape_.n_kv_heads; ++h)
      policy_->OnValues(layer, h, v + h * hd, n_tokens_, kv_dim);
  }
  policy_ns_ += NowNs() - t0;
}

void PolicyCache::Attend(int layer, const float* q, float* out) {
  ReportQueries(layer, q);
  AttendRows(layer, q, /*first_token=*/0, out);
}

// A mirror's output is the primary's: only the rows its policy reads are computed, and no
// Accumulate runs. Its policy gets the same OnAttention calls as when the cache runs alone.
void PolicyCache::AttendMirror(int layer, const float* q, float* scratch) {
  ReportQueries(layer, q);
  const int observed = policy_->wants_attention() ? policy_->observed_queries(n_tokens_) : 0;
  if (observed > 0) AttendRows(layer, q, n_tokens_ - observed, /*out=*/nullptr);
}

void PolicyCache::ReportQueries(int layer, const float* q) {
  if (!policy_->wants_queries()) return;
  const int64_t start = NowNs();
  policy_->OnQueries(layer, q, n_tokens_, shape_.n_heads * shape_.head_dim);
  policy_ns_ += NowNs() - start;
}

// The units are (KV head, chunk of query tokens), in that order, cut at the same token boundaries
// whatever first_token is; each is computed by one thread with the same arithmetic, so results do
// not depend on the thread count. The policy sees its OnAttention calls serially in unit order:
// units run in waves of one per thread, and each wave is reported before the next starts.
void PolicyCache::AttendRows(int layer, const float* q, int first_token, float* out) {
  const int hd = shape_.head_dim, group = shape_.group_size();
  const bool report = policy_->wants_attention();
  const int first_reported = report ? n_tokens_ - policy_->observed_queries(n_tokens_) : n_tokens_;
  units_.clear();
  int64_t work = 0;  // multiply-adds of the scores
  moved_.assign(shape_.n_kv_heads, 0);
  if (keys_.size() < static_cast<size_t>(shape_.n_kv_heads)) keys_.resize(shape_.n_kv_heads);
  for (int h = 0; h < shape_.n_kv_heads; ++h) {
    const int n = k_store_->size(layer, h);
    moved_[h] = position_mode_ == PositionMode::kCache && RotatedKeys(layer, h, n);
    // Entries appended this step are the last n_tokens_; older ones are visible to every query.
    const int n_old = n - n_tokens_;
    const int chunk = static_cast<int>(std::clamp<int64_t>(
        kMaxScoresPerChunk / (int64_t{group} * n), 1, std::min(kChunkTokens, n_tokens_)));
    for (int t0 = 0; t0 < n_tokens_; t0 += chunk) {
      const int t_end = std::min(t0 + chunk, n_tokens_);
      const AttentionUnit u{.head = h,
                            .t_begin = std::max(t0, first_token),
                            .t_end = t_end,
                            .reported = t_end > first_reported};
      if (u.t_begin >= u.t_end) continue;
      units_.push_back(u);
      work += int64_t{u.t_end - u.t_begin} * group * (n_old + u.t_end) * hd;
    }
  }
  const int n_units = static_cast<int>(units_.size());
  const bool parallel = n_units > 1 && work >= kMinParallelWork && !omp_in_parallel();
  const int slots = parallel ? std::min(NumThreads(), n_units) : 1;
  if (scratch_.size() < static_cast<size_t>(slots)) scratch_.resize(slots);
  ParallelFailure failure;            // a store's failed check, rethrown here (base/case_guard.h)
  if (first_reported >= n_tokens_) {  // nothing to report: any thread takes the next unit
#pragma omp parallel for schedule(dynamic, 1) num_threads(slots) if (parallel)
    for (int i = 0; i < n_units; ++i)
      failure.Run([&] { AttendUnit(layer, units_[i], q, out, &scratch_[omp_get_thread_num()]); });
    failure.Rethrow();
    return;
  }
  for (int w0 = 0; w0 < n_units; w0 += slots) {
    const int m = std::min(slots, n_units - w0);
#pragma omp parallel for schedule(static, 1) num_threads(slots) if (parallel && m > 1)
    for (int i = 0; i < m; ++i)
      failure.Run([&] { AttendUnit(layer, units_[w0 + i], q, out, &scratch_[i]); });
    failure.Rethrow();
    const int64_t start = NowNs();
    for (int i = 0; i < m; ++i) {
      const AttentionUnit& u = units_[w0 + i];
      if (!u.reported) continue;
      const int n = k_store_->size(layer, u.head);
      const int t0 = std::max(u.t_begin, first_reported);
      const float* probs = &scratch_[i].probs[static_cast<size_t>(t0 - u.t_begin) * group * n];
      policy_->OnAttention(layer, u.head, t0, probs, (u.t_end - t0) * group, n, n);
    }
    policy_ns_ += NowNs() - start;
  }
}

void PolicyCache::AttendUnit(int layer, const AttentionUnit& u, const float* q, float* out,
                             AttentionScratch* s) const {
  const int hd = shape_.head_dim, group = shape_.group_size(), q_dim = shape_.n_heads * hd;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int h = u.head, n = k_store_->size(layer, h), n_old = n - n_tokens_;
  const int nt = u.t_end - u.t_begin, n_q = nt * group;
  const int limit = n_old + u.t_end;  // entries the unit's last query sees
  // A reported unit's rows span every entry (masked ones 0), as OnAttention reads them.
  const int ld = u.reported ? n : limit;
  s->q.resize(static_cast<size_t>(n_q) * hd);
  s->probs.resize(static_cast<size_t>(n_q) * ld);
  for (int t = 0; t < nt; ++t) {
    std::copy_n(
        q + static_cast<size_t>(u.t_begin + t) * q_dim + static_cast<size_t>(h) * group * hd,
        group * hd, &s->q[static_cast<size_t>(t) * group * hd]);
  }
  if (moved_[h]) {
    const AlignedVector<float>& keys = keys_[h];
    for (int i = 0; i < n_q; ++i) {
      const float* qi = &s->q[static_cast<size_t>(i) * hd];
      for (int j = 0; j < limit; ++j) {
        const float* kj = &keys[static_cast<size_t>(j) * hd];
        float dot = 0.0f;
        for (int d = 0; d < hd; ++d) dot += qi[d] * kj[d];
        s->probs[static_cast<size_t>(i) * ld + j] = dot;
      }
    }
  } else {
    k_store_->Dot(layer, h, limit, s->q.data(), n_q, s->probs.data(), ld);
  }
  // A sliding layer's query at position p sees only keys at p - window < pos (the model's mask,
  // applied to whatever the policy kept): entries are in position order, so that is a suffix.
  // The positions are those the keys are rotated to: the original ones, or with positions=cache
  // the re-assigned ones, so that the mask measures the distances the model's RoPE sees.
  const int window = shape_.window(layer);
  const absl::Span<const int32_t> pos = position_mode_ == PositionMode::kCache
                                            ? cells_.rope_positions(layer, h)
                                            : cells_.positions(layer, h);
  for (int i = 0; i < n_q; ++i) {
    float* p = &s->probs[static_cast<size_t>(i) * ld];
    const int visible = n_old + u.t_begin + i / group + 1;
    int first = 0;
    if (window > 0) {
      const int32_t oldest = pos0_ + u.t_begin + i / group - window + 1;
      first = static_cast<int>(std::lower_bound(pos.begin(), pos.begin() + visible, oldest) -
                               pos.begin());
    }
    std::fill(p, p + first, 0.0f);
    for (int j = first; j < visible; ++j) p[j] *= scale;
    Softmax(p + first, visible - first);
    std::fill(p + visible, p + ld, 0.0f);
  }
  if (out == nullptr) return;
  s->out.resize(static_cast<size_t>(n_q) * hd);
  v_store_->Accumulate(layer, h, limit, s->probs.data(), ld, n_q, s->out.data());
  for (int t = 0; t < nt; ++t) {
    std::copy_n(
        &s->out[static_cast<size_t>(t) * group * hd], group * hd,
        out + static_cast<size_t>(u.t_begin + t) * q_dim + static_cast<size_t>(h) * group * hd);
  }
}

void PolicyCache::EndStep() {
  const int64_t start = NowNs();
  n_past_ = pos0_ + n_tokens_;
  for (int l = 0; schedule_.acts(steps_) && l < shape_.n_layers; ++l) {
    for (int h = 0; h < shape_.n_kv_heads; ++h) {
      keep_.clear();
      if (policy_->plans_from_stored_keys()) {
        const int n = k_store_->size(l, h), hd = shape_.head_dim;
        stored_keys_.resize(static_cast<size_t>(n) * hd);
        for (int j = 0; j < n; ++j)
          k_store_->Read(l, h, j, &stored_keys_[static_cast<size_t>(j) * hd]);
        policy_->OnStoredKeys(l, h, stored_keys_.data(), n);
      }
      if (!policy_->SelectKeep(l, h, cells_.positions(l, h), &keep_)) continue;
      const bool evicts = static_cast<int>(keep_.size()) < cells_.size(l, h);
      const absl::Status applied = cells_.Apply(l, h, keep_);
      KVBENCH_CHECK(applied.ok(), "policy %s returned an invalid keep list: %s", label_.c_str(),
                    std::string(applied.message()).c_str());
      policy_->OnKeep(l, h, keep_);
      if (!evicts) continue;
      k_store_->Compact(l, h, keep_);
      v_store_->Compact(l, h, keep_);
      if (position_mode_ == PositionMode::kCache) ReassignPositions(l, h);
    }
  }
  unplanned_tokens_ = schedule_.acts(steps_) ? 0 : unplanned_tokens_ + n_tokens_;
  policy_->EndStep();
  policy_ns_ += NowNs() - start;
}

int64_t PolicyCache::max_entries(int layer) const {
  const int64_t bound = policy_->max_entries(layer);
  return bound < 0 ? bound : bound + unplanned_tokens_;
}

int64_t PolicyCache::max_layer_entries(int layer) const {
  const int64_t bound = policy_->max_layer_entries(layer);
  return bound < 0 ? bound : bound + unplanned_tokens_ * shape_.n_kv_heads;
}

void PolicyCache::ReassignPositions(int layer, int head) {
  absl::Span<int32_t> rope_pos = cells_.rope_positions(layer, head);
  const int n = static_cast<int>(rope_pos.size());
  for (int i = 0; i < n; ++i) rope_pos[i] = (n_past_ - 1) - (n - 1 - i);
}

bool PolicyCache::RotatedKeys(int layer, int head, int n) {
  absl::Span<const int32_t> pos = cells_.positions(layer, head);
  absl::Span<const int32_t> rope_pos = cells_.rope_positions(layer, head);
  bool moved = false;
  for (int j = 0; j < n && !moved; ++j) moved = rope_pos[j] != pos[j];
  if (!moved) return false;
  const int hd = shape_.head_dim;
  rope_cos_.resize(shape_.rope_dims / 2);
  rope_sin_.resize(shape_.rope_dims / 2);
  AlignedVector<float>& keys = keys_[head];
  keys.resize(static_cast<size_t>(n) * hd);
  // A sliding layer with its own RoPE (Gemma-3) turns its keys with its own frequencies.
  const std::vector<double>& freqs =
      shape_.window(layer) > 0 && !sliding_rope_freqs_.empty() ? sliding_rope_freqs_ : rope_freqs_;
  int last_delta = 0;
  for (int j = 0; j < n; ++j) {
    float* key = &keys[static_cast<size_t>(j) * hd];
    k_store_->Read(layer, head, j, key);
    const int delta = rope_pos[j] - pos[j];
    if (delta == 0) continue;
    if (delta != last_delta) {  // kept keys move in runs of one delta: few cos/sin evaluations
      RopeCosSin(delta, freqs, rope_cos_.data(), rope_sin_.data());
      last_delta = delta;
    }
    ApplyRope(key, 1, hd, shape_.rope_dims, rope_cos_.data(), rope_sin_.data());
  }
  return true;
}

KvMemory PolicyCache::memory(int layer) const {
  const KvMemory k = k_store_->memory(layer), v = v_store_->memory(layer);
  const uint64_t cells = cells_.bytes(layer), cells_allocated = cells_.allocated_bytes(layer);
  const uint64_t meta = policy_->metadata_bytes(layer);
  uint64_t entries = 0;
  for (int h = 0; h < shape_.n_kv_heads; ++h) entries += cells_.size(layer, h);
  return KvMemory{.logical = k.logical + v.logical + cells + meta,
                  .allocated = k.allocated + v.allocated + cells_allocated + meta,
                  .peak = k.peak + v.peak + cells_allocated + meta,
                  .payload = k.logical + v.logical,
                  .index = cells,
                  .entries = entries};
}

}  // namespace kvbench
