#include "policies/lagkv.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "policies/score_utils.h"

namespace kvbench {
namespace {

// softmax over the partition's tokens of the unbiased std over channels of each row of `rows`
// (lag, d) scaled to the range of `ref` (lag, d) per channel; added, halved, into out (lag).
void AddPartitionScore(const float* rows, const float* ref, int lag, int d, float* out) {
  std::vector<float> lo(d, INFINITY), hi(d, -INFINITY);
  for (int t = 0; t < lag; ++t) {
    for (int c = 0; c < d; ++c) {
      lo[c] = std::min(lo[c], ref[static_cast<size_t>(t) * d + c]);
      hi[c] = std::max(hi[c], ref[static_cast<size_t>(t) * d + c]);
    }
  }
  std::vector<double> s(lag);
  std::vector<float> x(d);
  for (int t = 0; t < lag; ++t) {
    double mean = 0.0;
    for (int c = 0; c < d; ++c) {
      x[c] = (rows[static_cast<size_t>(t) * d + c] - lo[c]) / (hi[c] - lo[c]);
      mean += x[c];
    }
    mean /= d;
    double ss = 0.0;
    for (int c = 0; c < d; ++c) ss += (x[c] - mean) * (x[c] - mean);
    s[t] = std::sqrt(ss / (d - 1));
  }
  const double top = *std::max_element(s.begin(), s.end());
  double total = 0.0;
  for (double& v : s) total += (v = std::exp(v - top));
  for (int t = 0; t < lag; ++t) out[t] += static_cast<float>(s[t] / total / 2.0);
}

}  // namespace

LagKvPolicy::LagKvPolicy(const CacheShape& shape, int budget, int n_sink, int lag)
    : n_kv_heads_(shape.n_kv_heads),
      head_dim_(shape.head_dim),
      budget_(budget),
      n_sink_(n_sink),
      lag_(lag),
      keys_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads),
      values_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads) {}

void LagKvPolicy::BeginStep(int pos0, int n_tokens) {
  ++step_;
  if (step_ == 1) prompt_len_ = pos0 + n_tokens;
  n_past_ = pos0 + n_tokens;
}

void LagKvPolicy::OnAppend(int layer, int head, const float* keys, int n, int ld) {
  if (step_ != 1) return;
  std::vector<float>& k = keys_[static_cast<size_t>(layer) * n_kv_heads_ + head];
  for (int i = 0; i < n; ++i) k.insert(k.end(), keys + i * ld, keys + i * ld + head_dim_);
}

void LagKvPolicy::OnValues(int layer, int head, const float* values, int n, int ld) {
  std::vector<float>& v = values_[static_cast<size_t>(layer) * n_kv_heads_ + head];
  for (int i = 0; i < n; ++i) v.insert(v.end(), values + i * ld, values + i * ld + head_dim_);
}

std::vector<float> LagKvPolicy::Scores(const float* keys, const float* values, int n, int head_dim,
                                       int n_sink, int lag) {
  std::vector<float> score(n, 1.0f);
  if (n < n_sink + 2 * lag) {
    for (int i = n_sink; i < n; ++i) {
      score[i] = static_cast<float>(i - n_sink) / static_cast<float>(n - n_sink);
    }
    return score;
  }
  const int partitions = (n - n_sink) / lag;  // the last is scored 1 with the remainder
  std::vector<float> s(lag);
  std::vector<int> order(lag);
  for (int p = 0; p + 1 < partitions; ++p) {
    const size_t row = static_cast<size_t>(n_sink + p * lag) * head_dim;
    const size_t next = row + static_cast<size_t>(lag) * head_dim;
    std::fill(s.begin(), s.end(), 0.0f);
    AddPartitionScore(keys + row, keys + next, lag, head_dim, s.data());
    AddPartitionScore(values + row, values + next, lag, head_dim, s.data());
    // Rank within the partition (0 = lowest), over lag.
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return s[a] < s[b]; });
    for (int r = 0; r < lag; ++r) {
      score[n_sink + p * lag + order[r]] = static_cast<float>(r) / static_cast<float>(lag);
    }
  }
  return score;
}

bool LagKvPolicy::SelectKeep(int layer, int head, absl::Span<const int32_t> positions,
                             std::vector<int>* keep) const {
  const int n = static_cast<int>(positions.size());
  if (step_ != 1 || n <= budget_) return false;
  const size_t slot = static_cast<size_t>(layer) * n_kv_heads_ + head;
  KVBENCH_CHECK(keys_[slot].size() == static_cast<size_t>(n) * head_dim_ &&
                    values_[slot].size() == keys_[slot].size(),
                "lagkv: %zu key and %zu value floats for %d entries", keys_[slot].size(),
                values_[slot].size(), n);
  TopK(Scores(keys_[slot].data(), values_[slot].data(), n, head_dim_, n_sink_, lag_), budget_,
       keep);
  return true;
}

void LagKvPolicy::EndStep() {
  if (step_ != 1) return;
  std::vector<std::vector<float>>().swap(keys_);
  std::vector<std::vector<float>>().swap(values_);
}

uint64_t LagKvPolicy::metadata_bytes(int layer) const {
  uint64_t b = 0;
  for (int h = 0; h < n_kv_heads_ && !keys_.empty(); ++h) {
    const size_t slot = static_cast<size_t>(layer) * n_kv_heads_ + h;
    b += (keys_[slot].size() + values_[slot].size()) * sizeof(float);
  }
  return b;
}

int64_t LagKvPolicy::max_entries(int layer) const {
  if (prompt_len_ == 0) return -1;
  return std::min(prompt_len_, budget_) + (n_past_ - prompt_len_);
}

PolicyInfo LagKvInfo() {
  return {.name = "lagkv",
          .description =
              "one-shot after prefill: partitions ranked by their keys' and values' "
              "spread relative to the next partition, plus sinks and the tail",
          .paper = "arXiv:2504.04704",
          .one_shot = true,
          .params = {BudgetSpec(),
                     {.name = "n_sink",
                      .type = ParamType::kInt,
                      .default_value = "4",
                      .help = "first prompt tokens: always kept",
                      .choices = {}},
                     {.name = "lag",
                      .type = ParamType::kInt,
                      .default_value = "128",
                      .help = "tokens per partition, each scored against the next",
                      .choices = {}}},
          .make = [](const Params& p, const CacheShape& s) -> PolicyOr {
            ASSIGN_OR_RETURN(const int budget, CheckedPromptBudget(p, "lagkv", s));
            const int n_sink = p.GetInt("n_sink"), lag = p.GetInt("lag");
            if (n_sink < 0) return InvalidParam(p, "lagkv", "n_sink", "must be >= 0");
            if (lag < 2) return InvalidParam(p, "lagkv", "lag", "must be at least 2");
            if (s.head_dim < 2) {
              return absl::InvalidArgumentError(
                  absl::StrCat("policy lagkv: head_dim ", s.head_dim, " has no spread (std)"));
            }
            return std::make_unique<LagKvPolicy>(s, budget, n_sink, lag);
          }};
}

}  // namespace kvbench
