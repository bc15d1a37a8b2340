// PolicyCache joins a CachePolicy (which positions stay) with a key store and a value store (how
// they are held) into the KvCache the decoder calls. It owns the cell metadata (KvCells: each
// entry's absolute position), computes attention through the stores, hands the probabilities to the
// policy, and at the end of each step checks the policy's plan, applies it to cells and stores and
// tells the policy (OnKeep).
//
// Positions: by default keys keep the RoPE rotation of their original position. With
// PositionMode::kCache (StreamingLLM's choice) entries are re-assigned contiguous positions ending
// at the newest token after every eviction. The K store keeps each key as it was appended (rotated
// to its original position, encoded once); attention rotates a key whose position changed by the
// difference as it reads it, so re-assigning positions never re-encodes a key and a quantized
// store's rounding error cannot compound from one eviction to the next (StreamingLLM caches keys
// before RoPE for the same reason). Until the first eviction nothing moves, and attention is the
// store's own kernel, bit for bit the same as with original positions.
//
// When: the policy plans at the end of the steps its EvictionSchedule names (`when`: every step,
// once after the prompt, or every N decode steps); at the other steps every entry stays.
#ifndef KVBENCH_POLICIES_POLICY_CACHE_H_
#define KVBENCH_POLICIES_POLICY_CACHE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/aligned.h"
#include "model/kv_cache.h"
#include "policies/cache_policy.h"
#include "policies/eviction_schedule.h"
#include "policies/kv_cells.h"
#include "stores/kv_store.h"

namespace kvbench {

enum class PositionMode { kOriginal, kCache };

struct PolicyCacheOptions {
  PositionMode positions = PositionMode::kOriginal;
  // The steps at whose end the policy plans (its `when`); the others keep every entry.
  EvictionSchedule schedule;
  // What the cache is, for messages: CacheSpec::Label() when the registry built it.
  std::string label = "policy cache";
};

class PolicyCache : public KvCache {
 public:
  PolicyCache(const CacheShape& shape, std::unique_ptr<CachePolicy> policy,
              std::unique_ptr<KvStore> k_store, std::unique_ptr<KvStore> v_store,
              PolicyCacheOptions options = {});

  void BeginStep(int pos0, int n_tokens) override;
  void Append(int layer, const float* k, const float* v) override;
  void Attend(int layer, const float* q, float* out) override;
  void AttendMirror(int layer, const float* q, float* scratch) override;
  void EndStep() override;
  bool retains_entries() const override { return policy_->retains_entries(); }
  int n_past() const override { return n_past_; }
  KvMemory memory(int layer) const override;

  // Absolute positions of the entries of (layer, head), in order.
  absl::Span<const int32_t> positions(int layer, int head) const {
    return cells_.positions(layer, head);
  }
  const std::string& label() const { return label_; }
  const CachePolicy& policy() const { return *policy_; }
  // The entries (layer, head) may hold after a step: the policy's bound where its schedule acted
  // on every step since the bound last held, plus the tokens appended at the steps it skipped
  // (`when=once` keeps every decoded token). -1: no bound.
  int64_t max_entries(int layer) const;
  int64_t max_layer_entries(int layer) const;
  const KvStore& k_store() const { return *k_store_; }
  const KvStore& v_store() const { return *v_store_; }
  const CacheShape& shape() const { return shape_; }

  // Nanoseconds spent in policy bookkeeping (policy hooks and compaction), cumulative.
  int64_t policy_ns() const { return policy_ns_; }

 private:
  // A piece of a step's attention: the query tokens [t_begin, t_end) of KV head `head` over the
  // entries the last of them sees. `reported`: some of its rows go to the policy's OnAttention.
  struct AttentionUnit {
    int head;
    int t_begin;
    int t_end;
    bool reported;
  };
  // Scratch of one thread's unit, reused across steps.
  struct AttentionScratch {
    AlignedVector<float> q;      // (tokens * group, head_dim) the unit's queries of its KV head
    AlignedVector<float> probs;  // (tokens * group, entries or the unit's visible entries)
    AlignedVector<float> out;    // (tokens * group, head_dim)
  };
  // The policy's OnQueries, for Attend and AttendMirror alike.
  void ReportQueries(int layer, const float* q);
  // Attention of the step's query tokens [first_token, n_tokens_), into `out` (all rows) unless
  // it is null (a mirror), reporting the rows the policy observes.
  void AttendRows(int layer, const float* q, int first_token, float* out);
  void AttendUnit(int layer, const AttentionUnit& u, const float* q, float* out,
                  AttentionScratch* s) const;

  // positions=cache: the positions the keys of (layer, head) are rotated to after an eviction.
  void ReassignPositions(int layer, int head);
  // positions=cache: whether a key of (layer, head) sits at another position than it was stored
  // at; if so keys_[head] = the n keys, each rotated by the difference.
  bool RotatedKeys(int layer, int head, int n);

  CacheShape shape_;
  std::unique_ptr<CachePolicy> policy_;
  std::unique_ptr<KvStore> k_store_;
  std::unique_ptr<KvStore> v_store_;
  PositionMode position_mode_;
  EvictionSchedule schedule_;
  int steps_ = 0;  // BeginStep calls so far (1 during the first step)
  // Tokens appended at the steps since the schedule last acted (0 right after it acts).
  int64_t unplanned_tokens_ = 0;
  std::string label_;
  KvCells cells_;
  int pos0_ = 0;
  int n_tokens_ = 0;
  int n_past_ = 0;
  int64_t policy_ns_ = 0;
  // Scratch reused across steps: the units of one Attend and one AttentionScratch per thread.
  std::vector<AttentionUnit> units_;
  std::vector<AttentionScratch> scratch_;
  std::vector<int> keep_;
  // positions=cache only.
  // (rope_dims / 2) the model's pair frequencies, scaling included, so that a moved key turns by
  // the angle its new position gives in the decoder.
  std::vector<double> rope_freqs_;
  std::vector<double> sliding_rope_freqs_;  // (rope_dims / 2) sliding layers' own, or empty
  std::vector<float> rope_cos_, rope_sin_;  // (rope_dims / 2): one rotation
  std::vector<float> stored_keys_;          // (entries, head_dim): OnStoredKeys' rows
  std::vector<uint8_t> moved_;              // (kv_heads) whether keys_[head] holds the keys
  std::vector<AlignedVector<float>> keys_;  // (kv_heads) -> (entries, head_dim)
};

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_POLICY_CACHE_H_
