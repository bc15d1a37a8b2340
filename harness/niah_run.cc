#include "harness/niah_run.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/case_guard.h"
#include "base/status.h"
#include "formats/atomic_file.h"
#include "formats/json.h"
#include "formats/read_file.h"
#include "harness/cache_columns.h"
#include "harness/dataset.h"
#include "harness/input_identity.h"
#include "harness/memory_tally.h"
#include "harness/niah_checkpoint.h"
#include "harness/progress.h"
#include "harness/result_table.h"
#include "harness/run_metadata.h"
#include "harness/run_report.h"
#include "model/decoder.h"
#include "model/loader.h"
#include "model/ops.h"
#include "model/sampler.h"
#include "model/session.h"

namespace kvbench {

const std::vector<std::string>& NiahColumns() {
  static const auto* const kColumns = new std::vector<std::string>{
      // identification
      "experiment", "model", "task", "policy", "k_store", "v_store", "params", "budget", "label",
      "protocol", "length_tokens", "depth", "n_needles",
      // accuracy
      "n", "correct", "accuracy", "ci_low", "ci_high",
      // the cache at the question
      "context_tokens", "evicted_tokens", "kv_bytes_logical", "kv_bytes_payload", "kv_bytes_index",
      "kv_bytes_ratio",
      // latency of the shared steps
      "context_prefill_ms", "question_ms", "answer_ms",
      // provenance
      "git_sha", "config_hash", "seed", "threads", "timestamp", "error"};
  return *kColumns;
}

namespace {

using Clock = std::chrono::steady_clock;

std::string Num(double v) { return absl::StrFormat("%.6g", v); }

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// needle_words.json beside the model (its folder, or the folder of its file).
absl::StatusOr<std::string> DefaultWordsPath(const std::string& model) {
  namespace fs = std::filesystem;
  ASSIGN_OR_RETURN(const std::string path, ResolveModelPath(model));
  const fs::path dir = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  return (dir / "needle_words.json").string();
}

// One (length, depth, needles) cell and the indices of its cases.
struct Cell {
  int length = 0;
  double depth = 0;
  int needles = 0;
  std::vector<int> cases;
};

std::vector<Cell> Cells(const std::vector<NiahCase>& cases) {
  std::vector<Cell> cells;
  for (int i = 0; i < static_cast<int>(cases.size()); ++i) {
    const NiahCase& c = cases[i];
    auto it = std::find_if(cells.begin(), cells.end(), [&](const Cell& x) {
      return x.length == c.length_tokens && x.depth == c.depth && x.needles == c.n_needles;
    });
    if (it == cells.end()) {
      cells.push_back({.length = c.length_tokens, .depth = c.depth, .needles = c.n_needles});
      it = cells.end() - 1;
    }
    it->cases.push_back(i);
  }
  return cells;
}

using Tally = NiahTally;

// The tokens of one case, as fed.
struct CaseTokens {
  std::vector<int> context;   // BOS + context (+ question when query-aware)
  std::vector<int> question;  // empty when query-aware
};

CaseTokens Tokenize(const NiahCase& c, const Tokenizer& tokenizer, bool query_aware) {
  CaseTokens t{.context = tokenizer.Encode(c.context, /*add_bos=*/true),
               .question = tokenizer.Encode(c.question, /*add_bos=*/false)};
  if (query_aware) {
    t.context.insert(t.context.end(), t.question.begin(), t.question.end());
    t.question.clear();
  }
  return t;
}

class NiahSweep {
 public:
  NiahSweep(const Experiment& e, const Model& model, const std::vector<NiahCase>& cases,
            const std::string& run_key, const RunOptions& options, ResultTable* table,
            RunReport* report)
      : e_(e),
        task_(*e.niah),
        model_(model),
        cases_(cases),
        options_(options),
        table_(table),
        report_(report),
        decoder_(model),
        run_key_(run_key),
        checkpoint_path_(NiahCheckpointPath(e.output, run_key)),
        git_sha_(GitSha()),
        logits_(model.config.vocab_size) {}

  // Runs the pending (cell, cache) pairs, cell by cell.
  absl::Status Run(const std::vector<Cell>& cells,
                   const std::vector<std::vector<int>>& pending_specs,
                   const std::vector<std::vector<std::string>>& hashes) {
    // Tokens fed: a case's context (once, however many store groups share it), question and
    // answer steps; planned from the case's length, corrected once it is tokenized (RunCase).
    int64_t total = 0;
    int cases_total = 0;
    for (size_t c = 0; c < cells.size(); ++c) {
      if (pending_specs[c].empty()) continue;
      for (int i : cells[c].cases) total += PlannedTokens(cases_[i]);
      cases_total += static_cast<int>(cells[c].cases.size());
    }
    progress_.emplace(options_.log, options_.progress, total, "tokens");
    int done = 0;
    for (size_t c = 0; c < cells.size(); ++c) {
      if (pending_specs[c].empty()) continue;
      const Cell& cell = cells[c];
      std::vector<std::string> keys;
      for (int s : pending_specs[c]) keys.push_back(hashes[c][s]);
      std::vector<Tally> tallies(pending_specs[c].size());
      int first_case = 0;
      if (std::optional<NiahCheckpoint> saved = ReadNiahCheckpoint(
              checkpoint_path_, run_key_, static_cast<int>(c), keys, options_.log)) {
        tallies = std::move(saved->tallies);
        first_case = std::min<int>(saved->cases_done, cell.cases.size());
        done += first_case;
        if (options_.log != nullptr) {
          progress_->Clear();
          std::fprintf(options_.log, "resuming length %d depth %g at case %d of %zu (%s)\n",
                       cell.length, cell.depth, first_case + 1, cell.cases.size(),
                       checkpoint_path_.c_str());
        }
      }
      for (int j = first_case; j < static_cast<int>(cell.cases.size()); ++j) {
        progress_->SetLabel(absl::StrFormat("case %d/%d length %d depth %g: %zu caches", done + 1,
                                            cases_total, cell.length, cell.depth,
                                            pending_specs[c].size()));
        GuardedCase(cell.cases[j], pending_specs[c], &tallies);
        ++done;
        RETURN_IF_ERROR(
            WriteFileAtomically(checkpoint_path_, FormatNiahCheckpoint({.run_key = run_key_,
                                                                        .cell = static_cast<int>(c),
                                                                        .cases_done = j + 1,
                                                                        .keys = keys,
                                                                        .tallies = tallies})));
      }
      progress_->Clear();
      const double reference = ReferenceBytes(pending_specs[c], tallies, hashes[c]);
      for (size_t k = 0; k < pending_specs[c].size(); ++k) {
        const int s = pending_specs[c][k];
        RETURN_IF_ERROR(
            table_->Append(Row(cell, e_.policies[s].spec, tallies[k], reference, hashes[c][s])));
        ++report_->cases_run;
        if (!tallies[k].error.ok()) ++report_->cases_failed;
      }
      std::remove(checkpoint_path_.c_str());  // the cell's rows are in the CSV
    }
    if (!options_.cases_out.empty()) {
      RETURN_IF_ERROR(WriteFileAtomically(options_.cases_out, cases_out_));
    }
    return absl::OkStatus();
  }

 private:
  int64_t PlannedTokens(const NiahCase& c) const {
    return c.length_tokens + task_.grid.answer_tokens - 1;
  }

  // RunCase, with a runtime failure (base/case_guard.h) pinned on the caches that cause it: the
  // case is rerun for each cache alone from the tallies it had before, and only a cache that
  // fails alone gets the error (its cell's row becomes an error row).
  void GuardedCase(int index, const std::vector<int>& specs, std::vector<Tally>* tallies) {
    const std::vector<Tally> before = *tallies;
    const size_t cases_out_size = cases_out_.size();
    const absl::Status failure = GuardCase([&] {
      RunCase(index, specs, tallies);
      return absl::OkStatus();
    });
    if (failure.ok()) return;
    *tallies = before;
    cases_out_.resize(cases_out_size);
    if (options_.log != nullptr) {
      progress_->Clear();
      std::fprintf(options_.log, "case %d failed (%s)%s\n", index,
                   std::string(failure.message()).c_str(),
                   specs.size() > 1 ? "; rerunning it for each cache alone" : "");
    }
    for (size_t k = 0; k < specs.size(); ++k) {
      if (!(*tallies)[k].error.ok()) continue;
      std::vector<Tally> alone = {(*tallies)[k]};
      const size_t size = cases_out_.size();
      const absl::Status error = specs.size() == 1 ? failure : GuardCase([&] {
        RunCase(index, {specs[k]}, &alone);
        return absl::OkStatus();
      });
      if (error.ok()) {
        (*tallies)[k] = alone[0];
      } else {
        (*tallies)[k].error = error;
        cases_out_.resize(size);
      }
    }
  }

  // Every pending cache answers case `index`; the results go to tallies[k] for specs[k].
  void RunCase(int index, const std::vector<int>& specs, std::vector<Tally>* tallies) {
    const NiahCase& c = cases_[index];
    const CaseTokens tokens = Tokenize(c, *model_.tokenizer, task_.query_aware);
    const int context = static_cast<int>(tokens.context.size());
    const int steps = task_.grid.answer_tokens - 1;
    const int64_t planned = PlannedTokens(c);
    const int64_t fed = context + static_cast<int64_t>(tokens.question.size()) + steps;
    progress_->AddTotal(fed - planned);
    int64_t advanced = 0;  // of `fed`; a case whose caches all failed skips the rest
    CacheShape shape = CacheShape::ForModel(model_.config, context);
    shape.prompt_tokens = context;  // ratio budgets are fractions of the compressed span

    // The caches, grouped by their stores' formats: a group shares its context prefill.
    std::vector<std::unique_ptr<Session>> sessions(specs.size());
    std::vector<std::pair<std::string, std::vector<int>>> groups;
    for (size_t k = 0; k < specs.size(); ++k) {
      Tally& t = (*tallies)[k];
      if (!t.error.ok()) continue;  // failed on an earlier case of the cell
      const CacheSpec& spec = e_.policies[specs[k]].spec;
      absl::StatusOr<std::unique_ptr<PolicyCache>> cache = MakeCache(spec, shape);
      if (!cache.ok()) {
        t.error = cache.status();
        continue;
      }
      // A cache that keeps nothing between steps recomputes its history: it cannot be a mirror.
      const std::string group = (*cache)->retains_entries()
                                    ? absl::StrCat(StoreText(spec.k_store, spec.k_params), " ",
                                                   StoreText(spec.v_store, spec.v_params))
                                    : absl::StrCat("alone ", k);
      sessions[k] = std::make_unique<Session>(std::move(*cache));
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const auto& g) { return g.first == group; });
      if (it == groups.end()) {
        groups.push_back({group, {}});
        it = groups.end() - 1;
      }
      it->second.push_back(static_cast<int>(k));
    }

    std::vector<std::vector<int>> answers(specs.size());
    for (size_t g = 0; g < groups.size(); ++g) {
      const std::vector<int>& members = groups[g].second;
      Session& primary = *sessions[members[0]];
      std::vector<Session*> mirrors;
      for (size_t m = 1; m < members.size(); ++m) mirrors.push_back(sessions[members[m]].get());
      const auto start = Clock::now();
      if (mirrors.empty()) {
        Feed(decoder_, primary, tokens.context, /*all_logits=*/false, logits_.data());
      } else {
        FeedMirrored(decoder_, primary, mirrors, tokens.context, /*all_logits=*/false,
                     logits_.data());
      }
      const double ms = MsSince(start);
      // The context counts once per case: each group advances its share.
      const int64_t n_groups = static_cast<int64_t>(groups.size()), i = static_cast<int64_t>(g);
      const int64_t share = context * (i + 1) / n_groups - context * i / n_groups;
      progress_->Advance(share);
      advanced += share;
      // Query-aware: the prefill's last logits (equal for every mirror) give the first answer
      // token.
      const int first = ArgMax(logits_);
      for (int k : members) {
        Tally& t = (*tallies)[k];
        t.prefill_ms += ms;
        t.context_tokens += context;
        const KvCache& cache = sessions[k]->cache();
        const KvMemory m = cache.total_memory(shape.n_layers);
        const double evicted = cache.evicted_tokens(shape.n_layers, shape.n_kv_heads);
        t.kv_bytes += m.logical;
        t.kv_payload += m.payload;
        t.kv_index += m.index;
        t.evicted_tokens += evicted;
        t.error = CheckEvicts(e_.policies[specs[k]].spec, evicted, context);
        if (!t.error.ok()) sessions[k].reset();  // the cell is an error row; no answer needed
        if (task_.query_aware) answers[k].push_back(first);
      }
    }

    std::vector<int> live;
    for (size_t k = 0; k < specs.size(); ++k) {
      if (sessions[k] != nullptr) live.push_back(static_cast<int>(k));
    }
    if (live.empty()) {
      progress_->Advance(fed - advanced);
      return;
    }
    if (!task_.query_aware) {
      const double ms = FeedAll(
          sessions, live, [&](int) { return tokens.question; }, &answers);
      for (int k : live) (*tallies)[k].question_ms += ms;
    }
    progress_->Advance(fed - advanced - steps);
    double decode_ms = 0;
    for (int step = 0; step < steps; ++step) {
      decode_ms += FeedAll(
          sessions, live, [&](int k) { return std::vector<int>{answers[k].back()}; }, &answers);
      progress_->Advance(1);
    }
    for (int k : live) {
      Tally& t = (*tallies)[k];
      if (steps > 0) t.answer_ms += decode_ms / steps;
      const std::string text = model_.tokenizer->Decode(answers[k]);
      const bool correct = NiahCorrect(text, c);
      ++t.n;
      t.correct += correct;
      if (!options_.cases_out.empty()) {
        nlohmann::ordered_json line = {{"case", index},
                                       {"length_tokens", c.length_tokens},
                                       {"depth", c.depth},
                                       {"n_needles", c.n_needles},
                                       {"policy", e_.policies[specs[k]].spec.Label()},
                                       {"answer", text},
                                       {"expected", c.answer},
                                       {"correct", correct}};
        absl::StrAppend(&cases_out_,
                        line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
                        "\n");
      }
    }
  }

  // One batched step: session k (of `live`) is fed tokens_of(k); its greedy next token is appended
  // to answers[k]. Returns the step's wall time in ms.
  template <typename TokensOf>
  double FeedAll(const std::vector<std::unique_ptr<Session>>& sessions,
                 const std::vector<int>& live, TokensOf tokens_of,
                 std::vector<std::vector<int>>* answers) {
    const size_t vocab = model_.config.vocab_size;
    std::vector<std::vector<int>> fed(live.size());
    std::vector<Session*> batch;
    std::vector<absl::Span<const int>> spans;
    std::vector<float*> logits;
    batch_logits_.resize(live.size() * vocab);
    for (size_t b = 0; b < live.size(); ++b) {
      fed[b] = tokens_of(live[b]);
      batch.push_back(sessions[live[b]].get());
      spans.push_back(fed[b]);
      logits.push_back(&batch_logits_[b * vocab]);
    }
    const auto start = Clock::now();
    Feed(decoder_, batch, spans, /*all_logits=*/false, logits);
    const double ms = MsSince(start);
    for (size_t b = 0; b < live.size(); ++b) {
      (*answers)[live[b]].push_back(ArgMax({logits[b], vocab}));
    }
    return ms;
  }

  // The mean KV bytes of the sweep's `full` f32 cache in this cell (measured now or in a row
  // already in the table), 0 when the sweep has none: kv_bytes_ratio divides it by a cache's.
  double ReferenceBytes(const std::vector<int>& specs, const std::vector<Tally>& tallies,
                        const std::vector<std::string>& hashes) const {
    for (size_t s = 0; s < e_.policies.size(); ++s) {
      const CacheSpec& spec = e_.policies[s].spec;
      if (spec.policy != "full" || spec.k_store != "f32" || spec.v_store != "f32") continue;
      for (size_t k = 0; k < specs.size(); ++k) {
        if (specs[k] == static_cast<int>(s) && tallies[k].error.ok() && tallies[k].n > 0) {
          return tallies[k].kv_bytes / tallies[k].n;
        }
      }
      const CsvTable& table = table_->table();
      for (const std::vector<std::string>& row : table.rows) {
        if (row[table.Column("config_hash")] == hashes[s] && row[table.Column("error")].empty()) {
          return std::stod(row[table.Column("kv_bytes_logical")]);
        }
      }
    }
    return 0;
  }

  std::vector<std::string> Row(const Cell& cell, const CacheSpec& spec, const Tally& t,
                               double reference_bytes, const std::string& hash) const {
    ResultRow row(NiahColumns());
    row.Set("experiment", e_.name);
    row.Set("model", e_.model);
    row.Set("task", "niah");
    SetCacheColumns(spec, &row);
    row.Set("protocol", task_.Protocol());
    row.Set("length_tokens", absl::StrCat(cell.length));
    row.Set("depth", Num(cell.depth));
    row.Set("n_needles", absl::StrCat(cell.needles));
    if (t.error.ok() && t.n > 0) {
      const Proportion p = WilsonInterval(t.correct, t.n);
      row.Set("n", absl::StrCat(t.n));
      row.Set("correct", absl::StrCat(t.correct));
      row.Set("accuracy", Num(p.estimate));
      row.Set("ci_low", Num(p.low));
      row.Set("ci_high", Num(p.high));
      row.Set("context_tokens", Num(t.context_tokens / t.n));
      row.Set("evicted_tokens", Num(t.evicted_tokens / t.n));
      row.Set("kv_bytes_logical", Num(t.kv_bytes / t.n));
      row.Set("kv_bytes_payload", Num(t.kv_payload / t.n));
      row.Set("kv_bytes_index", Num(t.kv_index / t.n));
      if (reference_bytes > 0 && t.kv_bytes > 0) {
        row.Set("kv_bytes_ratio", Num(reference_bytes / (t.kv_bytes / t.n)));
      }
      row.Set("context_prefill_ms", Num(t.prefill_ms / t.n));
      if (!task_.query_aware) row.Set("question_ms", Num(t.question_ms / t.n));
      row.Set("answer_ms", Num(t.answer_ms / t.n));
    } else if (!t.error.ok()) {
      row.Set("error",
              absl::StrCat(absl::StatusCodeToString(t.error.code()), ": ", t.error.message()));
    }
    row.Set("git_sha", git_sha_);
    row.Set("config_hash", hash);
    row.Set("seed", absl::StrCat(task_.grid.seed));
    row.Set("threads", absl::StrCat(e_.threads));
    row.Set("timestamp", UtcTimestamp());
    return std::move(row).Take();
  }

  const Experiment& e_;
  const NiahTask& task_;
  const Model& model_;
  const std::vector<NiahCase>& cases_;
  const RunOptions& options_;
  ResultTable* table_;
  RunReport* report_;
  Decoder decoder_;
  const std::string run_key_;
  const std::string checkpoint_path_;
  const std::string git_sha_;
  std::optional<Progress> progress_;  // from Run(), over its pending cases
  std::vector<float> logits_;         // (vocab) a prefill's last logits
  std::vector<float> batch_logits_;   // (live caches, vocab)
  std::string cases_out_;  // JSONL, one line per case and cache; an answer cut inside a UTF-8
                           // sequence is written with U+FFFD
};

// Everything that determines a cell's numbers but the cell and the cache.
absl::StatusOr<std::string> TaskKey(const Experiment& e) {
  const NiahTask& t = *e.niah;
  std::string cases;
  if (!t.cases.empty()) {
    ASSIGN_OR_RETURN(const std::string path, ResolveDataPath(t.cases));
    ASSIGN_OR_RETURN(const std::string text, ReadFile(path, "niah cases"));
    cases = absl::StrCat("cases=", HashHex(text));
  } else {
    cases = absl::StrCat("dataset=", e.dataset.path, "\nformat=", e.dataset.format,
                         "\nseparator=", e.dataset.separator, "\nwords=", t.words,
                         "\nsamples=", t.grid.samples, "\nseed=", t.grid.seed);
  }
  ASSIGN_OR_RETURN(const std::string inputs, InputsKey(e));
  return absl::StrCat("task=niah\nmodel=", e.model, "\nprotocol=", t.Protocol(),
                      "\nanswer_tokens=", t.grid.answer_tokens, "\nthreads=", e.threads, "\n",
                      cases, "\n", inputs);
}

// Per label: accuracy pooled over its cells with its interval, per length, and KV bytes at the
// question for the longest length.
std::string NiahSummary(const CsvTable& table, const std::set<std::string>& hashes) {
  struct Line {
    std::map<int, std::pair<int, int>> by_length;  // length -> (correct, n)
    int correct = 0, n = 0;
    double kv_bytes = 0;
    int kv_length = 0;
    std::string error;
  };
  std::vector<std::string> order;
  std::map<std::string, Line> lines;
  std::map<std::string, std::string> short_labels;  // what the table prints, per label
  std::set<int> lengths;
  const int hash_col = table.Column("config_hash"), label_col = table.Column("label");
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::vector<std::string>& row = table.rows[r];
    if (!hashes.contains(row[hash_col])) continue;
    const std::string& label = row[label_col];
    if (!lines.contains(label)) {
      order.push_back(label);
      short_labels[label] = ShortLabel(table, r);
    }
    Line& line = lines[label];
    const std::string& error = row[table.Column("error")];
    if (!error.empty()) {
      line.error = error;
      continue;
    }
    const int length = std::stoi(row[table.Column("length_tokens")]);
    const int n = std::stoi(row[table.Column("n")]), k = std::stoi(row[table.Column("correct")]);
    lengths.insert(length);
    line.by_length[length].first += k;
    line.by_length[length].second += n;
    line.correct += k;
    line.n += n;
    if (length >= line.kv_length) {
      line.kv_length = length;
      line.kv_bytes = std::stod(row[table.Column("kv_bytes_logical")]);
    }
  }
  // The labels as the divergence summary prints them (parameters as given, defaults left out).
  size_t width = 5;
  for (const auto& [label, text] : short_labels) width = std::max(width, text.size());
  width = std::min<size_t>(width, 44);
  std::string out = absl::StrFormat("%-*s", static_cast<int>(width), "cache");
  for (int length : lengths)
    absl::StrAppend(&out, absl::StrFormat(" %7s", absl::StrCat("@", length)));
  absl::StrAppend(&out, absl::StrFormat("  %-19s %10s\n", "accuracy [95% CI]", "KV MiB"));
  for (const std::string& label : order) {
    const Line& line = lines[label];
    const std::string& text = short_labels[label];
    absl::StrAppend(&out, absl::StrFormat("%-*s", static_cast<int>(width),
                                          text.size() > width ? text.substr(0, width) : text));
    if (line.n == 0) {
      absl::StrAppend(&out, "  error: ", line.error, "\n");
      continue;
    }
    for (int length : lengths) {
      auto it = line.by_length.find(length);
      absl::StrAppend(&out, it == line.by_length.end()
                                ? absl::StrFormat(" %7s", "-")
                                : absl::StrFormat(" %7.2f", static_cast<double>(it->second.first) /
                                                                it->second.second));
    }
    const Proportion p = WilsonInterval(line.correct, line.n);
    absl::StrAppend(&out, absl::StrFormat("  %.2f [%.2f, %.2f]   %10.2f%s\n", p.estimate, p.low,
                                          p.high, line.kv_bytes / (1 << 20),
                                          line.error.empty() ? "" : "  (some cells failed)"));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<NiahCase>> LoadNiahCases(const Experiment& e, const Model& model) {
  const NiahTask& t = *e.niah;
  std::vector<NiahCase> cases;
  if (!t.cases.empty()) {
    ASSIGN_OR_RETURN(const std::string path, ResolveDataPath(t.cases));
    ASSIGN_OR_RETURN(const std::string text, ReadFile(path, "niah cases"));
    ASSIGN_OR_RETURN(cases, NiahCasesFromJsonl(text, path));
  } else {
    for (int length : t.grid.lengths) {
      if (length > model.config.context_length) {
        return absl::OutOfRangeError(absl::StrCat(t.lengths_where, ": task.lengths: ", length,
                                                  " exceeds the model's context of ",
                                                  model.config.context_length, " tokens"));
      }
    }
    NiahSources sources;
    ASSIGN_OR_RETURN(sources.documents, LoadTexts(e.dataset));
    std::string words = t.words;
    if (words.empty()) {
      ASSIGN_OR_RETURN(words, DefaultWordsPath(e.model));
    } else {
      ASSIGN_OR_RETURN(words, ResolveDataPath(words));
    }
    ASSIGN_OR_RETURN(sources.words, LoadNeedleWords(words, "val"));
    absl::StatusOr<std::vector<NiahCase>> made = MakeNiahCases(t.grid, sources, *model.tokenizer);
    if (!made.ok()) return Annotate(made.status(), t.where);
    cases = std::move(*made);
  }
  for (const NiahCase& c : cases) {
    const int prompt = static_cast<int>(model.tokenizer->Encode(c.context, true).size() +
                                        model.tokenizer->Encode(c.question, false).size());
    if (prompt + t.grid.answer_tokens > model.config.context_length) {
      return absl::OutOfRangeError(absl::StrCat(t.where, ": a case of length ", c.length_tokens,
                                                " needs ", prompt, " + ", t.grid.answer_tokens,
                                                " tokens, beyond the model's context of ",
                                                model.config.context_length));
    }
  }
  return cases;
}

absl::StatusOr<RunReport> RunNiahExperiment(const Experiment& e, const Model& model,
                                            const RunOptions& options) {
  const auto start = Clock::now();
  SetNumThreads(e.threads);
  if (model.tokenizer == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("model ", e.model, " has no tokenizer"));
  }
  if (!options.cases_out.empty()) RETURN_IF_ERROR(CheckOutputPath(options.cases_out));
  ASSIGN_OR_RETURN(const std::vector<NiahCase> cases, LoadNiahCases(e, model));
  ASSIGN_OR_RETURN(ResultTable table, ResultTable::Open(e.output, NiahColumns(), options.force));
  ASSIGN_OR_RETURN(const std::string key, TaskKey(e));

  // Hashes per (cell, spec), then what is still to run.
  const std::vector<Cell> cells = Cells(cases);
  std::vector<std::vector<std::string>> hashes(cells.size());
  std::vector<std::string> all;
  for (size_t c = 0; c < cells.size(); ++c) {
    for (const PolicyCase& p : e.policies) {
      hashes[c].push_back(HashHex(absl::StrCat(
          key, "\nlength=", cells[c].length, "\ndepth=", Num(cells[c].depth), "\nneedles=",
          cells[c].needles, "\ncases=", cells[c].cases.size(), "\ncache=", p.spec.Label())));
      all.push_back(hashes[c].back());
    }
  }
  std::vector<std::vector<int>> pending(cells.size());
  const size_t per_cell = e.policies.size();
  for (size_t i : table.TakePending(all)) pending[i / per_cell].push_back(i % per_cell);

  RunReport report;
  report.csv_path = e.output;
  report.metadata_path = MetadataPath(e.output);
  report.cases_total = static_cast<int>(all.size());
  for (const auto& p : pending) report.cases_skipped -= static_cast<int>(p.size());
  report.cases_skipped += report.cases_total;
  if (options.log != nullptr && report.cases_skipped > 0) {
    std::fprintf(options.log, "%d of %d rows already in %s (resuming; --force recomputes)\n",
                 report.cases_skipped, report.cases_total, e.output.c_str());
  }
  RunInfo info{.started = UtcTimestamp(),
               .finished = "",
               .cases_total = report.cases_total,
               .cases_skipped = report.cases_skipped,
               .cases_failed = 0,
               .n_sequences = static_cast<int>(cases.size())};
  RETURN_IF_ERROR(WriteFileAtomically(report.metadata_path, RunMetadataJson(e, model, info)));

  const std::string run_key = HashHex(key);
  RETURN_IF_ERROR(
      NiahSweep(e, model, cases, run_key, options, &table, &report).Run(cells, pending, hashes));
  // A kill between a cell's last row and the removal of its checkpoint leaves one behind.
  if (report.cases_run == 0) std::remove(NiahCheckpointPath(e.output, run_key).c_str());

  info.finished = UtcTimestamp();
  info.cases_failed = report.cases_failed;
  RETURN_IF_ERROR(WriteFileAtomically(report.metadata_path, RunMetadataJson(e, model, info)));
  if (report.cases_run == 0) RETURN_IF_ERROR(table.Write());
  report.summary = NiahSummary(table.table(), {all.begin(), all.end()});
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace kvbench
