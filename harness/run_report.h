// What `kvbench run` shows of a sweep: a progress bar while it runs and, at the end, the summary
// table of this configuration's rows (the CSV holds everything; the table is for a quick look).
#ifndef KVBENCH_HARNESS_RUN_REPORT_H_
#define KVBENCH_HARNESS_RUN_REPORT_H_

#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>

#include "harness/csv.h"

namespace kvbench {

// Progress on a terminal: "[#####.....] 5/16 cases  3.2 s  ETA 10 s  window(budget=32)", redrawn
// in place. Draws nothing when disabled or `out` is null.
class Progress {
 public:
  Progress(FILE* out, bool enabled, int total)
      : out_(out), enabled_(enabled && out != nullptr), total_(total) {}

  void Show(int done, std::string_view what);
  // Clears the bar (before other output, and at the end).
  void Finish();

 private:
  FILE* out_;
  bool enabled_;
  int total_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// One line per label of the rows whose config_hash is in `hashes`, in table order, at most 120
// columns: the short label (parameters as given, defaults left out), then the CSV's own columns
// averaged over repetitions: kld_mean +- kld_mean_se, top1_agree +- top1_agree_se (a fraction, as
// in the CSV), ln_ppl_ratio, decode_tokens_per_s, kv_bytes_ratio; or the label's error.
std::string SummaryTable(const CsvTable& table, const std::set<std::string>& hashes);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_RUN_REPORT_H_
