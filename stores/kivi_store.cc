#include "stores/kivi_store.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status.h"
#include "stores/kivi_key_store.h"
#include "stores/kivi_value_store.h"
#include "stores/quant_kernels.h"

namespace kvbench {

absl::Status ValidateKiviOptions(const KiviOptions& options) {
  if (options.bits != 2 && options.bits != 4 && options.bits != 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("store kivi: parameter 'bits' = ", options.bits, " is not one of 2, 4, 8"));
  }
  if (options.group < 1 || options.group > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("store kivi: parameter 'group' = ", options.group, " is not in [1, 65536]"));
  }
  if (options.residual < 0 || options.residual > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "store kivi: parameter 'residual' = ", options.residual, " is not in [0, 1048576]"));
  }
  if (options.rule == KiviResidualRule::kKivi && options.residual % options.group != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "store kivi: parameter 'residual' = ", options.residual,
        " is not a multiple of 'group' = ", options.group,
        " (residual_rule=kivi quantizes the key residual in groups when it holds R tokens; "
        "residual_rule=kvbench takes any R)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateKivi(const KiviOptions& options, int head_dim, KvRole role) {
  RETURN_IF_ERROR(ValidateKiviOptions(options));
  if (head_dim <= 0 || head_dim % (8 / options.bits) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("store kivi: head_dim ", head_dim,
                                                   " is not a multiple of ", 8 / options.bits,
                                                   " (codes per byte at ", options.bits, " bits)"));
  }
  const int value_group = std::min(options.group, head_dim);
  if (role == KvRole::kValue && head_dim % value_group != 0) {
    return absl::InvalidArgumentError(absl::StrCat("store kivi: value groups of ", value_group,
                                                   " channels do not divide head_dim ", head_dim));
  }
  return absl::OkStatus();
}

double KiviBytesPerValue(const KiviOptions& options, int head_dim, KvRole role) {
  const double codes = options.bits / 8.0;
  // Keys: (scale, min) fp16 per channel per G tokens; values: per g channels of a token.
  if (role == KvRole::kKey) return codes + 4.0 / options.group;
  return codes + 4.0 / std::min(options.group, head_dim);
}

int64_t KiviQuantized(const KiviOptions& options, KvRole role, int64_t entries) {
  const int64_t R = options.residual, G = options.group;
  if (options.rule == KiviResidualRule::kKvbench) {
    return entries < R + G ? 0 : (entries - R) / G * G;
  }
  if (role == KvRole::kKey) {
    const int64_t flush = std::max(R, G);  // R is a multiple of G, or 0
    return entries / flush * flush;
  }
  return std::max<int64_t>(0, entries - R);
}

uint64_t KiviLayerBytes(const KiviOptions& options, KvRole role, const CacheShape& shape,
                        int64_t entries) {
  const int64_t quantized = KiviQuantized(options, role, entries);
  const uint64_t quantized_bytes =
      role == KvRole::kKey
          ? KiviKeyStore::GroupBytes(options, shape.head_dim, quantized / options.group, quantized)
          : static_cast<uint64_t>(quantized) * KiviValueStore::RowBytes(options, shape.head_dim);
  const uint64_t residual_bytes =
      static_cast<uint64_t>(entries - quantized) * shape.head_dim * sizeof(float);
  return (quantized_bytes + residual_bytes) * shape.n_kv_heads;
}

std::unique_ptr<KiviStore> MakeKiviStore(const CacheShape& shape, KvRole role,
                                         const KiviOptions& options) {
  if (role == KvRole::kKey) return std::make_unique<KiviKeyStore>(shape, options);
  return std::make_unique<KiviValueStore>(shape, options);
}

KiviStore::KiviStore(const CacheShape& shape, KvRole role, KiviOptions options)
    : options_(options),
      role_(role),
      n_kv_heads_(shape.n_kv_heads),
      head_dim_(shape.head_dim),
      code_bytes_(static_cast<size_t>(shape.head_dim) * options.bits / 8),
      heads_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads),
      allocated_(shape.n_layers, 0),
      peak_(shape.n_layers, 0) {
  const absl::Status s = ValidateKivi(options, shape.head_dim, role);
  KVBENCH_CHECK(s.ok(), "%s", std::string(s.message()).c_str());
}

std::string KiviStore::name() const {
  return absl::StrCat(
      "kivi(bits=", options_.bits, ",group=", options_.group, ",residual=", options_.residual,
      ",residual_rule=", options_.rule == KiviResidualRule::kKivi ? "kivi" : "kvbench", ")");
}

void KiviStore::QuantizeLeaving(int layer, int head) {
  Residual& h = at(layer, head);
  // The residual as if its tokens had been appended to an empty one: after an eviction it may
  // hold fewer than R, and the rule applies to what it holds now.
  const int done = static_cast<int>(KiviQuantized(options_, role_, h.n_residual));
  if (done > 0) {
    QuantizeRows(layer, head, h.rows.data(), done);
    h.n_quantized += done;
    h.rows.erase(h.rows.begin(), h.rows.begin() + static_cast<ptrdiff_t>(done) * head_dim_);
    h.n_residual -= done;
  }
}

void KiviStore::UpdateAllocated(int layer, int head) {
  Residual& h = at(layer, head);
  const uint64_t bytes = h.rows.capacity() * sizeof(float) + QuantizedCapacity(layer, head);
  allocated_[layer] += bytes - h.allocated;
  h.allocated = bytes;
  peak_[layer] = std::max(peak_[layer], allocated_[layer]);
}

void KiviStore::Append(int layer, int head, const float* rows, int n, int ld) {
  Residual& h = at(layer, head);
  if (h.rows.capacity() == 0) {
    h.rows.reserve(static_cast<size_t>(options_.residual + options_.group) * head_dim_);
  }
  h.rows.resize((static_cast<size_t>(h.n_residual) + n) * head_dim_);
  for (int i = 0; i < n; ++i) {
    std::memcpy(&h.rows[(static_cast<size_t>(h.n_residual) + i) * head_dim_],
                rows + static_cast<size_t>(i) * ld, head_dim_ * sizeof(float));
  }
  h.n_residual += n;
  QuantizeLeaving(layer, head);
  UpdateAllocated(layer, head);
}

void KiviStore::Compact(int layer, int head, absl::Span<const int> keep) {
  Residual& h = at(layer, head);
  const int total = h.n_quantized + h.n_residual;
  KVBENCH_CHECK(keep.empty() || (keep.front() >= 0 && keep.back() < total),
                "kivi: keep list out of range (%d entries)", total);
  const size_t n_keep_quantized =
      std::lower_bound(keep.begin(), keep.end(), h.n_quantized) - keep.begin();
  CompactQuantized(layer, head, keep.subspan(0, n_keep_quantized));
  int kept_residual = 0;
  for (size_t k = n_keep_quantized; k < keep.size(); ++k, ++kept_residual) {
    const int from = keep[k] - h.n_quantized;
    if (from != kept_residual) {
      std::memmove(&h.rows[static_cast<size_t>(kept_residual) * head_dim_],
                   &h.rows[static_cast<size_t>(from) * head_dim_], head_dim_ * sizeof(float));
    }
  }
  h.rows.resize(static_cast<size_t>(kept_residual) * head_dim_);
  h.n_quantized = static_cast<int>(n_keep_quantized);
  h.n_residual = kept_residual;
  UpdateAllocated(layer, head);
}

void KiviStore::Dot(int layer, int head, int n, const float* q, int n_q, float* scores,
                    int ld) const {
  const Residual& h = at(layer, head);
  KVBENCH_CHECK(n >= 0 && n <= size(layer, head), "kivi: %d of %d entries", n, size(layer, head));
  DotQuantized(layer, head, n, q, n_q, scores, ld);
  const int n_residual = std::clamp(n - h.n_quantized, 0, h.n_residual);
  DotRowsF32(h.rows.data(), n_residual, head_dim_, q, n_q, scores + h.n_quantized, ld);
}

void KiviStore::Accumulate(int layer, int head, int n, const float* w, int ld_w, int n_q,
                           float* out) const {
  const Residual& h = at(layer, head);
  KVBENCH_CHECK(n >= 0 && n <= size(layer, head), "kivi: %d of %d entries", n, size(layer, head));
  std::fill(out, out + static_cast<size_t>(n_q) * head_dim_, 0.0f);
  AccumulateQuantized(layer, head, n, w, ld_w, n_q, out);
  const int n_residual = std::clamp(n - h.n_quantized, 0, h.n_residual);
  AccumulateRowsF32(h.rows.data(), n_residual, head_dim_, w + h.n_quantized, ld_w, n_q, out);
}

void KiviStore::Read(int layer, int head, int j, float* row) const {
  const Residual& h = at(layer, head);
  KVBENCH_CHECK(j >= 0 && j < h.n_quantized + h.n_residual, "kivi: row %d of %d", j,
                h.n_quantized + h.n_residual);
  if (j < h.n_quantized) return ReadQuantized(layer, head, j, row);
  std::memcpy(row, &h.rows[static_cast<size_t>(j - h.n_quantized) * head_dim_],
              head_dim_ * sizeof(float));
}

KvMemory KiviStore::memory(int layer) const {
  KvMemory m;
  for (int head = 0; head < n_kv_heads_; ++head) {
    m.logical += static_cast<uint64_t>(at(layer, head).n_residual) * head_dim_ * sizeof(float) +
                 QuantizedBytes(layer, head);
  }
  m.allocated = allocated_[layer];
  m.peak = peak_[layer];
  return m;
}

}  // namespace kvbench
