// Crash safety for the needle task: a cell (length, depth, needles) is many cases, each a long
// prefill for every cache, and its rows are written only once all are done. After every case the
// caches' tallies are written atomically beside the results CSV (`<csv>.<run key>.niah.partial`),
// so `kill -9` loses at most the case in flight and a rerun continues with the next case. Text in
// harness/checkpoint_text.h's conventions; a checkpoint of another run, another cell or other
// caches is ignored (a note says so) and the cell starts over.
#ifndef KVBENCH_HARNESS_NIAH_CHECKPOINT_H_
#define KVBENCH_HARNESS_NIAH_CHECKPOINT_H_

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvbench {

// What a cache gathers over a cell's cases.
struct NiahTally {
  int n = 0, correct = 0;
  double context_tokens = 0, kv_bytes = 0;  // sums over cases
  double kv_payload = 0, kv_index = 0, evicted_tokens = 0;
  double prefill_ms = 0, question_ms = 0, answer_ms = 0;
  absl::Status error;
};

struct NiahCheckpoint {
  std::string run_key;
  int cell = 0;                   // index into the run's cells
  int cases_done = 0;             // of the cell's cases, in order
  std::vector<std::string> keys;  // the (cell, cache) row hashes of the tallies, in order
  std::vector<NiahTally> tallies;
};

std::string NiahCheckpointPath(const std::string& csv, const std::string& run_key);

std::string FormatNiahCheckpoint(const NiahCheckpoint& checkpoint);

// DataLoss naming the line when `text` is not what FormatNiahCheckpoint writes.
absl::StatusOr<NiahCheckpoint> ParseNiahCheckpoint(absl::string_view text);

// The checkpoint at `path` when it exists, parses and is of run `run_key`, cell `cell` and the
// caches `keys`; nullopt otherwise (with a note on `log` when one was there but does not fit).
std::optional<NiahCheckpoint> ReadNiahCheckpoint(const std::string& path,
                                                 const std::string& run_key, int cell,
                                                 const std::vector<std::string>& keys, FILE* log);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_NIAH_CHECKPOINT_H_
