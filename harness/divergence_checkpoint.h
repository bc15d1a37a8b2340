// Crash safety for the lockstep divergence pass, the longest part of a sweep: after every sequence
// the pass's state (harness/divergence.h DivergenceState) is written atomically beside the results
// CSV, so `kill -9` loses at most the sequence in flight, and a rerun of the same experiment
// continues from the last sequence written and ends with the numbers an uninterrupted run gives.
//
// The file, `<csv>.<run key>.partial`, is text: a header naming the format, the run key (hash of
// everything that determines the numbers except the policies: model, dataset content, lengths,
// seed, kvbench version) and the sequences done; then one block per policy lane, keyed by that
// policy's hash, with its sums and every scored position. Doubles are written as hexadecimal
// floats (%a), which read back to the same bits. A checkpoint of another run key, of other
// policies or that does not parse is ignored (it is a cache of work, not a result): the pass
// starts from its first sequence.
#ifndef KVBENCH_HARNESS_DIVERGENCE_CHECKPOINT_H_
#define KVBENCH_HARNESS_DIVERGENCE_CHECKPOINT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "harness/divergence.h"

namespace kvbench {

struct DivergenceCheckpoint {
  std::string run_key;
  std::vector<std::string> policy_keys;  // one per lane of `state`, in its order
  DivergenceState state;
};

// Where the checkpoint of results CSV `csv` for run key `run_key` lives.
std::string DivergenceCheckpointPath(const std::string& csv, const std::string& run_key);

std::string FormatDivergenceCheckpoint(const DivergenceCheckpoint& checkpoint);

// DataLoss naming the line when `text` is not a checkpoint written by FormatDivergenceCheckpoint.
absl::StatusOr<DivergenceCheckpoint> ParseDivergenceCheckpoint(absl::string_view text);

// The checkpoint at `path` when it exists, parses and has run key `run_key`; nullopt otherwise
// (a note on `log` says why one was ignored).
std::optional<DivergenceCheckpoint> ReadDivergenceCheckpoint(const std::string& path,
                                                             const std::string& run_key, FILE* log);

// The state of the lanes `policy_keys`, in that order; nullopt unless each is in `checkpoint`.
std::optional<DivergenceState> SelectLanes(const DivergenceCheckpoint& checkpoint,
                                           const std::vector<std::string>& policy_keys);

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_DIVERGENCE_CHECKPOINT_H_
