// Progress of a long command (kvbench run, kvbench prefix) as one line on a terminal, redrawn in
// place as work is done:
//
//   [#######.............] 36%  12.4k/34.2k tokens  41 s  ETA 1m12s  case 3/18 h2o(budget=64)
//
// Work is counted in units the command advances often (tokens fed to the decoder, requests
// served), so the line moves inside a case and the ETA is the rate so far applied to the units
// left. Units of different cost are kept apart as kinds (a lockstep step of 17 caches costs more
// than a step of one): each kind's rate is measured on its own, and a kind not started yet is
// priced from the others by its weight, so the ETA of `kvbench run` does not overshoot through the
// lockstep pass and is measured, not guessed, once the first latency run has begun. The line is cut
// to the terminal's width less one column, so it never wraps. Nothing is written unless enabled:
// `--progress auto` enables it only when the stream is a terminal, so CI logs and redirected output
// stay clean.
#ifndef KVBENCH_HARNESS_PROGRESS_H_
#define KVBENCH_HARNESS_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kvbench {

enum class ProgressMode { kAuto, kAlways, kNever };

// "auto", "always" or "never"; InvalidArgument naming --progress otherwise.
absl::StatusOr<ProgressMode> ParseProgressMode(std::string_view text);

// Whether to draw on `out`: always, never, or (auto) when `out` is a terminal.
bool ProgressEnabled(ProgressMode mode, FILE* out);

// Seconds left at the rate so far: elapsed / done * (total - done); nullopt before any unit is
// done, 0 once done reaches total.
std::optional<double> EtaSeconds(int64_t done, int64_t total, double elapsed_s);

// One kind of unit: how many there are, how many are done in how long, and (for the price of a
// kind not started yet) the cost of one of its units relative to a unit of weight 1.
struct ProgressKind {
  int64_t total = 0;
  double weight = 1;
  int64_t done = 0;
  double seconds = 0;
};

// The sum over kinds of units left times the kind's rate: its seconds / done, or for a kind with
// none done the weighted rate of the others (their seconds / their done x weight) x its weight.
// nullopt before any unit is done.
std::optional<double> EtaSeconds(const std::vector<ProgressKind>& kinds);

// "7 s", "3m05s", "2h07m".
std::string FormatDuration(double seconds);

// The line for a terminal `width` columns wide, at most width - 1 characters (the last column
// would wrap the cursor on some terminals), without the leading "\r".
std::string ProgressText(int64_t done, int64_t total, std::string_view unit, double elapsed_s,
                         std::string_view what, int width);
// With the ETA given (nullopt: "?").
std::string ProgressText(int64_t done, int64_t total, std::string_view unit, double elapsed_s,
                         std::optional<double> eta, std::string_view what, int width);

class Progress {
 public:
  struct Options {
    int width = 0;  // columns; 0: the terminal's (TIOCGWINSZ on `out`, else $COLUMNS, else 80)
    double min_interval_s = 0.1;    // redraw at most this often (a decode step can be 0.1 ms)
    std::function<double()> clock;  // seconds on a monotonic clock; empty: steady_clock
  };

  // Draws nothing when !enabled or `out` is null. `unit` names what the totals count ("tokens");
  // `kinds` gives each kind's total and weight (their done and seconds start at 0).
  Progress(FILE* out, bool enabled, std::vector<ProgressKind> kinds, std::string unit,
           Options options);
  // One kind of unit.
  Progress(FILE* out, bool enabled, int64_t total, std::string unit, Options options)
      : Progress(out, enabled, std::vector<ProgressKind>{ProgressKind{.total = total}},
                 std::move(unit), std::move(options)) {}
  Progress(FILE* out, bool enabled, int64_t total, std::string unit)
      : Progress(out, enabled, total, std::move(unit), Options{}) {}
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Work of `kind` found on the way (or found absent: a negative delta).
  void AddTotal(int64_t delta, int kind = 0);
  // `units` more of `kind` done (the time since the previous Advance was spent on them); redraws
  // when min_interval_s has passed since the last draw.
  void Advance(int64_t units, int kind = 0);
  // What is being done now (shown after the ETA); redraws at once.
  void SetLabel(std::string what);
  // Erases the line, before other output is written to `out`; the next Advance or SetLabel draws
  // it again.
  void Clear();

  int64_t done() const;
  int64_t total() const;

 private:
  void Draw();

  FILE* out_;
  bool enabled_;
  std::vector<ProgressKind> kinds_;
  std::string unit_;
  Options options_;
  std::string what_;
  double start_s_;
  double last_advance_s_;
  int last_kind_ = 0;  // the kind the time since the last Advance is likely spent on
  double last_draw_s_ = -1e300;
  bool drawn_ = false;
};

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_PROGRESS_H_
