#include "sim/trace.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/status.h"
#include "formats/half.h"
#include "formats/read_file.h"
#include "harness/csv.h"

namespace kvbench {
namespace {

constexpr char kMagic[8] = {'K', 'V', 'B', 'T', 'R', 'A', 'C', 'E'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kFixedHeaderBytes = 8 + 4 * 10;  // magic + 10 u32 fields before the name lengths
constexpr uint32_t kMaxName = 4096;

// Saturating arithmetic for sizes computed from untrusted headers.
constexpr uint64_t kSat = std::numeric_limits<uint64_t>::max();
uint64_t Mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? kSat : r;
}
uint64_t Add(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? kSat : r;
}

uint64_t BytesPerProb(ProbFormat f) { return f == ProbFormat::kF32 ? 4 : 2; }

void PutU32(std::string* out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);  // the project targets little-endian x86-64
  out->append(b, 4);
}

class Cursor {
 public:
  Cursor(std::string_view bytes, std::string_view source) : bytes_(bytes), source_(source) {}
  absl::StatusOr<uint32_t> U32(std::string_view field) {
    if (bytes_.size() - pos_ < 4) return Truncated(field);
    uint32_t v;
    std::memcpy(&v, bytes_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }
  absl::StatusOr<std::string> Bytes(uint64_t n, std::string_view field) {
    if (bytes_.size() - pos_ < n) return Truncated(field);
    std::string s(bytes_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  size_t pos() const { return pos_; }
  absl::Status Truncated(std::string_view field) const {
    return absl::DataLossError(absl::StrCat(std::string(source_), ": truncated at byte ", pos_,
                                            " reading ", std::string(field), " (file has ",
                                            bytes_.size(), " bytes)"));
  }

 private:
  std::string_view bytes_;
  std::string_view source_;
  size_t pos_ = 0;
};

absl::Status Bad(std::string_view source, std::string_view what) {
  return absl::DataLossError(absl::StrCat(std::string(source), ": ", std::string(what)));
}

}  // namespace

uint64_t TraceHeader::SequenceBytes() const {
  const uint64_t t = static_cast<uint64_t>(std::max(0, query_positions()));
  const uint64_t lh = Mul(static_cast<uint64_t>(n_layers), static_cast<uint64_t>(n_kv_heads));
  const uint64_t tokens = Mul(static_cast<uint64_t>(std::max(0, context_tokens())), 4);
  const uint64_t norms = Mul(Mul(lh, t), 4);
  // sum over q < T of 2 (q + 1) values per (layer, head) = T (T + 1) values.
  const uint64_t probs = Mul(Mul(Mul(lh, t), t + 1), BytesPerProb(prob_format));
  return Add(Add(tokens, norms), probs);
}

uint64_t TraceHeader::FileBytes() const {
  const uint64_t header = kFixedHeaderBytes + 8 + model.size() + experiment.size();
  return Add(header, Mul(SequenceBytes(), static_cast<uint64_t>(std::max(0, n_sequences))));
}

Trace::Trace(TraceHeader header) : header_(std::move(header)) {}

TraceSequence& Trace::AddSequence() {
  const size_t t = header_.query_positions();
  const size_t lh = static_cast<size_t>(header_.n_layers) * header_.n_kv_heads;
  TraceSequence s;
  s.tokens.assign(header_.context_tokens(), 0);
  s.key_norm.assign(lh * t, 0.0f);
  s.probs.assign(lh * t * (t + 1), 0.0f);
  sequences_.push_back(std::move(s));
  return sequences_.back();
}

absl::Status ValidateHeader(const TraceHeader& h, std::string_view source) {
  auto range = [&](std::string_view field, int64_t v, int64_t lo, int64_t hi) -> absl::Status {
    if (v < lo || v > hi) {
      return Bad(source, absl::StrCat("header field ", std::string(field), " = ", v,
                                      " is outside [", lo, ", ", hi, "]"));
    }
    return absl::OkStatus();
  };
  for (absl::Status s :
       {range("n_layers", h.n_layers, 1, 1024), range("n_heads", h.n_heads, 1, 1024),
        range("n_kv_heads", h.n_kv_heads, 1, 1024), range("head_dim", h.head_dim, 1, 1024),
        range("prompt_tokens", h.prompt_tokens, 1, 65535),
        range("score_tokens", h.score_tokens, 1, 65535),
        range("prompt_tokens + score_tokens", int64_t{h.prompt_tokens} + h.score_tokens, 2, 65536),
        range("n_sequences", h.n_sequences, 0, 65536),
        range("model name length", static_cast<int64_t>(h.model.size()), 0, kMaxName),
        range("experiment name length", static_cast<int64_t>(h.experiment.size()), 0, kMaxName)}) {
    if (!s.ok()) return s;
  }
  if (h.n_heads % h.n_kv_heads != 0) {
    return Bad(source, absl::StrCat("n_heads ", h.n_heads, " is not a multiple of n_kv_heads ",
                                    h.n_kv_heads));
  }
  if (h.prob_format != ProbFormat::kF16 && h.prob_format != ProbFormat::kF32) {
    return Bad(source, absl::StrCat("prob_format ", static_cast<uint32_t>(h.prob_format),
                                    " is not 1 (f16) or 2 (f32)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SerializeTrace(const Trace& trace) {
  const TraceHeader& h = trace.header();
  RETURN_IF_ERROR(ValidateHeader(h, "trace to write"));
  if (static_cast<int>(trace.sequences().size()) != h.n_sequences) {
    return absl::InternalError(absl::StrCat("trace: header says ", h.n_sequences,
                                            " sequences, holds ", trace.sequences().size()));
  }
  const uint64_t total = h.FileBytes();
  if (total > (uint64_t{1} << 40))
    return absl::ResourceExhaustedError(absl::StrCat("trace of ", total, " bytes"));
  std::string out;
  out.reserve(total);
  out.append(kMagic, 8);
  PutU32(&out, kVersion);
  PutU32(&out, static_cast<uint32_t>(kFixedHeaderBytes + 8 + h.model.size() + h.experiment.size()));
  for (int v : {h.n_layers, h.n_heads, h.n_kv_heads, h.head_dim, h.prompt_tokens, h.score_tokens,
                h.n_sequences}) {
    PutU32(&out, static_cast<uint32_t>(v));
  }
  PutU32(&out, static_cast<uint32_t>(h.prob_format));
  PutU32(&out, static_cast<uint32_t>(h.model.size()));
  out += h.model;
  PutU32(&out, static_cast<uint32_t>(h.experiment.size()));
  out += h.experiment;
  for (const TraceSequence& s : trace.sequences()) {
    out.append(reinterpret_cast<const char*>(s.tokens.data()), s.tokens.size() * 4);
    out.append(reinterpret_cast<const char*>(s.key_norm.data()), s.key_norm.size() * 4);
    if (h.prob_format == ProbFormat::kF32) {
      out.append(reinterpret_cast<const char*>(s.probs.data()), s.probs.size() * 4);
    } else {
      const size_t at = out.size();
      out.resize(at + s.probs.size() * 2);
      for (size_t i = 0; i < s.probs.size(); ++i) {
        const uint16_t v = F32ToFp16(s.probs[i]);
        std::memcpy(&out[at + 2 * i], &v, 2);
      }
    }
  }
  KVBENCH_CHECK(out.size() == total, "trace: wrote %zu bytes, expected %llu", out.size(),
                static_cast<unsigned long long>(total));
  return out;
}

absl::Status WriteTrace(const Trace& trace, const std::string& path) {
  ASSIGN_OR_RETURN(auto bytes, SerializeTrace(trace));
  return WriteFileAtomically(path, bytes);
}

absl::StatusOr<Trace> ParseTrace(std::string_view bytes, std::string_view source) {
  Cursor c(bytes, source);
  ASSIGN_OR_RETURN(auto magic, c.Bytes(8, "magic"));
  if (std::memcmp(magic.data(), kMagic, 8) != 0) {
    return Bad(source, "not a kvbench trace (magic is not KVBTRACE)");
  }
  ASSIGN_OR_RETURN(auto version, c.U32("version"));
  if (version != kVersion) {
    return Bad(source, absl::StrCat("trace version ", version,
                                    " is not supported (this build reads version ", kVersion, ")"));
  }
  ASSIGN_OR_RETURN(auto header_bytes, c.U32("header_bytes"));
  TraceHeader h;
  int* fields[] = {&h.n_layers,      &h.n_heads,      &h.n_kv_heads, &h.head_dim,
                   &h.prompt_tokens, &h.score_tokens, &h.n_sequences};
  const char* names[] = {"n_layers",      "n_heads",      "n_kv_heads", "head_dim",
                         "prompt_tokens", "score_tokens", "n_sequences"};
  for (int i = 0; i < 7; ++i) {
    ASSIGN_OR_RETURN(auto v, c.U32(names[i]));
    if (v > (1u << 20))
      return Bad(source, absl::StrCat("header field ", names[i], " = ", v, " is out of range"));
    *fields[i] = static_cast<int>(v);
  }
  ASSIGN_OR_RETURN(auto format, c.U32("prob_format"));
  h.prob_format = static_cast<ProbFormat>(format);
  for (std::string* name : {&h.model, &h.experiment}) {
    const char* field = name == &h.model ? "model name" : "experiment name";
    ASSIGN_OR_RETURN(auto len, c.U32(absl::StrCat(field, " length")));
    if (len > kMaxName)
      return Bad(source, absl::StrCat(field, " length ", len, " exceeds ", kMaxName));
    ASSIGN_OR_RETURN(auto text, c.Bytes(len, field));
    *name = std::move(text);
  }
  RETURN_IF_ERROR(ValidateHeader(h, source));
  if (header_bytes != c.pos()) {
    return Bad(source, absl::StrCat("header_bytes says ", header_bytes,
                                    ", the header ends at byte ", c.pos()));
  }
  if (h.FileBytes() != bytes.size()) {
    return Bad(source,
               absl::StrCat("file has ", bytes.size(), " bytes; the header (", h.n_sequences,
                            " sequences of ", h.SequenceBytes(), " bytes) implies ", h.FileBytes(),
                            h.FileBytes() > bytes.size() ? " (truncated?)" : " (trailing data?)"));
  }
  Trace trace(h);
  const int vocab_bound = std::numeric_limits<int32_t>::max();
  for (int si = 0; si < h.n_sequences; ++si) {
    TraceSequence& s = trace.AddSequence();
    const char* p = bytes.data() + c.pos() + static_cast<size_t>(si) * h.SequenceBytes();
    std::memcpy(s.tokens.data(), p, s.tokens.size() * 4);
    p += s.tokens.size() * 4;
    for (int32_t tok : s.tokens) {
      if (tok < 0 || tok >= vocab_bound)
        return Bad(source, absl::StrCat("sequence ", si, ": token id ", tok));
    }
    std::memcpy(s.key_norm.data(), p, s.key_norm.size() * 4);
    p += s.key_norm.size() * 4;
    for (size_t i = 0; i < s.key_norm.size(); ++i) {
      if (!std::isfinite(s.key_norm[i]) || s.key_norm[i] < 0) {
        return Bad(source, absl::StrCat("sequence ", si, ": key norm ", i, " = ", s.key_norm[i],
                                        " is not a finite norm"));
      }
    }
    if (h.prob_format == ProbFormat::kF32) {
      std::memcpy(s.probs.data(), p, s.probs.size() * 4);
    } else {
      for (size_t i = 0; i < s.probs.size(); ++i) {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        s.probs[i] = Fp16ToF32(v);
      }
    }
    for (size_t i = 0; i < s.probs.size(); ++i) {
      const float v = s.probs[i];
      if (!(v >= 0.0f && v <= 1.0f)) {
        return Bad(source, absl::StrCat("sequence ", si, ": probability ", i, " = ", v,
                                        " is not in [0, 1]"));
      }
    }
  }
  return trace;
}

absl::StatusOr<Trace> ReadTrace(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path, "trace file"));
  return ParseTrace(bytes, path);
}

}  // namespace kvbench
