#include "harness/runner.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/case_guard.h"
#include "base/status.h"
#include "formats/atomic_file.h"
#include "harness/cache_columns.h"
#include "harness/csv.h"
#include "harness/dataset.h"
#include "harness/divergence.h"
#include "harness/divergence_checkpoint.h"
#include "harness/input_identity.h"
#include "harness/latency.h"
#include "harness/memory_tally.h"
#include "harness/niah_run.h"
#include "harness/progress.h"
#include "harness/result_table.h"
#include "harness/run_metadata.h"
#include "harness/run_report.h"
#include "model/decoder.h"
#include "model/ops.h"

namespace kvbench {

const std::vector<std::string>& ResultColumns() {
  static const auto* const kColumns = new std::vector<std::string>{
      // identification
      "experiment", "model", "policy", "k_store", "v_store", "params", "budget", "label",
      "repetition", "n_sequences", "context_tokens", "prompt_tokens", "score_tokens",
      // divergence (teacher forcing) and free running
      "n_scored", "ppl", "ppl_ref", "ln_ppl_ratio", "ln_ppl_ratio_se", "kld_mean", "kld_mean_se",
      "kld_median", "kld_p90", "kld_p95", "kld_p99", "kld_p999", "kld_max", "dp_mean", "dp_rms",
      "top1_agree", "top1_agree_se", "greedy_match_len", "token_match_rate",
      // latency
      "prefill_ms", "decode_ms_p50", "decode_ms_p95", "decode_ms_p99", "decode_tokens_per_s",
      "bookkeeping_share",
      // memory, and what the policy evicted, where the case is scored
      "evicted_tokens", "kv_bytes_logical", "kv_bytes_payload", "kv_bytes_index",
      "kv_bytes_allocated", "kv_bytes_peak", "kv_bytes_ratio", "peak_rss_bytes",
      // provenance
      "git_sha", "config_hash", "seed", "threads", "timestamp", "error"};
  return *kColumns;
}

namespace {

using Clock = std::chrono::steady_clock;
using Sequences = std::vector<std::vector<int>>;

std::string Num(double v) { return absl::StrFormat("%.6g", v); }

// Everything that determines a case's numbers, as text (hashed into config_hash).
std::string ExperimentKey(const Experiment& e) {
  return absl::StrCat(
      "model=", e.model, "\ndataset.path=", e.dataset.path,
      "\ndataset.prompts=", absl::StrJoin(e.dataset.prompts, "\x1f"),
      "\ndataset.format=", e.dataset.format, "\ndataset.separator=", e.dataset.separator,
      "\ndataset.concatenate=", e.dataset.concatenate, "\ncontext=", e.context_tokens,
      "\nprompt=", e.prompt_tokens, "\nscore=", e.score_tokens, "\nmax_sequences=", e.max_sequences,
      "\nseed=", e.seed, "\nthreads=", e.threads, "\nmeasure=", e.measure_divergence,
      e.measure_latency, e.measure_memory, "\nwarmup=", e.warmup,
      "\nreference=", e.reference.Label());
}

// The hash of everything but the policies: a divergence checkpoint's run key.
std::string RunKey(const Experiment& e, const std::string& inputs) {
  return HashHex(absl::StrCat(ExperimentKey(e), "\n", inputs));
}

// One (policy spec, repetition) of the sweep.
struct Case {
  int policy = 0;  // index into experiment.policies
  int repetition = 0;
  std::string hash;
};

// Every case, in experiment order: each policy's repetitions together. `inputs` is InputsKey(e).
std::vector<Case> PlanCases(const Experiment& e, const std::string& inputs) {
  const std::string key = absl::StrCat(ExperimentKey(e), "\n", inputs);
  std::vector<Case> cases;
  for (size_t p = 0; p < e.policies.size(); ++p) {
    for (int r = 0; r < e.repetitions; ++r) {
      cases.push_back(
          {static_cast<int>(p), r,
           HashHex(absl::StrCat(key, "\ncase=", e.policies[p].spec.Label(), "\nrepetition=", r))});
    }
  }
  return cases;
}

std::vector<std::string> Hashes(const std::vector<Case>& cases) {
  std::vector<std::string> hashes;
  for (const Case& c : cases) hashes.push_back(c.hash);
  return hashes;
}

// The cases `table` has no good row for (all under --force); their old rows are dropped.
std::vector<Case> TakePending(const std::vector<Case>& cases, ResultTable* table) {
  std::vector<Case> pending;
  for (size_t i : table->TakePending(Hashes(cases))) pending.push_back(cases[i]);
  return pending;
}

absl::Status CheckModel(const Experiment& e, const Model& model) {
  if (model.tokenizer == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("model ", e.model, " has no tokenizer"));
  }
  if (e.context_tokens > model.config.context_length) {
    return absl::OutOfRangeError(absl::StrCat(e.source, ": context_tokens ", e.context_tokens,
                                              " exceeds the model's context of ",
                                              model.config.context_length));
  }
  return absl::OkStatus();
}

absl::StatusOr<Sequences> LoadSequences(const Experiment& e, const Tokenizer& tokenizer,
                                        FILE* log) {
  ASSIGN_OR_RETURN(const std::vector<std::string> texts, LoadTexts(e.dataset));
  ASSIGN_OR_RETURN(Sequences sequences, BuildSequences(texts, tokenizer,
                                                       {.context_tokens = e.context_tokens,
                                                        .max_sequences = e.max_sequences,
                                                        .concatenate = e.dataset.concatenate}));
  if (log != nullptr && static_cast<int>(sequences.size()) < e.max_sequences) {
    std::fprintf(log, "note: the dataset makes %zu sequences of %d tokens (max_sequences %d)\n",
                 sequences.size(), e.context_tokens, e.max_sequences);
  }
  return sequences;
}

void FillDivergence(const PolicyDivergence& d, ResultRow* row) {
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

void FillLatency(const LatencyResult& l, ResultRow* row) {
  row->Set("prefill_ms", Num(l.prefill_ms));
  row->Set("decode_ms_p50", Num(l.decode_ms_p50));
  row->Set("decode_ms_p95", Num(l.decode_ms_p95));
  row->Set("decode_ms_p99", Num(l.decode_ms_p99));
  row->Set("decode_tokens_per_s", Num(l.decode_tokens_per_s));
  row->Set("bookkeeping_share", Num(l.bookkeeping_share));
}

void FillMemory(const KvMemory& m, const KvMemory& reference, ResultRow* row) {
  row->Set("kv_bytes_logical", absl::StrCat(m.logical));
  row->Set("kv_bytes_payload", absl::StrCat(m.payload));
  row->Set("kv_bytes_index", absl::StrCat(m.index));
  row->Set("kv_bytes_allocated", absl::StrCat(m.allocated));
  row->Set("kv_bytes_peak", absl::StrCat(m.peak));
  row->Set("kv_bytes_ratio",
           m.logical > 0 ? Num(static_cast<double>(reference.logical) / m.logical) : "");
}

// Empty when every per-position number is exactly equal (what lockstep must reproduce), else where
// they first differ.
std::string DivergenceDifference(const PolicyDivergence& a, const PolicyDivergence& b) {
  if (a.positions.size() != b.positions.size()) {
    return absl::StrCat(a.positions.size(), " vs ", b.positions.size(), " scored positions");
  }
  for (size_t i = 0; i < a.positions.size(); ++i) {
    const PositionDivergence &x = a.positions[i], &y = b.positions[i];
    if (x.kld != y.kld || x.top1_agree != y.top1_agree || x.dp != y.dp ||
        x.logp_ref != y.logp_ref || x.logp_pol != y.logp_pol) {
      return absl::StrFormat(
          "position %d: kld %.17g vs %.17g, logp_ref %.17g vs %.17g, logp %.17g vs %.17g", i, x.kld,
          y.kld, x.logp_ref, y.logp_ref, x.logp_pol, y.logp_pol);
    }
  }
  if (a.greedy_match_len != b.greedy_match_len || a.token_match_rate != b.token_match_rate) {
    return absl::StrFormat("greedy match %g vs %g", a.greedy_match_len, b.greedy_match_len);
  }
  return "";
}

// The measuring half of a run: one decoder over the experiment's sequences, rows appended to the
// table case by case.
class Sweep {
 public:
  Sweep(const Experiment& e, const Model& model, const Sequences& sequences,
        const std::string& run_key, const RunOptions& options, ResultTable* table,
        RunReport* report)
      : e_(e),
        sequences_(sequences),
        options_(options),
        table_(table),
        report_(report),
        decoder_(model),
        run_key_(run_key),
        checkpoint_path_(DivergenceCheckpointPath(e.output, run_key)),
        git_sha_(GitSha()),
        latency_options_{
            .prompt_tokens = e.prompt_tokens,
            .decode_tokens = e.score_tokens - 1,
            .on_tokens = [this](int64_t tokens) { progress_->Advance(tokens, kAloneTokens); }},
        divergence_options_{
            .prompt_tokens = e.prompt_tokens,
            .score_tokens = e.score_tokens,
            .on_tokens = [this](int64_t tokens) { progress_->Advance(tokens, kLockstepTokens); }} {}

  // Policies are taken lockstep_batch at a time: the divergence of a batch is evaluated together,
  // then each policy's cases run alone for latency and memory.
  absl::Status Run(const std::vector<Case>& pending) {
    std::vector<int> policies;  // pending policies in experiment order
    for (const Case& c : pending) {
      if (policies.empty() || policies.back() != c.policy) policies.push_back(c.policy);
    }
    if (e_.measure_divergence) {
      checkpoint_ = ReadDivergenceCheckpoint(checkpoint_path_, run_key_, options_.log);
      if (checkpoint_) policies = CheckpointedFirst(policies);
    }
    cases_total_ = static_cast<int>(pending.size());
    progress_.emplace(options_.log, options_.progress, PlannedTokens(policies, pending), "tokens",
                      Progress::Options{});
    if (e_.measure_memory && !pending.empty()) {
      progress_->SetLabel("reference memory");
      RETURN_IF_ERROR(MeasureReferenceMemory());
    }
    for (size_t b0 = 0; b0 < policies.size(); b0 += e_.lockstep_batch) {
      const size_t b1 = std::min(policies.size(), b0 + e_.lockstep_batch);
      const std::vector<int> batch(policies.begin() + b0, policies.begin() + b1);
      progress_->SetLabel(absl::StrCat("divergence of ", batch.size(), " policies in lockstep"));
      ASSIGN_OR_RETURN(
          const std::vector<absl::StatusOr<PolicyDivergence>> divergence,
          BatchDivergence(batch, /*check_lockstep=*/options_.lockstep_check && b0 == 0));
      for (size_t i = 0; i < batch.size(); ++i) {
        RETURN_IF_ERROR(RunPolicy(batch[i], divergence[i], pending));
      }
      // Every row of the batch is in the CSV: its divergence checkpoint has done its job.
      if (e_.measure_divergence) std::remove(checkpoint_path_.c_str());
      checkpoint_.reset();
    }
    progress_->Clear();
    return absl::OkStatus();
  }

 private:
  // The progress line's two kinds of tokens: steps of a lockstep batch (every cache of the batch
  // and the reference at once) and steps of one cache alone.
  static constexpr int kLockstepTokens = 0, kAloneTokens = 1;

  // The tokens Run() will step through the decoder: per lockstep batch its divergence pass, and
  // alone: with the lockstep check each policy's pass of the first batch, per policy its warm-up
  // or memory-only run, per case its latency run, and the reference's memory run. A case that
  // fails early leaves some of it undone. A lockstep token is priced at first as the batch's
  // caches + 1 alone tokens, until both kinds have been timed.
  std::vector<ProgressKind> PlannedTokens(const std::vector<int>& policies,
                                          const std::vector<Case>& pending) const {
    const int64_t n = static_cast<int64_t>(sequences_.size());
    const int64_t divergence_pass = n * 2 * (e_.prompt_tokens + e_.score_tokens - 1);
    const int64_t latency_run = n * (e_.prompt_tokens + e_.score_tokens - 1);
    ProgressKind lockstep, alone;
    alone.total = e_.measure_memory && !pending.empty() ? latency_run : 0;
    for (size_t b0 = 0; b0 < policies.size(); b0 += e_.lockstep_batch) {
      const size_t batch = std::min(policies.size() - b0, static_cast<size_t>(e_.lockstep_batch));
      if (!e_.measure_divergence) continue;
      lockstep.total += divergence_pass;
      lockstep.weight = std::max(lockstep.weight, static_cast<double>(batch + 1));
      if (options_.lockstep_check && b0 == 0) {
        alone.total += static_cast<int64_t>(batch) * divergence_pass;
      }
    }
    for (size_t p = 0; p < policies.size(); ++p) {
      if (e_.measure_latency) {
        alone.total += e_.warmup * latency_run;
      } else if (e_.measure_memory && !e_.measure_divergence) {
        alone.total += latency_run;  // one memory-only run
      }
    }
    if (e_.measure_latency) alone.total += static_cast<int64_t>(pending.size()) * latency_run;
    return {lockstep, alone};
  }

  // What a policy's repetitions share: one warm-up, one memory-only run.
  struct PolicyRuns {
    bool warmed_up = false;
    std::optional<absl::StatusOr<LatencyResult>> memory_run;  // memory without latency
  };

  // The reference's footprint at the same position, for compression ratios.
  absl::Status MeasureReferenceMemory() {
    absl::StatusOr<LatencyResult> ref = GuardCase([&] {
      return MeasureAlone(decoder_, e_.reference, sequences_, e_.context_tokens, latency_options_);
    });
    if (!ref.ok()) return Annotate(ref.status(), absl::StrCat("reference ", e_.reference.Label()));
    reference_memory_ = ref->memory_end;
    return absl::OkStatus();
  }

  // A policy's key in divergence checkpoints: its divergence does not depend on the repetition.
  std::string PolicyKey(int p) const {
    return HashHex(absl::StrCat(run_key_, "\npolicy=", e_.policies[p].spec.Label()));
  }

  // `policies` with those the checkpoint has lanes for first, so the first lockstep batch is the
  // one the checkpoint was written by (or what is left of it) and continues where it stopped.
  std::vector<int> CheckpointedFirst(const std::vector<int>& policies) const {
    std::vector<int> first, rest;
    for (int p : policies) {
      const bool saved = SelectLanes(*checkpoint_, {PolicyKey(p)}).has_value();
      (saved ? first : rest).push_back(p);
    }
    first.insert(first.end(), rest.begin(), rest.end());
    return first;
  }

  // The batch's divergence, one slot per policy ("not measured" when divergence is not measured).
  // A runtime failure in a lockstep pass (a failed check, memory exhausted: base/case_guard.h)
  // cannot be pinned on one cache, so the batch's policies are then evaluated one at a time and
  // only the failing ones get the error.
  absl::StatusOr<std::vector<absl::StatusOr<PolicyDivergence>>> BatchDivergence(
      const std::vector<int>& batch, bool check_lockstep) {
    if (!e_.measure_divergence) {
      return std::vector<absl::StatusOr<PolicyDivergence>>(batch.size(),
                                                           absl::UnknownError("not measured"));
    }
    std::vector<CacheSpec> specs;
    std::vector<std::string> keys;
    for (int p : batch) {
      specs.push_back(e_.policies[p].spec);
      keys.push_back(PolicyKey(p));
    }
    DivergenceOptions options = divergence_options_;
    std::optional<DivergenceState> resume;
    if (checkpoint_) resume = SelectLanes(*checkpoint_, keys);
    if (resume) {
      options.resume = &*resume;
      if (options_.log != nullptr) {
        progress_->Clear();
        std::fprintf(
            options_.log, "resuming the divergence of %zu policies at sequence %d of %zu (%s)\n",
            specs.size(), resume->sequences_done + 1, sequences_.size(), checkpoint_path_.c_str());
      }
    }
    options.on_sequence = [&](const DivergenceState& state) {
      return WriteFileAtomically(checkpoint_path_,
                                 FormatDivergenceCheckpoint({run_key_, keys, state}));
    };
    absl::StatusOr<DivergenceRun> run = GuardCase([&] {
      return EvaluateDivergence(decoder_, e_.reference, specs, sequences_, e_.context_tokens,
                                options);
    });
    if (!run.ok() && IsCaseFailure(run.status())) return OneAtATime(specs, run.status());
    RETURN_IF_ERROR(run.status());
    if (check_lockstep) RETURN_IF_ERROR(CheckLockstep(specs, *run));
    return std::move(run->policies);
  }

  // Each of `specs` evaluated alone, after their lockstep pass failed with `failure`.
  std::vector<absl::StatusOr<PolicyDivergence>> OneAtATime(const std::vector<CacheSpec>& specs,
                                                           const absl::Status& failure) {
    std::vector<absl::StatusOr<PolicyDivergence>> out;
    if (specs.size() == 1) return {failure};
    if (options_.log != nullptr) {
      progress_->Clear();
      std::fprintf(options_.log,
                   "lockstep pass of %zu policies failed (%s); evaluating them one at a time\n",
                   specs.size(), std::string(failure.message()).c_str());
    }
    DivergenceOptions alone = divergence_options_;
    alone.on_tokens = [this](int64_t tokens) { progress_->Advance(tokens, kAloneTokens); };
    for (const CacheSpec& spec : specs) {
      absl::StatusOr<DivergenceRun> run = GuardCase([&] {
        return EvaluateDivergence(decoder_, e_.reference, {spec}, sequences_, e_.context_tokens,
                                  alone);
      });
      out.push_back(run.ok() ? std::move(run->policies[0])
                             : absl::StatusOr<PolicyDivergence>(run.status()));
    }
    return out;
  }

  // Evaluates `specs` one at a time and fails (Internal) unless every number equals the lockstep
  // result; records and prints both times.
  absl::Status CheckLockstep(const std::vector<CacheSpec>& specs, const DivergenceRun& lockstep) {
    report_->lockstep_seconds = lockstep.seconds;
    for (size_t i = 0; i < specs.size(); ++i) {
      DivergenceOptions alone_options = divergence_options_;
      alone_options.on_tokens = [this](int64_t tokens) {
        progress_->Advance(tokens, kAloneTokens);
      };
      ASSIGN_OR_RETURN(const DivergenceRun alone, GuardCase([&] {
                         return EvaluateDivergence(decoder_, e_.reference, {specs[i]}, sequences_,
                                                   e_.context_tokens, alone_options);
                       }));
      report_->alone_seconds += alone.seconds;
      const absl::StatusOr<PolicyDivergence>& a = alone.policies[0];
      const absl::StatusOr<PolicyDivergence>& l = lockstep.policies[i];
      const std::string difference = a.ok() != l.ok() ? "one failed"
                                     : a.ok()         ? DivergenceDifference(*l, *a)
                                                      : "";
      if (!difference.empty()) {
        return absl::InternalError(absl::StrCat("lockstep and one-at-a-time divergence differ for ",
                                                specs[i].Label(), ": ", difference));
      }
    }
    if (options_.log != nullptr) {
      progress_->Clear();
      const double per_policy = report_->alone_seconds / specs.size();
      std::fprintf(options_.log,
                   "lockstep check: %zu policies + reference, %zu sequences: lockstep %.2f s, one "
                   "at a time %.2f s (%.3f s per policy with its reference), speed-up %.2fx; "
                   "lockstep costs %.2fx one policy alone; identical numbers\n",
                   specs.size(), sequences_.size(), report_->lockstep_seconds,
                   report_->alone_seconds, per_policy,
                   report_->alone_seconds / std::max(1e-9, report_->lockstep_seconds),
                   report_->lockstep_seconds / std::max(1e-9, per_policy));
    }
    return absl::OkStatus();
  }

  // The pending cases of policy `p`, one row each.
  absl::Status RunPolicy(int p, const absl::StatusOr<PolicyDivergence>& divergence,
                         const std::vector<Case>& pending) {
    const CacheSpec& spec = e_.policies[p].spec;
    PolicyRuns runs;
    for (const Case& c : pending) {
      if (c.policy != p) continue;
      progress_->SetLabel(
          absl::StrCat("case ", cases_done_ + 1, "/", cases_total_, " ", spec.Label()));
      ResultRow row = CaseRow(c, spec);
      if (absl::Status error =
              GuardCase([&] { return MeasureCase(spec, divergence, &runs, &row); });
          !error.ok()) {
        row.Set("error",
                absl::StrCat(absl::StatusCodeToString(error.code()), ": ", error.message()));
        ++report_->cases_failed;
        if (options_.log != nullptr) {
          progress_->Clear();
          std::fprintf(options_.log, "case failed: %s: %s\n", spec.Label().c_str(),
                       std::string(error.message()).c_str());
        }
      }
      row.Set("timestamp", UtcTimestamp());
      RETURN_IF_ERROR(table_->Append(std::move(row).Take()));
      ++report_->cases_run;
      ++cases_done_;
    }
    return absl::OkStatus();
  }

  // A case's identification and provenance columns.
  ResultRow CaseRow(const Case& c, const CacheSpec& spec) const {
    ResultRow row(ResultColumns());
    row.Set("experiment", e_.name);
    row.Set("model", e_.model);
    SetCacheColumns(spec, &row);
    row.Set("repetition", absl::StrCat(c.repetition));
    row.Set("n_sequences", absl::StrCat(sequences_.size()));
    row.Set("context_tokens", absl::StrCat(e_.context_tokens));
    row.Set("prompt_tokens", absl::StrCat(e_.prompt_tokens));
    row.Set("score_tokens", absl::StrCat(e_.score_tokens));
    row.Set("git_sha", git_sha_);
    row.Set("config_hash", c.hash);
    row.Set("seed", absl::StrCat(e_.seed));
    row.Set("threads", absl::StrCat(e_.threads));
    return row;
  }

  // Fills the measured columns; the case's error, if any (the row keeps what was measured).
  absl::Status MeasureCase(const CacheSpec& spec,
                           const absl::StatusOr<PolicyDivergence>& divergence, PolicyRuns* runs,
                           ResultRow* row) {
    std::optional<KvMemory> memory;
    std::optional<double> evicted;  // by the first measurement: they all end at the same token
    if (e_.measure_divergence) {
      if (!divergence.ok()) return divergence.status();
      FillDivergence(*divergence, row);
      memory = divergence->memory_end;
      evicted = divergence->evicted_tokens;
    }
    if (e_.measure_latency) {
      for (int w = 0; !runs->warmed_up && w < e_.warmup; ++w) {
        auto discard =
            MeasureAlone(decoder_, spec, sequences_, e_.context_tokens, latency_options_);
        if (!discard.ok()) break;  // reported by the measured run below
      }
      runs->warmed_up = true;
      ASSIGN_OR_RETURN(
          const LatencyResult latency,
          MeasureAlone(decoder_, spec, sequences_, e_.context_tokens, latency_options_));
      FillLatency(latency, row);
      memory = latency.memory_end;
      if (!evicted) evicted = latency.evicted_tokens;
    }
    if (e_.measure_memory) {
      if (!memory) {
        if (!runs->memory_run) {
          runs->memory_run =
              MeasureAlone(decoder_, spec, sequences_, e_.context_tokens, latency_options_);
        }
        if (runs->memory_run->ok()) {
          memory = (*runs->memory_run)->memory_end;
          evicted = (*runs->memory_run)->evicted_tokens;
        }
      }
      if (memory) FillMemory(*memory, reference_memory_, row);
      row->Set("peak_rss_bytes", absl::StrCat(PeakRssBytes()));
      if (!memory) return runs->memory_run->status();
    }
    if (!evicted) return absl::OkStatus();
    row->Set("evicted_tokens", Num(*evicted));
    return CheckEvicts(spec, *evicted, e_.context_tokens);
  }

  const Experiment& e_;
  const Sequences& sequences_;
  const RunOptions& options_;
  ResultTable* table_;
  RunReport* report_;
  Decoder decoder_;
  const std::string run_key_;
  const std::string checkpoint_path_;
  std::optional<DivergenceCheckpoint> checkpoint_;  // read by Run(), for its first batch
  const std::string git_sha_;
  const LatencyOptions latency_options_;
  const DivergenceOptions divergence_options_;
  KvMemory reference_memory_;
  std::optional<Progress> progress_;  // from Run(), over its pending cases
  int cases_done_ = 0, cases_total_ = 0;
};

}  // namespace

absl::StatusOr<RunReport> RunExperiment(const Experiment& e, const Model& model,
                                        const RunOptions& options) {
  if (e.niah) return RunNiahExperiment(e, model, options);
  const auto start = Clock::now();
  SetNumThreads(e.threads);
  RETURN_IF_ERROR(CheckModel(e, model));
  ASSIGN_OR_RETURN(const Sequences sequences, LoadSequences(e, *model.tokenizer, options.log));
  ASSIGN_OR_RETURN(ResultTable table, ResultTable::Open(e.output, ResultColumns(), options.force));
  ASSIGN_OR_RETURN(const std::string inputs, InputsKey(e));
  const std::vector<Case> cases = PlanCases(e, inputs);
  const std::vector<Case> pending = TakePending(cases, &table);

  RunReport report;
  report.csv_path = e.output;
  report.metadata_path = MetadataPath(e.output);
  report.cases_total = static_cast<int>(cases.size());
  report.cases_skipped = static_cast<int>(cases.size() - pending.size());
  if (options.log != nullptr && report.cases_skipped > 0) {
    std::fprintf(options.log, "%d of %d cases already in %s (resuming; --force recomputes)\n",
                 report.cases_skipped, report.cases_total, e.output.c_str());
  }
  RunInfo info{.started = UtcTimestamp(),
               .cases_total = report.cases_total,
               .cases_skipped = report.cases_skipped,
               .n_sequences = static_cast<int>(sequences.size())};
  RETURN_IF_ERROR(WriteFileAtomically(report.metadata_path, RunMetadataJson(e, model, info)));

  const std::string run_key = RunKey(e, inputs);
  RETURN_IF_ERROR(Sweep(e, model, sequences, run_key, options, &table, &report).Run(pending));
  // A kill between a batch's last row and the removal of its checkpoint leaves one behind.
  if (pending.empty()) std::remove(DivergenceCheckpointPath(e.output, run_key).c_str());

  info.finished = UtcTimestamp();
  info.cases_failed = report.cases_failed;
  RETURN_IF_ERROR(WriteFileAtomically(report.metadata_path, RunMetadataJson(e, model, info)));
  if (pending.empty()) RETURN_IF_ERROR(table.Write());
  const std::vector<std::string> hashes = Hashes(cases);
  report.summary = SummaryTable(table.table(), {hashes.begin(), hashes.end()});
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace kvbench
