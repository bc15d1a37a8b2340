#include "policies/expected_attention.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "model/rope.h"
#include "policies/score_utils.h"

namespace kvbench {

ExpectedAttentionPolicy::ExpectedAttentionPolicy(const CacheShape& shape,
                                                 const ExpectedAttentionOptions& options)
    : shape_(shape),
      options_(options),
      rope_freqs_(RopeFrequencies(shape.rope_dims, shape.rope_theta, shape.rope_freq_factors)),
      cos_(shape.rope_dims / 2),
      sin_(shape.rope_dims / 2),
      moments_(static_cast<size_t>(shape.n_layers) * shape.n_heads),
      keys_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads),
      vnorms_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads) {}

void ExpectedAttentionPolicy::BeginStep(int pos0, int n_tokens) {
  ++step_;
  pos0_ = pos0;
  if (step_ == 1) prompt_len_ = pos0 + n_tokens;
  n_past_ = pos0 + n_tokens;
  if (step_ != 1) return;
  // R = mean over the next n_future positions of the rotation of each pair (kvpress: positions
  // q_len .. q_len + n_future - 1).
  const int pairs = shape_.rope_dims / 2;
  mean_cos_.assign(pairs, 0.0);
  mean_sin_.assign(pairs, 0.0);
  for (int t = 0; t < options_.n_future; ++t) {
    const double pos = static_cast<double>(prompt_len_) + t;
    for (int i = 0; i < pairs; ++i) {
      mean_cos_[i] += std::cos(pos * rope_freqs_[i]);
      mean_sin_[i] += std::sin(pos * rope_freqs_[i]);
    }
  }
  for (int i = 0; i < pairs; ++i) {
    mean_cos_[i] /= options_.n_future;
    mean_sin_[i] /= options_.n_future;
  }
}

void ExpectedAttentionPolicy::OnAppend(int layer, int head, const float* keys, int n, int ld) {
  if (step_ != 1) return;
  std::vector<float>& k = keys_[static_cast<size_t>(layer) * shape_.n_kv_heads + head];
  for (int i = 0; i < n; ++i) {
    const float* row = keys + static_cast<size_t>(i) * ld;
    k.insert(k.end(), row, row + shape_.head_dim);
  }
}

void ExpectedAttentionPolicy::OnValues(int layer, int head, const float* values, int n, int ld) {
  std::vector<float>& norms = vnorms_[static_cast<size_t>(layer) * shape_.n_kv_heads + head];
  for (int i = 0; i < n; ++i) {
    const float* v = values + static_cast<size_t>(i) * ld;
    double ss = 0.0;
    for (int d = 0; d < shape_.head_dim; ++d) ss += static_cast<double>(v[d]) * v[d];
    norms.push_back(static_cast<float>(std::sqrt(ss)));
  }
}

void ExpectedAttentionPolicy::OnQueries(int layer, const float* q, int n_tokens, int ld) {
  const int hd = shape_.head_dim;
  query_.resize(hd);
  // kvpress leaves the prompt's first n_sink hidden states (likely outliers) out of the statistics.
  for (int t = std::min(options_.n_sink, n_tokens); t < n_tokens; ++t) {
    RopeCosSin(-static_cast<double>(pos0_ + t), rope_freqs_, cos_.data(), sin_.data());
    for (int qh = 0; qh < shape_.n_heads; ++qh) {
      std::copy_n(q + static_cast<size_t>(t) * ld + static_cast<size_t>(qh) * hd, hd,
                  query_.data());
      ApplyRope(query_.data(), 1, hd, shape_.rope_dims, cos_.data(), sin_.data());
      QueryMoments& m = moments_[static_cast<size_t>(layer) * shape_.n_heads + qh];
      if (m.sum.empty()) {
        m.sum.assign(hd, 0.0);
        if (options_.use_covariance) m.outer.assign(static_cast<size_t>(hd) * hd, 0.0);
      }
      ++m.count;
      for (int i = 0; i < hd; ++i) m.sum[i] += query_[i];
      if (!options_.use_covariance) continue;
      for (int i = 0; i < hd; ++i) {
        const double qi = query_[i];
        double* row = &m.outer[static_cast<size_t>(i) * hd];
        for (int j = 0; j < hd; ++j) row[j] += qi * query_[j];
      }
    }
  }
}

void ExpectedAttentionPolicy::Rotate(double* x, int stride) const {
  for (size_t i = 0; i < mean_cos_.size(); ++i) {
    const double a = x[2 * i * stride], b = x[(2 * i + 1) * stride];
    x[2 * i * stride] = mean_cos_[i] * a - mean_sin_[i] * b;
    x[(2 * i + 1) * stride] = mean_sin_[i] * a + mean_cos_[i] * b;
  }
}

void ExpectedAttentionPolicy::RotatedMoments(int layer, int qh, std::vector<double>* mu,
                                             std::vector<double>* cov) const {
  const int hd = shape_.head_dim;
  const QueryMoments& m = moments_[static_cast<size_t>(layer) * shape_.n_heads + qh];
  KVBENCH_CHECK(m.count > 0, "expected_attention: no queries of layer %d head %d", layer, qh);
  mu->resize(hd);
  for (int i = 0; i < hd; ++i) (*mu)[i] = m.sum[i] / m.count;
  Rotate(mu->data(), 1);
  cov->clear();
  if (!options_.use_covariance) return;
  // Sigma = E[q q^T] - mu mu^T with the unrotated mean, then R Sigma R^T: R on every row (Sigma
  // R^T), then on every column.
  std::vector<double> mean(hd);
  for (int i = 0; i < hd; ++i) mean[i] = m.sum[i] / m.count;
  cov->resize(static_cast<size_t>(hd) * hd);
  for (int i = 0; i < hd; ++i) {
    for (int j = 0; j < hd; ++j) {
      (*cov)[static_cast<size_t>(i) * hd + j] =
          m.outer[static_cast<size_t>(i) * hd + j] / m.count - mean[i] * mean[j];
    }
  }
  for (int i = 0; i < hd; ++i) Rotate(&(*cov)[static_cast<size_t>(i) * hd], 1);
  for (int j = 0; j < hd; ++j) Rotate(&(*cov)[j], hd);
}

std::vector<float> ExpectedAttentionPolicy::PromptScores(int layer, int head) const {
  const int hd = shape_.head_dim, group = shape_.group_size(), sink = options_.n_sink;
  const size_t slot = static_cast<size_t>(layer) * shape_.n_kv_heads + head;
  const std::vector<float>& keys = keys_[slot];
  const int n = static_cast<int>(keys.size() / hd);
  const int m = n - sink;  // scored entries
  KVBENCH_CHECK(m > 0 && vnorms_[slot].size() == static_cast<size_t>(n),
                "expected_attention: %d keys, %zu values, %d sinks", n, vnorms_[slot].size(), sink);
  const double inv_sqrt_d = 1.0 / std::sqrt(static_cast<double>(hd));
  std::vector<double> mu, cov, logits(m);
  std::vector<float> scores(m, 0.0f);
  for (int g = 0; g < group; ++g) {
    RotatedMoments(layer, head * group + g, &mu, &cov);
    for (int j = 0; j < m; ++j) {
      const float* k = &keys[static_cast<size_t>(sink + j) * hd];
      double linear = 0.0, quadratic = 0.0;
      for (int a = 0; a < hd; ++a) linear += mu[a] * k[a];
      if (!cov.empty()) {
        for (int a = 0; a < hd; ++a) {
          const double* row = &cov[static_cast<size_t>(a) * hd];
          double s = 0.0;
          for (int b = 0; b < hd; ++b) s += row[b] * k[b];
          quadratic += k[a] * s;
        }
      }
      logits[j] = linear * inv_sqrt_d + quadratic / hd / 2.0;
    }
    const double top = *std::max_element(logits.begin(), logits.end());
    double total = 0.0;
    for (double& x : logits) total += (x = std::exp(x - top));
    for (int j = 0; j < m; ++j) scores[j] += static_cast<float>(logits[j] / total / group);
  }
  if (options_.use_vnorm) {
    for (int j = 0; j < m; ++j) {
      scores[j] = static_cast<float>((scores[j] + options_.epsilon) * vnorms_[slot][sink + j]);
    }
  }
  return scores;
}

bool ExpectedAttentionPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                                         std::vector<int>* keep) const {
  const int n = static_cast<int>(positions.size());
  if (step_ != 1 || n <= options_.budget) return false;
  const std::vector<float> scores = PromptScores(layer, head);
  AppendRange(0, options_.n_sink, keep);
  std::vector<int> picked;
  TopK(scores, options_.budget - options_.n_sink, &picked);
  for (int j : picked) keep->push_back(options_.n_sink + j);
  return true;
}

void ExpectedAttentionPolicy::EndStep() {
  if (step_ != 1) return;
  std::vector<QueryMoments>().swap(moments_);
  std::vector<std::vector<float>>().swap(keys_);
  std::vector<std::vector<float>>().swap(vnorms_);
}

uint64_t ExpectedAttentionPolicy::metadata_bytes(int layer) const {
  uint64_t b = 0;
  for (int h = 0; h < shape_.n_heads && !moments_.empty(); ++h) {
    const QueryMoments& m = moments_[static_cast<size_t>(layer) * shape_.n_heads + h];
    b += (m.sum.size() + m.outer.size()) * sizeof(double);
  }
  for (int h = 0; h < shape_.n_kv_heads && !keys_.empty(); ++h) {
    const size_t slot = static_cast<size_t>(layer) * shape_.n_kv_heads + h;
    b += (keys_[slot].size() + vnorms_[slot].size()) * sizeof(float);
  }
  return b;
}

int64_t ExpectedAttentionPolicy::max_entries(int layer) const {
  if (prompt_len_ == 0) return -1;
  return std::min(prompt_len_, options_.budget) + (n_past_ - prompt_len_);
}

PolicyInfo ExpectedAttentionInfo() {
  return {.name = "expected_attention",
          .description =
              "one-shot after prefill: attention expected from a Gaussian of future "
              "queries, times the value norm, plus the sinks",
          .paper = "arXiv:2510.00636 (kvpress ExpectedAttentionPress)",
          .one_shot = true,
          .params = {BudgetSpec(),
                     {.name = "n_future",
                      .type = ParamType::kInt,
                      .default_value = "512",
                      .help = "future positions whose RoPE rotations are averaged",
                      .choices = {}},
                     {.name = "n_sink",
                      .type = ParamType::kInt,
                      .default_value = "4",
                      .help = "first prompt tokens: always kept, left out of the query statistics",
                      .choices = {}},
                     {.name = "use_covariance",
                      .type = ParamType::kBool,
                      .default_value = "true",
                      .help = "add the queries' covariance term to the expected logit",
                      .choices = {}},
                     {.name = "use_vnorm",
                      .type = ParamType::kBool,
                      .default_value = "true",
                      .help = "multiply the expected attention by the value's L2 norm",
                      .choices = {}},
                     {.name = "epsilon",
                      .type = ParamType::kFloat,
                      .default_value = "0",
                      .help = "added to the expected attention before the value-norm factor",
                      .choices = {}}},
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const int budget, CheckedPromptBudget(p, "expected_attention", s));
            ExpectedAttentionOptions o{.budget = budget,
                                       .n_future = p.GetInt("n_future"),
                                       .n_sink = p.GetInt("n_sink"),
                                       .use_covariance = p.GetBool("use_covariance"),
                                       .use_vnorm = p.GetBool("use_vnorm"),
                                       .epsilon = p.GetFloat("epsilon")};
            if (o.n_future < 1) {
              return InvalidParam(p, "expected_attention", "n_future", "must be at least 1");
            }
            if (o.n_sink < 0 || o.n_sink >= o.budget) {
              return InvalidParam(p, "expected_attention", "n_sink",
                                  absl::StrCat("must be between 0 and the budget (", o.budget,
                                               " tokens) minus one: the budget holds the sinks"));
            }
            if (o.epsilon < 0.0) {
              return InvalidParam(p, "expected_attention", "epsilon", "must be >= 0");
            }
            return std::make_unique<ExpectedAttentionPolicy>(s, o);
          }};
}

}  // namespace kvbench
