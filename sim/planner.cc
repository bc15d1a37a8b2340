#include "sim/planner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "model/presets.h"
#include "policies/registry.h"
#include "stores/store_registry.h"

namespace kvbench {
namespace {

constexpr uint64_t kIndexBytesPerEntry = sizeof(int32_t);  // a KvCells position

std::string StoreLabel(const std::string& store, const Params& params) {
  const std::string text = params.ToString();
  return text.empty() ? store : absl::StrCat(store, "(", text, ")");
}

// Saturating helpers: a plan for a 70B model at 1M context must not wrap around.
uint64_t SatMul(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a)
    return std::numeric_limits<uint64_t>::max();
  return a * b;
}
uint64_t SatAdd(uint64_t a, uint64_t b) {
  return b > std::numeric_limits<uint64_t>::max() - a ? std::numeric_limits<uint64_t>::max()
                                                      : a + b;
}

struct SequenceBytes {
  uint64_t k = 0, v = 0, index = 0;
  uint64_t payload() const { return SatAdd(k, v); }
  uint64_t total() const { return SatAdd(payload(), index); }
};

struct Resolved {
  CacheShape shape;
  std::string policy_label;
  int budget = -1;  // entries per head; -1 = keep all
};

int64_t Entries(const Resolved& resolved, int64_t context) {
  return resolved.budget < 0 ? context : std::min<int64_t>(context, resolved.budget);
}

absl::StatusOr<SequenceBytes> BytesAt(const Resolved& resolved, const PlanRequest& request,
                                      int64_t context) {
  const int64_t entries = Entries(resolved, context);
  SequenceBytes b;
  ASSIGN_OR_RETURN(
      b.k, StoreBytes(request.k_store, request.k_params, KvRole::kKey, resolved.shape, entries));
  ASSIGN_OR_RETURN(
      b.v, StoreBytes(request.v_store, request.v_params, KvRole::kValue, resolved.shape, entries));
  b.index = SatMul(SatMul(static_cast<uint64_t>(entries), kIndexBytesPerEntry),
                   static_cast<uint64_t>(resolved.shape.n_layers) * resolved.shape.n_kv_heads);
  return b;
}

uint64_t MatrixBytes(DType dtype, int64_t rows, int64_t cols) {
  // Q8_0 needs whole blocks of 32 along a row; every preset's widths are multiples of 32.
  return RowBytes(dtype, cols) * static_cast<uint64_t>(rows);
}

}  // namespace

absl::StatusOr<uint64_t> StoreBytes(const std::string& store, const ParamMap& params, KvRole role,
                                    const CacheShape& shape, int64_t entries) {
  if (entries < 0) {
    return absl::InvalidArgumentError(absl::StrCat("store ", store, ": ", entries, " entries"));
  }
  ASSIGN_OR_RETURN(const uint64_t layer, LayerBytes(store, params, role, shape, entries));
  return SatMul(layer, static_cast<uint64_t>(shape.n_layers));
}

absl::StatusOr<PlannedModel> PlannedModelFromPreset(const std::string& preset, DType weight_dtype) {
  ASSIGN_OR_RETURN(const auto found, FindShapePreset(preset));
  const ModelConfig& c = found.config;
  // Models whose published config ties the classifier to the token embedding.
  const bool tied = preset == "stories110M" || preset == "smollm-135m" || preset == "llama-3.2-1b";
  const uint64_t embedding = MatrixBytes(weight_dtype, c.vocab_size, c.dim);
  uint64_t layer = MatrixBytes(weight_dtype, c.q_dim(), c.dim) +
                   2 * MatrixBytes(weight_dtype, c.kv_dim(), c.dim) +
                   MatrixBytes(weight_dtype, c.dim, c.q_dim()) +
                   2 * MatrixBytes(weight_dtype, c.hidden_dim, c.dim) +
                   MatrixBytes(weight_dtype, c.dim, c.hidden_dim);
  const uint64_t norms = (2 * static_cast<uint64_t>(c.n_layers) + 1) * c.dim * sizeof(float);
  PlannedModel m;
  m.label = found.name;
  m.source = found.source;
  m.config = c;
  const uint64_t layers = layer * c.n_layers + norms;
  m.weight_bytes = layers + embedding + (tied ? 0 : embedding);
  // A step reads every matrix once and one embedding row; the classifier is read in full.
  m.weight_read_bytes = layers + embedding + RowBytes(weight_dtype, c.dim);
  return m;
}

PlannedModel PlannedModelFromModel(const Model& model, const std::string& label) {
  PlannedModel m;
  m.label = label;
  m.source = absl::StrCat(model.format, " file ", model.path);
  m.config = model.config;
  uint64_t bytes = 0;
  for (const TensorInfo& t : model.tensors) bytes += t.bytes;
  m.weight_bytes = bytes;
  m.weight_read_bytes = model.weights.bytes_per_token();
  return m;
}

absl::StatusOr<Plan> MakePlan(const PlannedModel& model, const PlanRequest& request) {
  if (request.context < 1 || request.context > (int64_t{1} << 31)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--context ", request.context, " must be between 1 and 2^31"));
  }
  if (request.batch < 1 || request.batch > (int64_t{1} << 24)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batch ", request.batch, " must be between 1 and 2^24"));
  }
  if (!(request.bandwidth >= 0) || std::isinf(request.bandwidth)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bandwidth ", request.bandwidth, " must be a positive number"));
  }
  Resolved resolved;
  resolved.shape = CacheShape::ForModel(
      model.config, static_cast<int>(std::min<int64_t>(request.context, 1 << 30)));
  ASSIGN_OR_RETURN(const auto policy, FindPolicy(request.policy));
  const bool has_budget = std::any_of(policy->params.begin(), policy->params.end(),
                                      [](const ParamSpec& s) { return s.name == "budget"; });
  ParamMap policy_params;
  if (!request.budget.empty()) {
    if (!has_budget) {
      return absl::InvalidArgumentError(absl::StrCat("--budget ", request.budget, ": policy ",
                                                     request.policy, " takes no budget"));
    }
    policy_params["budget"] = request.budget;
  } else if (has_budget) {
    return absl::InvalidArgumentError(absl::StrCat("policy ", request.policy, " needs --budget"));
  }
  ASSIGN_OR_RETURN(const Params parsed, Params::Parse(absl::StrCat("policy ", request.policy),
                                                      policy->params, policy_params));
  if (has_budget) {
    resolved.budget = parsed.GetBudget("budget", resolved.shape.context_tokens);
    if (resolved.budget < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--budget ", request.budget, " must keep at least one token"));
    }
  }
  resolved.policy_label = parsed.ToString().empty()
                              ? request.policy
                              : absl::StrCat(request.policy, "(", parsed.ToString(), ")");

  Plan plan;
  ASSIGN_OR_RETURN(const Params k_params, ParseStoreParams(request.k_store, request.k_params));
  ASSIGN_OR_RETURN(const Params v_params, ParseStoreParams(request.v_store, request.v_params));
  plan.k_label = StoreLabel(request.k_store, k_params);
  plan.v_label = StoreLabel(request.v_store, v_params);
  plan.policy_label = resolved.policy_label;
  plan.entries_per_head = Entries(resolved, request.context);
  ASSIGN_OR_RETURN(const SequenceBytes seq, BytesAt(resolved, request, request.context));
  plan.k_bytes_per_sequence = seq.k;
  plan.v_bytes_per_sequence = seq.v;
  plan.kv_bytes_per_sequence = seq.payload();
  plan.index_bytes_per_sequence = seq.index;
  plan.cache_bytes_per_sequence = seq.total();
  plan.cache_bytes_total = SatMul(seq.total(), static_cast<uint64_t>(request.batch));
  plan.weight_bytes = model.weight_bytes;
  {
    ASSIGN_OR_RETURN(const double k_rate, BytesPerValue(request.k_store, request.k_params,
                                                        KvRole::kKey, resolved.shape.head_dim));
    ASSIGN_OR_RETURN(const double v_rate, BytesPerValue(request.v_store, request.v_params,
                                                        KvRole::kValue, resolved.shape.head_dim));
    const double entries_per_token =
        static_cast<double>(resolved.shape.n_layers) * resolved.shape.n_kv_heads;
    plan.kv_bytes_per_token = (k_rate + v_rate) * resolved.shape.head_dim * entries_per_token;
    plan.index_bytes_per_token = static_cast<double>(kIndexBytesPerEntry) * entries_per_token;
  }

  if (request.memory_bytes > 0) {
    const uint64_t avail =
        request.memory_bytes > model.weight_bytes ? request.memory_bytes - model.weight_bytes : 0;
    plan.fits = plan.cache_bytes_total <= avail && request.memory_bytes >= model.weight_bytes;
    plan.max_batch = seq.total() == 0 ? -2 : static_cast<int64_t>(avail / seq.total());
    // Largest context at this batch: bytes grow monotonically with context (and stop growing at
    // the budget), so binary search.
    auto fits_at = [&](int64_t ctx) -> absl::StatusOr<bool> {
      ASSIGN_OR_RETURN(const SequenceBytes b, BytesAt(resolved, request, ctx));
      return SatMul(b.total(), static_cast<uint64_t>(request.batch)) <= avail;
    };
    constexpr int64_t kMaxContext = int64_t{1} << 31;
    ASSIGN_OR_RETURN(const bool fits_max, fits_at(kMaxContext));
    if (resolved.budget >= 0 && fits_max) {
      plan.max_context = -2;
    } else if (fits_max) {
      plan.max_context = kMaxContext;
    } else {
      int64_t lo = 0, hi = kMaxContext;  // fits(lo) (0 tokens always), !fits(hi)
      while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        ASSIGN_OR_RETURN(const bool fits, fits_at(mid));
        (fits ? lo : hi) = mid;
      }
      plan.max_context = lo;
    }
  }
  if (request.bandwidth > 0) {
    const double bytes = static_cast<double>(model.weight_read_bytes) +
                         static_cast<double>(request.batch) * static_cast<double>(seq.payload());
    plan.step_seconds = bytes / request.bandwidth;
    plan.seconds_per_token = plan.step_seconds / static_cast<double>(request.batch);
    plan.tokens_per_second = static_cast<double>(request.batch) / plan.step_seconds;
  }
  return plan;
}

absl::StatusOr<uint64_t> ParseByteSize(const std::string& text) {
  std::string t(absl::StripAsciiWhitespace(text));
  size_t split = 0;
  while (split < t.size() && (absl::ascii_isdigit(t[split]) || t[split] == '.')) ++split;
  const std::string number = t.substr(0, split);
  std::string unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(t.substr(split)));
  double v = 0;
  if (number.empty() || !absl::SimpleAtod(number, &v) || !(v >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a byte size (e.g. 80GiB, 512MB, 1000000)"));
  }
  static const std::pair<const char*, double> kUnits[] = {{"", 1},
                                                          {"b", 1},
                                                          {"kb", 1e3},
                                                          {"mb", 1e6},
                                                          {"gb", 1e9},
                                                          {"tb", 1e12},
                                                          {"kib", 1024.0},
                                                          {"mib", 1048576.0},
                                                          {"gib", 1073741824.0},
                                                          {"tib", 1099511627776.0},
                                                          {"k", 1024.0},
                                                          {"m", 1048576.0},
                                                          {"g", 1073741824.0},
                                                          {"t", 1099511627776.0}};
  for (const auto& [name, scale] : kUnits) {
    if (unit == name) {
      const double bytes = v * scale;
      if (bytes >= 1.8e19)
        return absl::InvalidArgumentError(absl::StrCat("'", text, "' is too large"));
      return static_cast<uint64_t>(std::llround(bytes));
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "'", text, "': unknown unit '", unit, "'; valid: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"));
}

std::string FormatBytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 6) {
    bytes /= 1024.0;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%.0f B", bytes) : absl::StrFormat("%.2f %s", bytes, kUnits[u]);
}

std::string PlanCsvHeader() {
  return "model,context,batch,k_store,v_store,policy,entries_per_head,kv_bytes_per_token,"
         "index_bytes_per_token,k_bytes_per_sequence,v_bytes_per_sequence,kv_bytes_per_sequence,"
         "index_bytes_per_sequence,cache_bytes_per_sequence,cache_bytes_total,weight_bytes,"
         "memory_bytes,fits,max_context,max_batch,bandwidth_bytes_per_s,step_seconds_lower_bound,"
         "seconds_per_token_lower_bound,tokens_per_second_upper_bound\n";
}

namespace {

std::string LimitText(int64_t v) {
  if (v == -1) return "";
  if (v == -2) return "unbounded";
  return absl::StrCat(v);
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string PlanCsvRow(const PlannedModel& model, const PlanRequest& request, const Plan& plan) {
  std::vector<std::string> f = {
      CsvField(model.label),
      absl::StrCat(request.context),
      absl::StrCat(request.batch),
      CsvField(plan.k_label),
      CsvField(plan.v_label),
      CsvField(plan.policy_label),
      absl::StrCat(plan.entries_per_head),
      absl::StrFormat("%.4f", plan.kv_bytes_per_token),
      absl::StrFormat("%.4f", plan.index_bytes_per_token),
      absl::StrCat(plan.k_bytes_per_sequence),
      absl::StrCat(plan.v_bytes_per_sequence),
      absl::StrCat(plan.kv_bytes_per_sequence),
      absl::StrCat(plan.index_bytes_per_sequence),
      absl::StrCat(plan.cache_bytes_per_sequence),
      absl::StrCat(plan.cache_bytes_total),
      absl::StrCat(plan.weight_bytes),
      request.memory_bytes > 0 ? absl::StrCat(request.memory_bytes) : "",
      request.memory_bytes > 0 ? (plan.fits ? "true" : "false") : "",
      LimitText(plan.max_context),
      LimitText(plan.max_batch),
      request.bandwidth > 0 ? absl::StrFormat("%.6g", request.bandwidth) : "",
      request.bandwidth > 0 ? absl::StrFormat("%.6g", plan.step_seconds) : "",
      request.bandwidth > 0 ? absl::StrFormat("%.6g", plan.seconds_per_token) : "",
      request.bandwidth > 0 ? absl::StrFormat("%.6g", plan.tokens_per_second) : ""};
  return absl::StrCat(absl::StrJoin(f, ","), "\n");
}

std::string PlanTable(const PlannedModel& model, const std::vector<PlanRequest>& requests,
                      const std::vector<Plan>& plans) {
  const ModelConfig& c = model.config;
  std::string out = absl::StrFormat(
      "model %s (%s)\n  layers %d, heads %d, KV heads %d, head_dim %d; weights %s (a decode step "
      "reads %s)\n",
      model.label, model.source, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim,
      FormatBytes(static_cast<double>(model.weight_bytes)),
      FormatBytes(static_cast<double>(model.weight_read_bytes)));
  absl::StrAppendFormat(
      &out, "%8s %6s %-34s %-34s %-24s %12s %12s %12s %12s %12s %6s %11s %9s %12s\n", "context",
      "batch", "k_store", "v_store", "policy", "KV/token", "index/token", "KV/sequence",
      "index/seq", "cache total", "fits", "max_context", "max_batch", "ms/step>=");
  for (size_t i = 0; i < plans.size(); ++i) {
    const PlanRequest& request = requests[i];
    const Plan& plan = plans[i];
    absl::StrAppendFormat(
        &out, "%8d %6d %-34s %-34s %-24s %12s %12s %12s %12s %12s %6s %11s %9s %12s\n",
        request.context, request.batch, plan.k_label, plan.v_label, plan.policy_label,
        FormatBytes(plan.kv_bytes_per_token), FormatBytes(plan.index_bytes_per_token),
        FormatBytes(static_cast<double>(plan.kv_bytes_per_sequence)),
        FormatBytes(static_cast<double>(plan.index_bytes_per_sequence)),
        FormatBytes(static_cast<double>(plan.cache_bytes_total)),
        request.memory_bytes > 0 ? (plan.fits ? "yes" : "NO") : "-",
        request.memory_bytes > 0 ? LimitText(plan.max_context) : "-",
        request.memory_bytes > 0 ? LimitText(plan.max_batch) : "-",
        request.bandwidth > 0 ? absl::StrFormat("%.3f", plan.step_seconds * 1e3) : "-");
  }
  if (!requests.empty() && requests[0].memory_bytes > 0) {
    absl::StrAppendFormat(&out, "memory %s: weights plus KV (K + V + 4-byte positions per entry)\n",
                          FormatBytes(static_cast<double>(requests[0].memory_bytes)));
  }
  if (!requests.empty() && requests[0].bandwidth > 0) {
    absl::StrAppendFormat(
        &out,
        "bandwidth %.1f GB/s: ms/step >= (weights read + batch x K/V bytes) / bandwidth, "
        "a floor that ignores compute\n",
        requests[0].bandwidth / 1e9);
  }
  return out;
}

}  // namespace kvbench
