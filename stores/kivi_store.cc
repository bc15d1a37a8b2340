#include "stores/kivi_store.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "formats/half.h"
#include "stores/quant_kernels.h"

namespace kvbench {
namespace {

// Per-thread scratch of the attention kernels, grown on demand.
struct Scratch {
  std::vector<float> tile;     // (kTileRows, head_dim)
  std::vector<float> params;   // (2, head_dim) decoded scale / min
  std::vector<float> qs;       // (n_q, head_dim) q * scale
  std::vector<float> bias;     // (n_q) q . min
  std::vector<uint8_t> codes;  // (head_dim) one row of unpacked codes while encoding
};
Scratch& GetScratch() {
  thread_local Scratch s;
  return s;
}
// This thread's buffer for one row of `n` unpacked codes, valid until the next call.
uint8_t* CodeRowScratch(int n) {
  std::vector<uint8_t>& codes = GetScratch().codes;
  codes.resize(n);
  return codes.data();
}

// (scale, min) of values [lo, hi] with `levels` = 2^b - 1 steps, rounded to fp16 as stored.
void MinMaxParams(float lo, float hi, int levels, uint16_t* scale_h, uint16_t* min_h) {
  *scale_h = F32ToFp16((hi - lo) / static_cast<float>(levels));
  *min_h = F32ToFp16(lo);
}

inline uint8_t Code(float x, float scale, float min, int levels) {
  if (!(scale > 0.0f)) return 0;  // a constant group (or a NaN scale): every value is `min`
  const float q = std::round((x - min) / scale);
  return static_cast<uint8_t>(std::clamp(q, 0.0f, static_cast<float>(levels)));
}

}  // namespace

absl::Status KiviStore::Validate(const KiviOptions& o, int head_dim, KvRole role) {
  if (o.bits != 2 && o.bits != 4 && o.bits != 8) {
    return absl::InvalidArgumentError(absl::StrCat("store kivi: parameter 'bits' = ", o.bits, " is not one of 2, 4, 8"));
  }
  if (o.group < 1 || o.group > 65536) {
    return absl::InvalidArgumentError(absl::StrCat("store kivi: parameter 'group' = ", o.group, " is not in [1, 65536]"));
  }
  if (o.residual < 0 || o.residual > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat("store kivi: parameter 'residual' = ", o.residual,
                                                   " is not in [0, 1048576]"));
  }
  if (head_dim <= 0 || head_dim % (8 / o.bits) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("store kivi: head_dim ", head_dim, " is not a multiple of ",
                                                   8 / o.bits, " (codes per byte at ", o.bits, " bits)"));
  }
  const int g = std::min(o.group, head_dim);
  if (role == KvRole::kValue && head_dim % g != 0) {
    return absl::InvalidArgumentError(absl::StrCat("store kivi: value groups of ", g,
                                                   " channels do not divide head_dim ", head_dim));
  }
  return absl::OkStatus();
}

double KiviStore::BytesPerValue(const KiviOptions& o, int head_dim, KvRole role) {
  const double codes = o.bits / 8.0;
  if (role == KvRole::kKey) return codes + 4.0 / o.group;  // (scale, min) fp16 per channel per G tokens
  return codes + 4.0 / std::min(o.group, head_dim);        // (scale, min) fp16 per g channels
}

KiviStore::KiviStore(const CacheShape& shape, KvRole role, KiviOptions options)
    : role_(role),
      opt_(options),
      n_kv_heads_(shape.n_kv_heads),
      head_dim_(shape.head_dim),
      value_group_(std::min(options.group, shape.head_dim)),
      code_bytes_(static_cast<size_t>(shape.head_dim) * options.bits / 8),
      value_row_bytes_(4 * static_cast<size_t>(shape.head_dim / value_group_) + code_bytes_),
      heads_(static_cast<size_t>(shape.n_layers) * shape.n_kv_heads),
      allocated_(shape.n_layers, 0),
      peak_(shape.n_layers, 0) {
  const absl::Status s = Validate(options, shape.head_dim, role);
  KVBENCH_CHECK(s.ok(), "%s", std::string(s.message()).c_str());
}

std::string KiviStore::name() const {
  return absl::StrCat("kivi(bits=", opt_.bits, ",group=", opt_.group, ",residual=", opt_.residual, ")");
}

// ---- encoding and scalar reference decoding --------------------------------------------------

void KiviStore::QuantizeKeyGroup(const float* rows, int n, KeyGroup* g) const {
  const int hd = head_dim_, levels = (1 << opt_.bits) - 1;
  g->params.resize(2 * static_cast<size_t>(hd));
  for (int c = 0; c < hd; ++c) {
    float lo = rows[c], hi = rows[c];
    for (int t = 1; t < n; ++t) {
      lo = std::min(lo, rows[static_cast<size_t>(t) * hd + c]);
      hi = std::max(hi, rows[static_cast<size_t>(t) * hd + c]);
    }
    MinMaxParams(lo, hi, levels, &g->params[c], &g->params[hd + c]);
  }
  g->codes.resize(static_cast<size_t>(n) * code_bytes_);
  g->n = n;
  for (int t = 0; t < n; ++t) EncodeKeyRow(rows + static_cast<size_t>(t) * hd, *g, &g->codes[t * code_bytes_]);
}

void KiviStore::EncodeKeyRow(const float* x, const KeyGroup& g, uint8_t* codes) const {
  const int hd = head_dim_, levels = (1 << opt_.bits) - 1;
  uint8_t* qp = CodeRowScratch(hd);
  for (int c = 0; c < hd; ++c) qp[c] = Code(x[c], Fp16ToF32(g.params[c]), Fp16ToF32(g.params[hd + c]), levels);
  PackCodes(qp, opt_.bits, hd, codes);
}

void KiviStore::DecodeKeyRow(const KeyGroup& g, int j, float* out) const {
  const int hd = head_dim_;
  UnpackCodesReference(&g.codes[j * code_bytes_], opt_.bits, hd, out);
  for (int c = 0; c < hd; ++c) out[c] = out[c] * Fp16ToF32(g.params[c]) + Fp16ToF32(g.params[hd + c]);
}

void KiviStore::EncodeValueRow(const float* x, uint8_t* row) const {
  const int hd = head_dim_, g = value_group_, levels = (1 << opt_.bits) - 1;
  uint8_t* qp = CodeRowScratch(hd);
  for (int k = 0; k < hd / g; ++k) {
    const float* xs = x + k * g;
    float lo = xs[0], hi = xs[0];
    for (int c = 1; c < g; ++c) {
      lo = std::min(lo, xs[c]);
      hi = std::max(hi, xs[c]);
    }
    uint16_t sh, mh;
    MinMaxParams(lo, hi, levels, &sh, &mh);
    std::memcpy(row + 4 * k, &sh, 2);
    std::memcpy(row + 4 * k + 2, &mh, 2);
    const float s = Fp16ToF32(sh), m = Fp16ToF32(mh);
    for (int c = 0; c < g; ++c) qp[k * g + c] = Code(xs[c], s, m, levels);
  }
  PackCodes(qp, opt_.bits, hd, row + 4 * (hd / g));
}

void KiviStore::DecodeValueRow(const uint8_t* row, float* out) const {
  const int hd = head_dim_, g = value_group_;
  UnpackCodesReference(row + 4 * (hd / g), opt_.bits, hd, out);
  for (int k = 0; k < hd / g; ++k) {
    uint16_t sh, mh;
    std::memcpy(&sh, row + 4 * k, 2);
    std::memcpy(&mh, row + 4 * k + 2, 2);
    const float s = Fp16ToF32(sh), m = Fp16ToF32(mh);
    for (int c = 0; c < g; ++c) out[k * g + c] = out[k * g + c] * s + m;
  }
}

// ---- vectorised decoding (same values as the reference: unpacking is exact, then the same
// multiply and add per element) --------------------------------------------------------------

void KiviStore::DecodeValueRowsFast(const uint8_t* rows, int n, float* out) const {
  const int hd = head_dim_, g = value_group_, n_groups = hd / g;
  UnpackCodeRows(rows + 4 * n_groups, value_row_bytes_, n, opt_.bits, hd, out);
  for (int j = 0; j < n; ++j) {
    const uint8_t* row = rows + static_cast<size_t>(j) * value_row_bytes_;
    float* o = out + static_cast<size_t>(j) * hd;
    for (int k = 0; k < n_groups; ++k) {
      uint16_t sh, mh;
      std::memcpy(&sh, row + 4 * k, 2);
      std::memcpy(&mh, row + 4 * k + 2, 2);
      const float s = HalfToF32(sh), m = HalfToF32(mh);
      float* os = o + k * g;
      for (int c = 0; c < g; ++c) os[c] = os[c] * s + m;
    }
  }
}

void KiviStore::DecodeKeyRowsFast(const KeyGroup& g, int j0, int n, float* out) const {
  const int hd = head_dim_;
  Scratch& sc = GetScratch();
  sc.params.resize(2 * static_cast<size_t>(hd));
  DecodeF16(g.params.data(), 2 * hd, sc.params.data());
  const float* s = sc.params.data();
  const float* m = s + hd;
  for (int j = 0; j < n; ++j) {
    float* o = out + static_cast<size_t>(j) * hd;
    UnpackCodes(&g.codes[(j0 + j) * code_bytes_], opt_.bits, hd, o);
    for (int c = 0; c < hd; ++c) o[c] = o[c] * s[c] + m[c];
  }
}

// ---- storage ---------------------------------------------------------------------------------

void KiviStore::Flush(Head& h) {
  const int hd = head_dim_, G = opt_.group;
  int done = 0;  // residual rows quantized in this flush
  while (h.n_res - done >= opt_.residual + G) {
    const float* rows = &h.residual[static_cast<size_t>(done) * hd];
    if (role_ == KvRole::kKey) {
      h.groups.emplace_back();
      QuantizeKeyGroup(rows, G, &h.groups.back());
    } else {
      h.rows.resize((static_cast<size_t>(h.n_quant) + G) * value_row_bytes_);
      for (int t = 0; t < G; ++t) {
        EncodeValueRow(rows + static_cast<size_t>(t) * hd, &h.rows[(static_cast<size_t>(h.n_quant) + t) * value_row_bytes_]);
      }
    }
    h.n_quant += G;
    done += G;
  }
  if (done > 0) {
    h.residual.erase(h.residual.begin(), h.residual.begin() + static_cast<ptrdiff_t>(done) * hd);
    h.n_res -= done;
  }
}

void KiviStore::UpdateAllocated(int layer, Head& h) {
  uint64_t bytes = h.residual.capacity() * sizeof(float) + h.rows.capacity() +
                   h.groups.capacity() * sizeof(KeyGroup);
  for (const KeyGroup& g : h.groups) bytes += g.params.capacity() * sizeof(uint16_t) + g.codes.capacity();
  allocated_[layer] += bytes - h.allocated;
  h.allocated = bytes;
  peak_[layer] = std::max(peak_[layer], allocated_[layer]);
}

void KiviStore::Append(int layer, int head, const float* rows, int n, int ld) {
  Head& h = at(layer, head);
  const int hd = head_dim_;
  if (h.residual.capacity() == 0) {
    h.residual.reserve(static_cast<size_t>(opt_.residual + opt_.group) * hd);
  }
  h.residual.resize((static_cast<size_t>(h.n_res) + n) * hd);
  for (int i = 0; i < n; ++i) {
    std::memcpy(&h.residual[(static_cast<size_t>(h.n_res) + i) * hd], rows + static_cast<size_t>(i) * ld, hd * sizeof(float));
  }
  h.n_res += n;
  Flush(h);
  UpdateAllocated(layer, h);
}

void KiviStore::Compact(int layer, int head, absl::Span<const int> keep) {
  Head& h = at(layer, head);
  const int hd = head_dim_, total = h.n_quant + h.n_res;
  KVBENCH_CHECK(keep.empty() || (keep.front() >= 0 && keep.back() < total), "kivi: keep list out of range (%d entries)", total);
  size_t k = 0;  // next keep index
  int kept_quant = 0;
  if (role_ == KvRole::kKey) {
    int offset = 0;  // entry index of the group's first token
    size_t out_g = 0;
    for (size_t gi = 0; gi < h.groups.size(); ++gi) {
      KeyGroup& g = h.groups[gi];
      int m = 0;
      for (; k < keep.size() && keep[k] < offset + g.n; ++k, ++m) {
        const int local = keep[k] - offset;
        if (local != m) std::memmove(&g.codes[m * code_bytes_], &g.codes[local * code_bytes_], code_bytes_);
      }
      offset += g.n;
      if (m == 0) continue;  // the group is empty: its params go with it
      g.n = m;
      g.codes.resize(static_cast<size_t>(m) * code_bytes_);
      if (g.codes.capacity() >= 2 * g.codes.size()) g.codes.shrink_to_fit();
      if (out_g != gi) h.groups[out_g] = std::move(g);
      ++out_g;
      kept_quant += m;
    }
    h.groups.resize(out_g);
  } else {
    for (; k < keep.size() && keep[k] < h.n_quant; ++k, ++kept_quant) {
      if (keep[k] != kept_quant) {
        std::memmove(&h.rows[kept_quant * value_row_bytes_], &h.rows[keep[k] * value_row_bytes_], value_row_bytes_);
      }
    }
    h.rows.resize(static_cast<size_t>(kept_quant) * value_row_bytes_);
    if (h.rows.capacity() >= 2 * h.rows.size() + 4096) h.rows.shrink_to_fit();
  }
  int kept_res = 0;
  for (; k < keep.size(); ++k, ++kept_res) {
    const int local = keep[k] - h.n_quant;
    if (local != kept_res) {
      std::memmove(&h.residual[static_cast<size_t>(kept_res) * hd], &h.residual[static_cast<size_t>(local) * hd], hd * sizeof(float));
    }
  }
  h.residual.resize(static_cast<size_t>(kept_res) * hd);
  h.n_quant = kept_quant;
  h.n_res = kept_res;
  UpdateAllocated(layer, h);
}

// ---- attention -------------------------------------------------------------------------------

void KiviStore::Dot(int layer, int head, const float* q, int n_q, float* scores, int ld) const {
  const Head& h = at(layer, head);
  const int hd = head_dim_;
  Scratch& sc = GetScratch();
  sc.tile.resize(static_cast<size_t>(kTileRows) * hd);
  int j = 0;
  if (role_ == KvRole::kKey) {
    sc.qs.resize(static_cast<size_t>(n_q) * hd);
    sc.bias.resize(n_q);
    sc.params.resize(2 * static_cast<size_t>(hd));
    for (const KeyGroup& g : h.groups) {
      // q . (code * s + m) = (q * s) . code + q . m: fold the group's per-channel params into the
      // queries once, then read the raw codes.
      DecodeF16(g.params.data(), 2 * hd, sc.params.data());
      const float* s = sc.params.data();
      const float* m = s + hd;
      for (int i = 0; i < n_q; ++i) {
        const float* qi = q + static_cast<size_t>(i) * hd;
        float* qsi = &sc.qs[static_cast<size_t>(i) * hd];
        float b = 0;
        for (int c = 0; c < hd; ++c) {
          qsi[c] = qi[c] * s[c];
          b += qi[c] * m[c];
        }
        sc.bias[i] = b;
      }
      for (int t0 = 0; t0 < g.n; t0 += kTileRows) {
        const int nt = std::min(kTileRows, g.n - t0);
        UnpackCodeRows(&g.codes[t0 * code_bytes_], code_bytes_, nt, opt_.bits, hd, sc.tile.data());
        DotRowsF32(sc.tile.data(), nt, hd, sc.qs.data(), n_q, scores + j + t0, ld);
        for (int i = 0; i < n_q; ++i) {
          float* si = scores + static_cast<size_t>(i) * ld + j + t0;
          for (int t = 0; t < nt; ++t) si[t] += sc.bias[i];
        }
      }
      j += g.n;
    }
  } else {
    for (; j < h.n_quant; j += kTileRows) {
      const int nt = std::min(kTileRows, h.n_quant - j);
      DecodeValueRowsFast(&h.rows[j * value_row_bytes_], nt, sc.tile.data());
      DotRowsF32(sc.tile.data(), nt, hd, q, n_q, scores + j, ld);
    }
    j = h.n_quant;
  }
  DotRowsF32(h.residual.data(), h.n_res, hd, q, n_q, scores + j, ld);
}

void KiviStore::Accumulate(int layer, int head, const float* w, int ld_w, int n_q, float* out) const {
  const Head& h = at(layer, head);
  const int hd = head_dim_;
  std::fill(out, out + static_cast<size_t>(n_q) * hd, 0.0f);
  std::vector<float>& tile = GetScratch().tile;
  tile.resize(static_cast<size_t>(kTileRows) * hd);
  int j = 0;
  if (role_ == KvRole::kKey) {
    for (const KeyGroup& g : h.groups) {
      for (int t0 = 0; t0 < g.n; t0 += kTileRows) {
        const int nt = std::min(kTileRows, g.n - t0);
        DecodeKeyRowsFast(g, t0, nt, tile.data());
        AccumulateRowsF32(tile.data(), nt, hd, w + j + t0, ld_w, n_q, out);
      }
      j += g.n;
    }
  } else {
    for (; j < h.n_quant; j += kTileRows) {
      const int nt = std::min(kTileRows, h.n_quant - j);
      DecodeValueRowsFast(&h.rows[j * value_row_bytes_], nt, tile.data());
      AccumulateRowsF32(tile.data(), nt, hd, w + j, ld_w, n_q, out);
    }
    j = h.n_quant;
  }
  AccumulateRowsF32(h.residual.data(), h.n_res, hd, w + j, ld_w, n_q, out);
}

void KiviStore::Read(int layer, int head, int j, float* row) const {
  const Head& h = at(layer, head);
  KVBENCH_CHECK(j >= 0 && j < h.n_quant + h.n_res, "kivi: row %d of %d", j, h.n_quant + h.n_res);
  if (j >= h.n_quant) {
    std::memcpy(row, &h.residual[static_cast<size_t>(j - h.n_quant) * head_dim_], head_dim_ * sizeof(float));
  } else if (role_ == KvRole::kValue) {
    DecodeValueRow(&h.rows[j * value_row_bytes_], row);
  } else {
    for (const KeyGroup& g : h.groups) {
      if (j < g.n) return DecodeKeyRow(g, j, row);
      j -= g.n;
    }
  }
}

void KiviStore::Write(int layer, int head, int j, const float* row) {
  Head& h = at(layer, head);
  KVBENCH_CHECK(j >= 0 && j < h.n_quant + h.n_res, "kivi: row %d of %d", j, h.n_quant + h.n_res);
  if (j >= h.n_quant) {
    std::memcpy(&h.residual[static_cast<size_t>(j - h.n_quant) * head_dim_], row, head_dim_ * sizeof(float));
  } else if (role_ == KvRole::kValue) {
    EncodeValueRow(row, &h.rows[j * value_row_bytes_]);
  } else {
    for (KeyGroup& g : h.groups) {
      if (j < g.n) return EncodeKeyRow(row, g, &g.codes[j * code_bytes_]);
      j -= g.n;
    }
  }
}

KvMemory KiviStore::memory(int layer) const {
  KvMemory m;
  for (int hi = 0; hi < n_kv_heads_; ++hi) {
    const Head& h = at(layer, hi);
    m.logical += static_cast<uint64_t>(h.n_res) * head_dim_ * sizeof(float);
    if (role_ == KvRole::kKey) {
      for (const KeyGroup& g : h.groups) m.logical += key_group_param_bytes() + static_cast<uint64_t>(g.n) * code_bytes_;
    } else {
      m.logical += static_cast<uint64_t>(h.n_quant) * value_row_bytes_;
    }
  }
  m.allocated = allocated_[layer];
  m.peak = peak_[layer];
  return m;
}

}  // namespace kvbench
