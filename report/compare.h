// `kvbench compare BASE.csv NEW.csv`: matches the rows of two results files of one kind and says,
// per metric, how much it changed, the standard error of that change, and whether it is
// significant.
//
// Matching: rows agree on the kind's identity columns (CompareKey), which name the case and the
// sweep point but not the code version: git_sha and timestamp are what is expected to differ, and
// config_hash is not part of the key because comparing two settings of one case (another dataset
// size, seed or thread count) is a legitimate question. A matched pair whose config_hash differs is
// reported with a note so such a comparison is never mistaken for a code change alone.
//
// Tests (|z| > kSignificantZ = 2, two-sided, about 5% under the normal approximation):
//   a metric with a standard error column (kld_mean/kld_mean_se, top1_agree/top1_agree_se,
//   ln_ppl_ratio/ln_ppl_ratio_se): z = (new - base) / sqrt(se_base^2 + se_new^2), treating the
//   two runs as independent samples. Runs on the same sequences are positively correlated, so this
//   overstates the noise of the difference: conservative, it misses small changes rather than
//   inventing them.
//   NIAH accuracy: two-proportion z-test on correct / n with the pooled proportion.
//   Other metrics (time, bytes, hit rate) have no standard error in the CSV: the change is shown,
//   never called significant.
// A significant change in the metric's bad direction is a regression.
#ifndef KVBENCH_REPORT_COMPARE_H_
#define KVBENCH_REPORT_COMPARE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "report/results.h"

namespace kvbench {

// The identity columns of a kind, in display order.
const std::vector<std::string>& CompareKey(ResultsKind kind);

enum class Verdict {
  kSame,       // |z| <= 2
  kRegressed,  // significant, in the bad direction
  kImproved,   // significant, in the good direction
  kUntested,   // no standard error (or none for either side): change shown only
  kMissing,    // a side has no value
};

absl::string_view VerdictName(Verdict verdict);

struct MetricChange {
  std::string metric;
  std::optional<double> base;
  std::optional<double> current;
  std::optional<double> se;  // of the difference
  std::optional<double> z;
  Verdict verdict = Verdict::kMissing;
  std::string test;  // "z (se columns)", "two-proportion z", "" untested
};

struct RowComparison {
  std::string key;  // "label=... context_tokens=..." (key columns that vary in the files)
  std::vector<MetricChange> metrics;
  std::vector<std::string> notes;
};

struct Comparison {
  ResultsKind kind = ResultsKind::kDivergence;
  std::string base_path, current_path;
  std::string base_sha, current_sha;
  std::vector<RowComparison> rows;
  std::vector<std::string> only_in_base, only_in_current;  // row keys
  std::vector<std::string> errors;  // "<file>: <key>: <error>" for error rows (not compared)
  int regressions = 0;
  int improvements = 0;
};

// InvalidArgument when the kinds differ or a file has two rows with one key.
absl::StatusOr<Comparison> CompareResults(const ResultsFile& base, const ResultsFile& current);

// Markdown (a summary and one table) and plain text (aligned columns) renderings.
std::string ComparisonMarkdown(const Comparison& comparison);
std::string ComparisonText(const Comparison& comparison);

}  // namespace kvbench

#endif  // KVBENCH_REPORT_COMPARE_H_
