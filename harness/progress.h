// Progress of a long command (kvbench run, kvbench prefix) as one line on a terminal, redrawn in
// place as work is done:
//
//   [#######.............] 36%  12.4k/34.2k tokens  41 s  ETA 1m12s  case 3/18 h2o(budget=64)
//
// Work is counted in units the command advances often (tokens fed to the decoder, requests
// served), so the line moves inside a case and the ETA is the rate so far applied to the units
// left. The line is cut to the terminal's width less one column, so it never wraps. Nothing is
// written unless enabled: `--progress auto` enables it only when the stream is a terminal, so CI
// logs and redirected output stay clean.
#ifndef KVBENCH_HARNESS_PROGRESS_H_
#define KVBENCH_HARNESS_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

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

// "7 s", "3m05s", "2h07m".
std::string FormatDuration(double seconds);

// The line for a terminal `width` columns wide, at most width - 1 characters (the last column
// would wrap the cursor on some terminals), without the leading "\r".
std::string ProgressText(int64_t done, int64_t total, std::string_view unit, double elapsed_s,
                         std::string_view what, int width);

class Progress {
 public:
  struct Options {
    int width = 0;  // columns; 0: the terminal's (TIOCGWINSZ on `out`, else $COLUMNS, else 80)
    double min_interval_s = 0.1;    // redraw at most this often (a decode step can be 0.1 ms)
    std::function<double()> clock;  // seconds on a monotonic clock; empty: steady_clock
  };

  // Draws nothing when !enabled or `out` is null. `unit` names what `total` counts ("tokens").
  Progress(FILE* out, bool enabled, int64_t total, std::string unit, Options options);
  Progress(FILE* out, bool enabled, int64_t total, std::string unit)
      : Progress(out, enabled, total, std::move(unit), Options{}) {}
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Work found on the way (or found absent: a negative delta).
  void AddTotal(int64_t delta);
  // `units` more done; redraws when min_interval_s has passed since the last draw.
  void Advance(int64_t units);
  // What is being done now (shown after the ETA); redraws at once.
  void SetLabel(std::string what);
  // Erases the line, before other output is written to `out`; the next Advance or SetLabel draws
  // it again.
  void Clear();

  int64_t done() const { return done_; }
  int64_t total() const { return total_; }

 private:
  void Draw();

  FILE* out_;
  bool enabled_;
  int64_t total_;
  std::string unit_;
  Options options_;
  int64_t done_ = 0;
  std::string what_;
  double start_s_;
  double last_draw_s_ = -1e300;
  bool drawn_ = false;
};

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_PROGRESS_H_
