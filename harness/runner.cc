#include "harness/runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "harness/csv.h"
#include "harness/dataset.h"
#include "harness/divergence.h"
#include "harness/latency.h"
#include "harness/run_metadata.h"
#include "base/check.h"
#include "model/decoder.h"
#include "model/ops.h"

namespace kvbench {

const std::vector<std::string>& ResultColumns() {
  static const auto* const kColumns = new std::vector<std::string>{
      // identification
      "experiment", "model", "policy", "k_store", "v_store", "params", "budget", "label", "repetition",
      "n_sequences", "context_tokens", "prompt_tokens", "score_tokens",
      // divergence (teacher forcing) and free running
      "n_scored", "ppl", "ppl_ref", "ln_ppl_ratio", "ln_ppl_ratio_se", "kld_mean", "kld_mean_se",
      "kld_median", "kld_p90", "kld_p95", "kld_p99", "kld_p999", "kld_max", "dp_mean", "dp_rms",
      "top1_agree", "top1_agree_se", "greedy_match_len", "token_match_rate",
      // latency
      "prefill_ms", "decode_ms_p50", "decode_ms_p95", "decode_ms_p99", "decode_tokens_per_s",
      "bookkeeping_share",
      // memory
      "kv_bytes_logical", "kv_bytes_allocated", "kv_bytes_peak", "compression_ratio", "peak_rss_bytes",
      // provenance
      "git_sha", "config_hash", "seed", "threads", "timestamp", "error"};
  return *kColumns;
}

std::string HashHex(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return absl::StrFormat("%016x", h);
}

namespace {

using Clock = std::chrono::steady_clock;

std::string Num(double v) { return absl::StrFormat("%.6g", v); }

std::string ParamsText(const ParamMap& params) {
  return absl::StrJoin(params, ";", absl::PairFormatter("="));
}

std::string StoreText(const std::string& name, const ParamMap& params) {
  return params.empty() ? name : absl::StrCat(name, "(", ParamsText(params), ")");
}

// Everything that determines a case's numbers, as text (hashed into config_hash).
std::string ExperimentKey(const Experiment& e) {
  return absl::StrCat("model=", e.model, "\ndataset.path=", e.dataset.path, "\ndataset.prompts=",
                      absl::StrJoin(e.dataset.prompts, "\x1f"), "\ndataset.format=", e.dataset.format,
                      "\ndataset.separator=", e.dataset.separator, "\ndataset.concatenate=",
                      e.dataset.concatenate, "\ncontext=", e.context_tokens, "\nprompt=", e.prompt_tokens,
                      "\nscore=", e.score_tokens, "\nmax_sequences=", e.max_sequences, "\nseed=", e.seed,
                      "\nthreads=", e.threads, "\nmeasure=", e.measure_divergence, e.measure_latency,
                      e.measure_memory, "\nwarmup=", e.warmup, "\nreference=", e.reference.Label());
}

struct Case {
  int policy = 0;  // index into experiment.policies
  int repetition = 0;
  std::string hash;
};

class Row {
 public:
  Row() : values_(ResultColumns().size()) {}
  void Set(std::string_view column, std::string value) {
    const auto& cols = ResultColumns();
    const auto it = std::find(cols.begin(), cols.end(), column);
    KVBENCH_CHECK(it != cols.end(), "no CSV column %.*s", static_cast<int>(column.size()), column.data());
    values_[it - cols.begin()] = std::move(value);
  }
  std::vector<std::string> Take() { return std::move(values_); }

 private:
  std::vector<std::string> values_;
};

void FillDivergence(const PolicyDivergence& d, Row* row) {
  const DivergenceSummary& s = d.summary;
  row->Set("n_scored", absl::StrCat(s.n));
  row->Set("ppl", Num(s.ppl));
  row->Set("ppl_ref", Num(s.ppl_ref));
  row->Set("ln_ppl_ratio", Num(s.ln_ppl_ratio));
  row->Set("ln_ppl_ratio_se", Num(s.ln_ppl_ratio_se));
  row->Set("kld_mean", Num(s.kld_mean));
  row->Set("kld_mean_se", Num(s.kld_mean_se));
  row->Set("kld_median", Num(s.kld_median));
  row->Set("kld_p90", Num(s.kld_p90));
  row->Set("kld_p95", Num(s.kld_p95));
  row->Set("kld_p99", Num(s.kld_p99));
  row->Set("kld_p999", Num(s.kld_p999));
  row->Set("kld_max", Num(s.kld_max));
  row->Set("dp_mean", Num(s.dp_mean));
  row->Set("dp_rms", Num(s.dp_rms));
  row->Set("top1_agree", Num(s.top1_agree));
  row->Set("top1_agree_se", Num(s.top1_agree_se));
  row->Set("greedy_match_len", Num(d.greedy_match_len));
  row->Set("token_match_rate", Num(d.token_match_rate));
}

void FillLatency(const LatencyResult& l, Row* row) {
  row->Set("prefill_ms", Num(l.prefill_ms));
  row->Set("decode_ms_p50", Num(l.decode_ms_p50));
  row->Set("decode_ms_p95", Num(l.decode_ms_p95));
  row->Set("decode_ms_p99", Num(l.decode_ms_p99));
  row->Set("decode_tokens_per_s", Num(l.decode_tokens_per_s));
  row->Set("bookkeeping_share", Num(l.bookkeeping_share));
}

void FillMemory(const KvMemory& m, const KvMemory& reference, Row* row) {
  row->Set("kv_bytes_logical", absl::StrCat(m.logical));
  row->Set("kv_bytes_allocated", absl::StrCat(m.allocated));
  row->Set("kv_bytes_peak", absl::StrCat(m.peak));
  row->Set("compression_ratio", m.logical > 0 ? Num(static_cast<double>(reference.logical) / m.logical) : "");
}

// Progress on a terminal: "[#####.....] 5/16 cases  3.2 s elapsed  ETA 10 s  window(budget=32)".
class Progress {
 public:
  Progress(FILE* out, bool enabled, int total) : out_(out), enabled_(enabled && out != nullptr), total_(total) {}
  void Show(int done, std::string_view what) {
    if (!enabled_ || total_ == 0) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    constexpr int kWidth = 24;
    const int filled = done * kWidth / total_;
    std::string eta = "?";
    if (done > 0) eta = absl::StrFormat("%.0f s", elapsed / done * (total_ - done));
    std::string label(what.substr(0, 40));
    std::fprintf(out_, "\r\033[K[%s%s] %d/%d cases  %.1f s  ETA %s  %s", std::string(filled, '#').c_str(),
                 std::string(kWidth - filled, '.').c_str(), done, total_, elapsed, eta.c_str(), label.c_str());
    std::fflush(out_);
  }
  void Finish() {
    if (enabled_ && total_ > 0) std::fprintf(out_, "\r\033[K");
  }

 private:
  FILE* out_;
  bool enabled_;
  int total_;
  Clock::time_point start_ = Clock::now();
};

// Mean of the parseable numbers in a column over `rows`; nullopt when none parse.
std::optional<double> MeanOf(const CsvTable& t, const std::vector<size_t>& rows, std::string_view column) {
  const int c = t.Column(column);
  if (c < 0) return std::nullopt;
  double sum = 0;
  int n = 0;
  for (size_t r : rows) {
    double v;
    if (absl::SimpleAtod(t.rows[r][c], &v)) {
      sum += v;
      ++n;
    }
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

std::string Summary(const Experiment& e, const CsvTable& table, const std::set<std::string>& hashes) {
  // Rows of this configuration, grouped by label in experiment order.
  const int hash_col = table.Column("config_hash"), label_col = table.Column("label"),
            error_col = table.Column("error");
  std::vector<std::string> order;
  std::map<std::string, std::vector<size_t>> by_label;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    if (hashes.count(table.rows[r][hash_col]) == 0) continue;
    const std::string& label = table.rows[r][label_col];
    if (by_label.count(label) == 0) order.push_back(label);
    by_label[label].push_back(r);
  }
  int width = 6;
  for (const std::string& label : order) width = std::max(width, std::min(100, static_cast<int>(label.size())));
  std::string out = absl::StrFormat("%-*s %10s %7s %9s %7s %9s %10s %6s\n", width, "policy", "kld_mean", "top1%",
                                    "lnPPLrat", "greedy", "tok/s", "kv_bytes", "ratio");
  auto field = [](std::optional<double> v, const char* fmt) {
    if (!v) return std::string("-");
    char buf[64];
    std::snprintf(buf, sizeof(buf), fmt, *v);
    return std::string(buf);
  };
  for (const std::string& label : order) {
    const std::vector<size_t>& rows = by_label[label];
    std::string error;
    for (size_t r : rows) {
      if (!table.rows[r][error_col].empty()) error = table.rows[r][error_col];
    }
    std::string name = static_cast<int>(label.size()) > width ? label.substr(0, width - 3) + "..." : label;
    if (!error.empty()) {
      absl::StrAppend(&out, absl::StrFormat("%-*s error: %s\n", width, name, error.substr(0, 120)));
      continue;
    }
    const auto top1 = MeanOf(table, rows, "top1_agree");
    absl::StrAppend(
        &out, absl::StrFormat("%-*s %10s %7s %9s %7s %9s %10s %6s\n", width, name, field(MeanOf(table, rows, "kld_mean"), "%.4g"),
                              top1 ? absl::StrFormat("%.1f", *top1 * 100) : "-",
                              field(MeanOf(table, rows, "ln_ppl_ratio"), "%.4g"),
                              field(MeanOf(table, rows, "greedy_match_len"), "%.1f"),
                              field(MeanOf(table, rows, "decode_tokens_per_s"), "%.0f"),
                              field(MeanOf(table, rows, "kv_bytes_logical"), "%.0f"),
                              field(MeanOf(table, rows, "compression_ratio"), "%.2f")));
  }
  (void)e;
  return out;
}

// Empty when every per-position number is exactly equal (what lockstep must reproduce), else where
// they first differ.
std::string DivergenceDifference(const PolicyDivergence& a, const PolicyDivergence& b) {
  if (a.positions.size() != b.positions.size()) {
    return absl::StrCat(a.positions.size(), " vs ", b.positions.size(), " scored positions");
  }
  for (size_t i = 0; i < a.positions.size(); ++i) {
    const PositionDivergence &x = a.positions[i], &y = b.positions[i];
    if (x.kld != y.kld || x.top1_agree != y.top1_agree || x.dp != y.dp || x.logp_ref != y.logp_ref ||
        x.logp_pol != y.logp_pol) {
      return absl::StrFormat("position %d: kld %.17g vs %.17g, logp_ref %.17g vs %.17g, logp %.17g vs %.17g", i,
                             x.kld, y.kld, x.logp_ref, y.logp_ref, x.logp_pol, y.logp_pol);
    }
  }
  if (a.greedy_match_len != b.greedy_match_len || a.token_match_rate != b.token_match_rate) {
    return absl::StrFormat("greedy match %g vs %g", a.greedy_match_len, b.greedy_match_len);
  }
  return "";
}

}  // namespace

absl::StatusOr<RunReport> RunExperiment(const Experiment& e, const Model& model, const RunOptions& options) {
  const auto start = Clock::now();
  FILE* log = options.log;
  SetNumThreads(e.threads);
  RunReport report;
  report.csv_path = e.output;
  report.metadata_path = MetadataPath(e.output);
  if (model.tokenizer == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("model ", e.model, " has no tokenizer"));
  }
  if (e.context_tokens > model.config.context_length) {
    return absl::OutOfRangeError(absl::StrCat(e.source, ": context_tokens ", e.context_tokens,
                                              " exceeds the model's context of ", model.config.context_length));
  }

  // Sequences.
  auto texts = LoadTexts(e.dataset);
  if (!texts.ok()) return texts.status();
  auto sequences = BuildSequences(*texts, *model.tokenizer,
                                  {.context_tokens = e.context_tokens,
                                   .max_sequences = e.max_sequences,
                                   .concatenate = e.dataset.concatenate});
  if (!sequences.ok()) return sequences.status();
  if (log != nullptr && static_cast<int>(sequences->size()) < e.max_sequences) {
    std::fprintf(log, "note: the dataset makes %zu sequences of %d tokens (max_sequences %d)\n",
                 sequences->size(), e.context_tokens, e.max_sequences);
  }

  // Existing results.
  CsvTable table;
  table.header = ResultColumns();
  if (auto existing = ReadCsvFile(e.output); existing.ok()) {
    if (existing->header == ResultColumns()) {
      table = *std::move(existing);
    } else if (!options.force && !existing->header.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          e.output, " has a different header (written by another kvbench version?); move it away or pass --force"));
    }
  } else if (existing.status().code() != absl::StatusCode::kNotFound) {
    if (!options.force) return existing.status();
  }

  // Cases and what is left to do.
  const std::string key = ExperimentKey(e);
  std::vector<Case> cases;
  std::set<std::string> hashes;
  for (size_t p = 0; p < e.policies.size(); ++p) {
    for (int r = 0; r < e.repetitions; ++r) {
      Case c{static_cast<int>(p), r,
             HashHex(absl::StrCat(key, "\ncase=", e.policies[p].spec.Label(), "\nrepetition=", r))};
      hashes.insert(c.hash);
      cases.push_back(std::move(c));
    }
  }
  const int hash_col = table.Column("config_hash"), error_col = table.Column("error");
  std::set<std::string> done;
  for (const auto& row : table.rows) {
    if (row[error_col].empty()) done.insert(row[hash_col]);
  }
  std::vector<Case> pending;
  for (const Case& c : cases) {
    if (options.force || done.count(c.hash) == 0) pending.push_back(c);
  }
  std::set<std::string> pending_hashes;
  for (const Case& c : pending) pending_hashes.insert(c.hash);
  // Rows about to be recomputed (error rows, or everything with --force) are dropped now.
  std::erase_if(table.rows, [&](const std::vector<std::string>& row) { return pending_hashes.count(row[hash_col]) > 0; });
  report.cases_total = static_cast<int>(cases.size());
  report.cases_skipped = report.cases_total - static_cast<int>(pending.size());
  if (log != nullptr && report.cases_skipped > 0) {
    std::fprintf(log, "%d of %d cases already in %s (resuming; --force recomputes)\n", report.cases_skipped,
                 report.cases_total, e.output.c_str());
  }

  RunInfo info{.started = UtcTimestamp(),
               .cases_total = report.cases_total,
               .cases_skipped = report.cases_skipped,
               .n_sequences = static_cast<int>(sequences->size())};
  if (absl::Status s = WriteFileAtomically(report.metadata_path, RunMetadataJson(e, model, info)); !s.ok()) {
    return s;
  }

  Decoder decoder(model);
  const std::string git_sha = GitSha();
  const LatencyOptions latency_options{.prompt_tokens = e.prompt_tokens, .decode_tokens = e.score_tokens - 1};
  // The reference's footprint at the same position, for compression ratios.
  KvMemory reference_memory;
  if (e.measure_memory && !pending.empty()) {
    auto ref = MeasureAlone(decoder, e.reference, *sequences, e.context_tokens, latency_options);
    if (!ref.ok()) {
      return absl::Status(ref.status().code(),
                          absl::StrCat("reference ", e.reference.Label(), ": ", ref.status().message()));
    }
    reference_memory = ref->memory_end;
  }

  // Pending policies in experiment order, in lockstep batches.
  std::vector<int> pending_policies;
  for (const Case& c : pending) {
    if (pending_policies.empty() || pending_policies.back() != c.policy) pending_policies.push_back(c.policy);
  }
  Progress progress(log, options.progress, static_cast<int>(pending.size()));
  int cases_done = 0;
  for (size_t b0 = 0; b0 < pending_policies.size(); b0 += e.lockstep_batch) {
    const size_t b1 = std::min(pending_policies.size(), b0 + e.lockstep_batch);
    std::vector<CacheSpec> specs;
    for (size_t i = b0; i < b1; ++i) specs.push_back(e.policies[pending_policies[i]].spec);
    progress.Show(cases_done, absl::StrCat("divergence of ", specs.size(), " policies in lockstep"));

    std::vector<absl::StatusOr<PolicyDivergence>> divergence(specs.size(), absl::UnknownError("not measured"));
    if (e.measure_divergence) {
      auto run = EvaluateDivergence(decoder, e.reference, specs, *sequences, e.context_tokens,
                                    {.prompt_tokens = e.prompt_tokens, .score_tokens = e.score_tokens});
      if (!run.ok()) return run.status();
      divergence = std::move(run->policies);
      if (options.lockstep_check && b0 == 0) {
        report.lockstep_seconds = run->seconds;
        for (size_t i = 0; i < specs.size(); ++i) {
          auto alone = EvaluateDivergence(decoder, e.reference, {specs[i]}, *sequences, e.context_tokens,
                                          {.prompt_tokens = e.prompt_tokens, .score_tokens = e.score_tokens});
          if (!alone.ok()) return alone.status();
          report.alone_seconds += alone->seconds;
          const auto& a = alone->policies[0];
          const auto& l = divergence[i];
          const std::string difference =
              a.ok() != l.ok() ? "one failed" : a.ok() ? DivergenceDifference(*l, *a) : "";
          if (!difference.empty()) {
            return absl::InternalError(absl::StrCat("lockstep and one-at-a-time divergence differ for ",
                                                    specs[i].Label(), ": ", difference));
          }
        }
        if (log != nullptr) {
          const double per_policy = report.alone_seconds / specs.size();
          std::fprintf(log,
                       "lockstep check: %zu policies + reference, %zu sequences: lockstep %.2f s, one at a "
                       "time %.2f s (%.3f s per policy with its reference), speed-up %.2fx; lockstep costs "
                       "%.2fx one policy alone; identical numbers\n",
                       specs.size(), sequences->size(), report.lockstep_seconds, report.alone_seconds, per_policy,
                       report.alone_seconds / std::max(1e-9, report.lockstep_seconds),
                       report.lockstep_seconds / std::max(1e-9, per_policy));
        }
      }
    }

    for (size_t i = 0; i < specs.size(); ++i) {
      const int p = pending_policies[b0 + i];
      const CacheSpec& spec = specs[i];
      bool warmed_up = false;
      std::optional<absl::StatusOr<LatencyResult>> memory_run;  // memory without latency: one run
      for (const Case& c : pending) {
        if (c.policy != p) continue;
        progress.Show(cases_done, spec.Label());
        Row row;
        row.Set("experiment", e.name);
        row.Set("model", e.model);
        row.Set("policy", spec.policy);
        row.Set("k_store", StoreText(spec.k_store, spec.k_params));
        row.Set("v_store", StoreText(spec.v_store, spec.v_params));
        row.Set("params", ParamsText(spec.policy_params));
        if (auto it = spec.policy_params.find("budget"); it != spec.policy_params.end()) row.Set("budget", it->second);
        row.Set("label", spec.Label());
        row.Set("repetition", absl::StrCat(c.repetition));
        row.Set("n_sequences", absl::StrCat(sequences->size()));
        row.Set("context_tokens", absl::StrCat(e.context_tokens));
        row.Set("prompt_tokens", absl::StrCat(e.prompt_tokens));
        row.Set("score_tokens", absl::StrCat(e.score_tokens));
        row.Set("git_sha", git_sha);
        row.Set("config_hash", c.hash);
        row.Set("seed", absl::StrCat(e.seed));
        row.Set("threads", absl::StrCat(e.threads));
        absl::Status error;
        std::optional<KvMemory> memory;
        if (e.measure_divergence) {
          if (divergence[i].ok()) {
            FillDivergence(*divergence[i], &row);
            memory = divergence[i]->memory_end;
          } else {
            error = divergence[i].status();
          }
        }
        if (error.ok() && e.measure_latency) {
          for (int w = 0; !warmed_up && w < e.warmup; ++w) {
            auto discard = MeasureAlone(decoder, spec, *sequences, e.context_tokens, latency_options);
            if (!discard.ok()) break;  // reported by the measured run below
          }
          warmed_up = true;
          auto latency = MeasureAlone(decoder, spec, *sequences, e.context_tokens, latency_options);
          if (latency.ok()) {
            FillLatency(*latency, &row);
            memory = latency->memory_end;
          } else {
            error = latency.status();
          }
        }
        if (error.ok() && e.measure_memory) {
          if (!memory) {
            if (!memory_run) {
              memory_run = MeasureAlone(decoder, spec, *sequences, e.context_tokens, latency_options);
            }
            if (memory_run->ok()) {
              memory = (*memory_run)->memory_end;
            } else {
              error = memory_run->status();
            }
          }
          if (memory) FillMemory(*memory, reference_memory, &row);
          row.Set("peak_rss_bytes", absl::StrCat(PeakRssBytes()));
        }
        if (!error.ok()) {
          row.Set("error", absl::StrCat(absl::StatusCodeToString(error.code()), ": ", error.message()));
          ++report.cases_failed;
          if (log != nullptr) {
            progress.Finish();
            std::fprintf(log, "case failed: %s: %s\n", spec.Label().c_str(), std::string(error.message()).c_str());
          }
        }
        row.Set("timestamp", UtcTimestamp());
        table.rows.push_back(row.Take());
        if (absl::Status s = WriteFileAtomically(e.output, FormatCsv(table)); !s.ok()) return s;
        ++report.cases_run;
        ++cases_done;
        progress.Show(cases_done, spec.Label());
      }
    }
  }
  progress.Finish();

  info.finished = UtcTimestamp();
  info.cases_failed = report.cases_failed;
  if (absl::Status s = WriteFileAtomically(report.metadata_path, RunMetadataJson(e, model, info)); !s.ok()) {
    return s;
  }
  // A run with nothing pending still leaves a CSV with its header.
  if (pending.empty()) {
    if (absl::Status s = WriteFileAtomically(e.output, FormatCsv(table)); !s.ok()) return s;
  }
  report.summary = Summary(e, table, hashes);
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace kvbench
