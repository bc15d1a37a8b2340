#include "stores/kivi_key_store.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "formats/half.h"
#include "model/simd.h"
#include "stores/kivi_quant.h"
#include "stores/quant_kernels.h"

namespace kvbench {

KiviKeyStore::KiviKeyStore(const CacheShape& shape, const KiviOptions& options)
    : KiviStore(shape, KvRole::kKey, options),
      groups_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads) {}

uint64_t KiviKeyStore::GroupBytes(const KiviOptions& options, int head_dim, int64_t n_groups,
                                  int64_t n_tokens) {
  const uint64_t param_bytes = 4 * static_cast<uint64_t>(head_dim);
  const uint64_t code_bytes = static_cast<uint64_t>(head_dim) * options.bits / 8;
  return static_cast<uint64_t>(n_groups) * param_bytes +
         static_cast<uint64_t>(n_tokens) * code_bytes;
}

void KiviKeyStore::QuantizeRows(int layer, int head, const float* rows, int n_rows) {
  const int G = options().group;
  KVBENCH_CHECK(n_rows % G == 0, "kivi keys: %d rows are not whole groups of %d", n_rows, G);
  for (int g = 0; g < n_rows / G; ++g) {
    QuantizeGroup(layer, head, rows + static_cast<size_t>(g) * G * head_dim());
  }
}

void KiviKeyStore::QuantizeGroup(int layer, int head, const float* rows) {
  const int hd = head_dim(), n = options().group, levels = (1 << options().bits) - 1;
  KeyGroup& group = at(layer, head).emplace_back();
  group.params.resize(2 * static_cast<size_t>(hd));
  for (int c = 0; c < hd; ++c) {
    float lo = rows[c], hi = rows[c];
    for (int t = 1; t < n; ++t) {
      lo = std::min(lo, rows[static_cast<size_t>(t) * hd + c]);
      hi = std::max(hi, rows[static_cast<size_t>(t) * hd + c]);
    }
    KiviMinMaxParams(lo, hi, levels, &group.params[c], &group.params[hd + c]);
  }
  group.codes.resize(static_cast<size_t>(n) * code_bytes());
  group.n = n;
  for (int t = 0; t < n; ++t) {
    EncodeRow(rows + static_cast<size_t>(t) * hd, group, &group.codes[t * code_bytes()]);
  }
}

void KiviKeyStore::EncodeRow(const float* x, const KeyGroup& group, uint8_t* codes) const {
  const int hd = head_dim(), levels = (1 << options().bits) - 1;
  uint8_t* unpacked = KiviCodeRowScratch(hd);
  for (int c = 0; c < hd; ++c) {
    unpacked[c] =
        KiviCode(x[c], Fp16ToF32(group.params[c]), Fp16ToF32(group.params[hd + c]), levels);
  }
  PackCodes(unpacked, options().bits, hd, codes);
}

void KiviKeyStore::DecodeRow(const KeyGroup& group, int j, float* out) const {
  const int hd = head_dim();
  UnpackCodesReference(&group.codes[j * code_bytes()], options().bits, hd, out);
  for (int c = 0; c < hd; ++c) {
    out[c] = out[c] * Fp16ToF32(group.params[c]) + Fp16ToF32(group.params[hd + c]);
  }
}

// Unpacking is exact, then the same multiply and add per element as DecodeRow.
void KiviKeyStore::DecodeRows(const KeyGroup& group, int j0, int n, float* out) const {
  const int hd = head_dim();
  KiviScratch& scratch = GetKiviScratch();
  scratch.params.resize(2 * static_cast<size_t>(hd));
  DecodeF16(group.params.data(), 2 * hd, scratch.params.data());
  const float* scale = scratch.params.data();
  const float* min = scale + hd;
  for (int j = 0; j < n; ++j) {
    float* o = out + static_cast<size_t>(j) * hd;
    UnpackCodes(&group.codes[(j0 + j) * code_bytes()], options().bits, hd, o);
    for (int c = 0; c < hd; ++c) o[c] = o[c] * scale[c] + min[c];
  }
}

void KiviKeyStore::CompactQuantized(int layer, int head, absl::Span<const int> keep) {
  Groups& groups = at(layer, head);
  const size_t row = code_bytes();
  size_t k = 0;    // next keep index
  int offset = 0;  // entry index of the group's first token
  size_t kept_groups = 0;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    KeyGroup& group = groups[gi];
    int m = 0;  // rows of this group kept so far
    for (; k < keep.size() && keep[k] < offset + group.n; ++k, ++m) {
      const int local = keep[k] - offset;
      if (local != m) std::memmove(&group.codes[m * row], &group.codes[local * row], row);
    }
    offset += group.n;
    if (m == 0) continue;  // the group is empty: its params go with it
    group.n = m;
    group.codes.resize(static_cast<size_t>(m) * row);
    if (group.codes.capacity() >= 2 * group.codes.size()) group.codes.shrink_to_fit();
    if (kept_groups != gi) groups[kept_groups] = std::move(group);
    ++kept_groups;
  }
  groups.resize(kept_groups);
}

// bias_i = q_i . min, summed in channel order from 0 (one dependent add per channel), as the
// definition of the folded score has it. Up to 16 queries go in the lanes of one vector (query i
// in lane i, the queries transposed once per call into scratch.qt), so the n_q chains run side by
// side in registers: the same sums, in the latency of one.
void KiviKeyStore::GroupBias(const float* q, int n_q, const float* min,
                             KiviScratch& scratch) const {
  const int hd = head_dim();
  float* bias = scratch.bias.data();
  if (n_q > 16) {
    for (int i = 0; i < n_q; ++i) {
      float b = 0;
      for (int c = 0; c < hd; ++c) b += q[static_cast<size_t>(i) * hd + c] * min[c];
      bias[i] = b;
    }
    return;
  }
  const float* qt = scratch.qt.data();
  simd::F32x16 b = simd::Zero();
  for (int c = 0; c < hd; ++c)
    b = simd::Add(b, simd::Mul(simd::Load(qt + 16 * c), simd::Set1(min[c])));
  simd::StoreN(bias, b, n_q);
}

void KiviKeyStore::DotQuantized(int layer, int head, int n, const float* q, int n_q, float* scores,
                                int ld) const {
  const int hd = head_dim();
  KiviScratch& scratch = GetKiviScratch();
  scratch.tile.resize(static_cast<size_t>(kTileRows) * hd);
  scratch.qs.resize(static_cast<size_t>(n_q) * hd);
  scratch.bias.resize(n_q);
  scratch.params.resize(2 * static_cast<size_t>(hd));
  if (n_q <= 16) {  // queries transposed for GroupBias, lanes past n_q zero
    scratch.qt.assign(16 * static_cast<size_t>(hd), 0.0f);
    for (int i = 0; i < n_q; ++i) {
      for (int c = 0; c < hd; ++c) scratch.qt[16 * c + i] = q[static_cast<size_t>(i) * hd + c];
    }
  }
  int j = 0;  // entry index of the group's first token
  for (const KeyGroup& group : at(layer, head)) {
    if (j >= n) break;
    const int group_n = std::min(group.n, n - j);  // the group's entries that are read
    // q . (code * s + m) = (q * s) . code + q . m: fold the group's per-channel params into the
    // queries once, then read the raw codes.
    DecodeF16(group.params.data(), 2 * hd, scratch.params.data());
    const float* scale = scratch.params.data();
    const float* min = scale + hd;
    for (int i = 0; i < n_q; ++i) {
      const float* qi = q + static_cast<size_t>(i) * hd;
      float* qsi = &scratch.qs[static_cast<size_t>(i) * hd];
      for (int c = 0; c < hd; ++c) qsi[c] = qi[c] * scale[c];
    }
    GroupBias(q, n_q, min, scratch);
    EncodedRows codes;
    codes.format = EncodedRows::Format::kKiviCodes;
    codes.data = group.codes.data();
    codes.stride = code_bytes();
    codes.bits = options().bits;
    // Scores [first, first + count) of every query get the query's q . m.
    auto add_bias = [&](int first, int count) {
      for (int i = 0; i < n_q; ++i) {
        float* si = scores + static_cast<size_t>(i) * ld + first;
        for (int t = 0; t < count; ++t) si[t] += scratch.bias[i];
      }
    };
    if (CanFuse(codes, hd, n_q)) {
      DotRowsFused(codes, group_n, hd, scratch.qs.data(), n_q, scores + j, ld);
      add_bias(j, group_n);
      j += group.n;
      continue;
    }
    for (int t0 = 0; t0 < group_n; t0 += kTileRows) {
      const int nt = std::min(kTileRows, group_n - t0);
      UnpackCodeRows(&group.codes[t0 * code_bytes()], code_bytes(), nt, options().bits, hd,
                     scratch.tile.data());
      DotRowsF32(scratch.tile.data(), nt, hd, scratch.qs.data(), n_q, scores + j + t0, ld);
      add_bias(j + t0, nt);
    }
    j += group.n;
  }
}

void KiviKeyStore::AccumulateQuantized(int layer, int head, int n, const float* w, int ld_w,
                                       int n_q, float* out) const {
  const int hd = head_dim();
  KiviScratch& scratch = GetKiviScratch();
  std::vector<float>& tile = scratch.tile;
  tile.resize(static_cast<size_t>(kTileRows) * hd);
  scratch.params.resize(2 * static_cast<size_t>(hd));
  int j = 0;  // entry index of the group's first token
  for (const KeyGroup& group : at(layer, head)) {
    if (j >= n) break;
    const int group_n = std::min(group.n, n - j);
    EncodedRows rows;
    rows.format = EncodedRows::Format::kKiviKey;
    rows.data = group.codes.data();
    rows.stride = code_bytes();
    rows.bits = options().bits;
    if (CanFuse(rows, hd, n_q)) {
      DecodeF16(group.params.data(), 2 * hd, scratch.params.data());
      rows.channel_scale = scratch.params.data();
      rows.channel_min = scratch.params.data() + hd;
      AccumulateRowsFused(rows, group_n, hd, w + j, ld_w, n_q, out);
      j += group.n;
      continue;
    }
    for (int t0 = 0; t0 < group_n; t0 += kTileRows) {
      const int nt = std::min(kTileRows, group_n - t0);
      DecodeRows(group, t0, nt, tile.data());
      AccumulateRowsF32(tile.data(), nt, hd, w + j + t0, ld_w, n_q, out);
    }
    j += group.n;
  }
}

void KiviKeyStore::ReadQuantized(int layer, int head, int j, float* row) const {
  for (const KeyGroup& group : at(layer, head)) {
    if (j < group.n) return DecodeRow(group, j, row);
    j -= group.n;
  }
}

uint64_t KiviKeyStore::QuantizedBytes(int layer, int head) const {
  uint64_t bytes = 0;
  for (const KeyGroup& group : at(layer, head)) {
    bytes += group_param_bytes() + static_cast<uint64_t>(group.n) * code_bytes();
  }
  return bytes;
}

uint64_t KiviKeyStore::QuantizedCapacity(int layer, int head) const {
  const Groups& groups = at(layer, head);
  uint64_t bytes = groups.capacity() * sizeof(KeyGroup);
  for (const KeyGroup& group : groups) {
    bytes += group.params.capacity() * sizeof(uint16_t) + group.codes.capacity();
  }
  return bytes;
}

}  // namespace kvbench
