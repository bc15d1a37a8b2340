#include "harness/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kvbench {
namespace {

double SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The terminal's columns: the window size of `out`, else $COLUMNS, else 80.
int TerminalWidth(FILE* out) {
  winsize ws{};
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  int columns = 0;
  if (const char* env = std::getenv("COLUMNS");
      env != nullptr && absl::SimpleAtoi(env, &columns) && columns > 0) {
    return columns;
  }
  return 80;
}

// 950, 12.4k, 3.1M: a count short enough for the line.
std::string Count(int64_t n) {
  if (n < 10000) return absl::StrCat(n);
  if (n < 10'000'000) return absl::StrFormat("%.1fk", n / 1e3);
  return absl::StrFormat("%.1fM", n / 1e6);
}

}  // namespace

absl::StatusOr<ProgressMode> ParseProgressMode(std::string_view text) {
  if (text == "auto") return ProgressMode::kAuto;
  if (text == "always") return ProgressMode::kAlways;
  if (text == "never") return ProgressMode::kNever;
  return absl::InvalidArgumentError(
      absl::StrCat("--progress '", std::string(text), "' is not auto, always or never"));
}

bool ProgressEnabled(ProgressMode mode, FILE* out) {
  if (out == nullptr || mode == ProgressMode::kNever) return false;
  return mode == ProgressMode::kAlways || isatty(fileno(out));
}

std::optional<double> EtaSeconds(int64_t done, int64_t total, double elapsed_s) {
  if (done <= 0) return std::nullopt;
  if (done >= total) return 0.0;
  return elapsed_s / static_cast<double>(done) * static_cast<double>(total - done);
}

std::optional<double> EtaSeconds(const std::vector<ProgressKind>& kinds) {
  int64_t done = 0;
  double seconds = 0, weighted = 0;
  for (const ProgressKind& k : kinds) {
    done += k.done;
    seconds += k.seconds;
    weighted += static_cast<double>(k.done) * k.weight;
  }
  if (done <= 0) return std::nullopt;
  double eta = 0;
  for (const ProgressKind& k : kinds) {
    const int64_t left = std::max<int64_t>(0, k.total - k.done);
    const double rate = k.done > 0 ? k.seconds / static_cast<double>(k.done)
                                   : (weighted > 0 ? seconds / weighted * k.weight : 0.0);
    eta += static_cast<double>(left) * rate;
  }
  return eta;
}

std::string FormatDuration(double seconds) {
  const int64_t s = std::max<int64_t>(0, std::llround(seconds));
  if (s < 60) return absl::StrCat(s, " s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
}

std::string ProgressText(int64_t done, int64_t total, std::string_view unit, double elapsed_s,
                         std::string_view what, int width) {
  return ProgressText(done, total, unit, elapsed_s, EtaSeconds(done, total, elapsed_s), what,
                      width);
}

std::string ProgressText(int64_t done, int64_t total, std::string_view unit, double elapsed_s,
                         std::optional<double> eta, std::string_view what, int width) {
  constexpr int kBar = 20;
  const double fraction =
      total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0)
                : 0.0;
  const int filled = static_cast<int>(fraction * kBar);
  std::string line = absl::StrFormat(
      "[%s%s] %3d%%  %s/%s %s  %s  ETA %s", std::string(filled, '#'),
      std::string(kBar - filled, '.'), static_cast<int>(fraction * 100), Count(done), Count(total),
      std::string(unit), FormatDuration(elapsed_s), eta ? FormatDuration(*eta) : std::string("?"));
  if (!what.empty()) absl::StrAppend(&line, "  ", std::string(what));
  // Cut to width - 1 columns; a UTF-8 sequence is not split (its continuation bytes go with it).
  const size_t max = static_cast<size_t>(std::max(1, width - 1));
  if (line.size() > max) {
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    line.resize(cut);
  }
  return line;
}

Progress::Progress(FILE* out, bool enabled, std::vector<ProgressKind> kinds, std::string unit,
                   Options options)
    : out_(out),
      enabled_(enabled && out != nullptr),
      kinds_(std::move(kinds)),
      unit_(std::move(unit)),
      options_(std::move(options)) {
  if (!options_.clock) options_.clock = SteadySeconds;
  if (kinds_.empty()) kinds_.emplace_back();
  start_s_ = last_advance_s_ = options_.clock();
}

Progress::~Progress() { Clear(); }

int64_t Progress::done() const {
  int64_t n = 0;
  for (const ProgressKind& k : kinds_) n += k.done;
  return n;
}

int64_t Progress::total() const {
  int64_t n = 0;
  for (const ProgressKind& k : kinds_) n += k.total;
  return n;
}

void Progress::AddTotal(int64_t delta, int kind) { kinds_.at(kind).total += delta; }

void Progress::Advance(int64_t units, int kind) {
  const double now = options_.clock();
  ProgressKind& k = kinds_.at(kind);
  k.done += units;
  k.seconds += now - last_advance_s_;
  last_advance_s_ = now;
  last_kind_ = kind;
  if (enabled_ && now - last_draw_s_ >= options_.min_interval_s) Draw();
}

void Progress::SetLabel(std::string what) {
  what_ = std::move(what);
  if (enabled_) Draw();
}

void Progress::Clear() {
  if (!drawn_) return;
  std::fputs("\r\033[K", out_);
  std::fflush(out_);
  drawn_ = false;
}

void Progress::Draw() {
  const double now = options_.clock();
  last_draw_s_ = now;
  const int width = options_.width > 0 ? options_.width : TerminalWidth(out_);
  // The time since the last Advance goes, for the estimate, to the kind advanced last.
  std::vector<ProgressKind> kinds = kinds_;
  kinds[last_kind_].seconds += now - last_advance_s_;
  const std::string line =
      ProgressText(done(), total(), unit_, now - start_s_, EtaSeconds(kinds), what_, width);
  std::fprintf(out_, "\r\033[K%s", line.c_str());
  std::fflush(out_);
  drawn_ = true;
}

}  // namespace kvbench
