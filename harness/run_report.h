// What `kvbench run` shows of a sweep at the end: the summary table of this configuration's rows
// (the CSV holds everything; the table is for a quick look). The progress line: harness/progress.h.
#ifndef KVBENCH_HARNESS_RUN_REPORT_H_
#define KVBENCH_HARNESS_RUN_REPORT_H_

#include <set>
#include <string>

#include "harness/csv.h"

namespace kvbench {

// The label a reader needs for `row` of a results table: the policy and stores with the
// parameters the YAML gave (defaults left out, so no positions=original), f32 stores omitted,
// "kv=" when K and V share a store: "window(budget=64)", "full kv=q4_0". The `label` column when
// the table has no policy column.
std::string ShortLabel(const CsvTable& table, size_t row);

// One line per label of the rows whose config_hash is in `hashes`, in table order, at most 120
// columns: the short label (parameters as given, defaults left out), then the CSV's own columns
// averaged over repetitions: kld_mean +- kld_mean_se, top1_agree +- top1_agree_se (a fraction, as
// in the CSV), ln_ppl_ratio, decode_tokens_per_s, kv_bytes_ratio; or the label's error.
std::string SummaryTable(const CsvTable& table, const std::set<std::string>& hashes);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_RUN_REPORT_H_
