// expected_attention: kvpress ExpectedAttentionPress (NVIDIA, "Expected Attention: KV cache
// compression by estimating attention from future queries distribution", arXiv:2510.00636): keep
// the keys that the *future* queries are expected to attend to, modelling those queries as a
// Gaussian fitted to the prompt's queries, rotated by the average RoPE of the next positions.
//   keep(p) <=> p < n_sink || (E[a(p)] + epsilon) ||v_p|| among the top (budget - n_sink)
//   E[a(p)] = mean over the KV head's query group of softmax_p(mu_R . k_p / sqrt(d)
//                                                             + k_p^T Sigma_R k_p / (2 d))
//
// mu, Sigma: mean and (biased) covariance of each query head's pre-RoPE queries over the prompt
// without its first n_sink tokens; R: the mean of the RoPE rotations of positions n .. n +
// n_future - 1 for an n-token prompt; mu_R = R mu, Sigma_R = R Sigma R^T; softmax over the
// positions p >= n_sink. use_covariance=false drops the Sigma term, use_vnorm=false the ||v||
// factor (kvpress's parameters and defaults). Queries arrive with RoPE at their positions and are
// rotated back. One-shot at the end of prefill, like kvpress and snapkv: a ratio budget is of the
// prompt, tokens decoded afterwards are all kept.
#ifndef KVBENCH_POLICIES_EXPECTED_ATTENTION_H_
#define KVBENCH_POLICIES_EXPECTED_ATTENTION_H_

#include <cstdint>
#include <vector>

#include "policies/cache_policy.h"
#include "policies/policy_info.h"

namespace kvbench {

struct ExpectedAttentionOptions {
  int budget = 0;      // entries per KV head after compression, sinks included (> n_sink)
  int n_future = 512;  // future positions whose rotations are averaged
  int n_sink = 4;      // first prompt tokens: kept, and left out of the query statistics
  bool use_covariance = true;
  bool use_vnorm = true;
  double epsilon = 0.0;  // added to the expected attention before the ||v|| factor
};

class ExpectedAttentionPolicy : public CachePolicy {
 public:
  ExpectedAttentionPolicy(const CacheShape& shape, const ExpectedAttentionOptions& options);

  PolicyTraits traits() const override { return {.budget = options_.budget}; }
  bool wants_queries() const override { return step_ == 1; }
  void BeginStep(int pos0, int n_tokens) override;
  void OnAppend(int layer, int head, const float* keys, int n, int ld) override;
  void OnValues(int layer, int head, const float* values, int n, int ld) override;
  void OnQueries(int layer, const float* q, int n_tokens, int ld) override;
  bool SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                  std::vector<int>* keep) const override;
  void EndStep() override;
  uint64_t metadata_bytes(int layer) const override;
  int64_t max_entries(int layer) const override;

  // Scores of the prompt entries n_sink .. n - 1 of (layer, head) (after the prefill's
  // attention), the higher the more expected attention: what SelectKeep ranks.
  std::vector<float> PromptScores(int layer, int head) const;

 private:
  // Query statistics of one query head over the prompt: sums in double.
  struct QueryMoments {
    int64_t count = 0;
    std::vector<double> sum;    // (head_dim)
    std::vector<double> outer;  // (head_dim, head_dim): sum of q q^T
  };

  // mu_R (head_dim) and Sigma_R (head_dim, head_dim) of query head `qh` of `layer`.
  void RotatedMoments(int layer, int qh, std::vector<double>* mu, std::vector<double>* cov) const;
  // x = R x for the mean rotation R (pairs (2i, 2i+1), rope_dims / 2 of them); x strided by
  // `stride` doubles.
  void Rotate(double* x, int stride) const;

  CacheShape shape_;
  ExpectedAttentionOptions options_;
  std::vector<double> rope_freqs_;           // (rope_dims / 2)
  std::vector<float> cos_, sin_;             // scratch: one position's rotation
  std::vector<double> mean_cos_, mean_sin_;  // (rope_dims / 2): the mean rotation R
  int step_ = 0;
  int pos0_ = 0;
  int prompt_len_ = 0;
  int n_past_ = 0;
  // Prefill only, released at its EndStep.
  std::vector<QueryMoments> moments_;       // (layers * heads)
  std::vector<std::vector<float>> keys_;    // (layers * kv_heads) -> (entries, head_dim)
  std::vector<std::vector<float>> vnorms_;  // (layers * kv_heads) -> (entries)
  std::vector<float> query_;                // scratch: one query head, rotated back
};

PolicyInfo ExpectedAttentionInfo();

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_EXPECTED_ATTENTION_H_
