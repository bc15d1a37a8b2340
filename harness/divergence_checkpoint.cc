#include "harness/divergence_checkpoint.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status.h"
#include "formats/read_file.h"
#include "harness/checkpoint_text.h"

namespace kvbench {
namespace {

constexpr char kMagic[] = "kvbench-divergence-checkpoint 1";

// Memory sums: logical allocated peak payload index entries evicted_sum n.
std::string FormatSums(const MemoryTally& tally) {
  const MemoryTally::Sums s = tally.sums();
  return absl::StrFormat("%d %d %d %d %d %d %a %d", s.sum.logical, s.sum.allocated, s.sum.peak,
                         s.sum.payload, s.sum.index, s.sum.entries, s.evicted_sum, s.n);
}

absl::StatusOr<MemoryTally> ReadSums(CheckpointLine& line) {
  MemoryTally::Sums s;
  for (uint64_t* field : {&s.sum.logical, &s.sum.allocated, &s.sum.peak, &s.sum.payload,
                          &s.sum.index, &s.sum.entries}) {
    ASSIGN_OR_RETURN(*field, line.Integer<uint64_t>());
  }
  ASSIGN_OR_RETURN(s.evicted_sum, line.Double());
  ASSIGN_OR_RETURN(s.n, line.Integer<uint64_t>());
  return MemoryTally::FromSums(s);
}

}  // namespace

std::string DivergenceCheckpointPath(const std::string& csv, const std::string& run_key) {
  return absl::StrCat(csv, ".", run_key.substr(0, 16), ".partial");
}

std::string FormatDivergenceCheckpoint(const DivergenceCheckpoint& c) {
  const DivergenceState& s = c.state;
  std::string out =
      absl::StrCat(kMagic, "\nrun ", c.run_key, "\nsequences ", s.sequences_done, " lanes ",
                   s.policies.size(), "\nreference ", FormatSums(s.reference_memory), "\n");
  for (size_t i = 0; i < s.policies.size(); ++i) {
    const DivergenceState::Lane& lane = s.policies[i];
    absl::StrAppend(&out, "lane ", c.policy_keys[i], " ", lane.greedy_prefix_sum, " ",
                    lane.greedy_matches, " ", lane.greedy_compared, " ", FormatSums(lane.memory),
                    " positions ", lane.positions.size(), "\n");
    for (const PositionDivergence& p : lane.positions) {
      absl::StrAppendFormat(&out, "%a %d %a %a %a\n", p.kld, p.top1_agree ? 1 : 0, p.dp, p.logp_ref,
                            p.logp_pol);
    }
  }
  absl::StrAppend(&out, "end\n");
  return out;
}

absl::StatusOr<DivergenceCheckpoint> ParseDivergenceCheckpoint(absl::string_view text) {
  CheckpointLines lines(text);
  DivergenceCheckpoint c;
  ASSIGN_OR_RETURN(c.run_key, lines.ReadRunKey(kMagic));
  ASSIGN_OR_RETURN(CheckpointLine header, lines.Next());
  RETURN_IF_ERROR(header.Expect("sequences"));
  ASSIGN_OR_RETURN(c.state.sequences_done, header.Integer<int>());
  RETURN_IF_ERROR(header.Expect("lanes"));
  ASSIGN_OR_RETURN(const int lanes, header.Integer<int>());
  RETURN_IF_ERROR(header.End());
  if (c.state.sequences_done < 0 || lanes < 0) return header.Error("negative count");
  ASSIGN_OR_RETURN(CheckpointLine reference, lines.Next());
  RETURN_IF_ERROR(reference.Expect("reference"));
  ASSIGN_OR_RETURN(c.state.reference_memory, ReadSums(reference));
  RETURN_IF_ERROR(reference.End());
  for (int i = 0; i < lanes; ++i) {
    ASSIGN_OR_RETURN(CheckpointLine head, lines.Next());
    RETURN_IF_ERROR(head.Expect("lane"));
    ASSIGN_OR_RETURN(std::string key, head.Word());
    DivergenceState::Lane lane;
    ASSIGN_OR_RETURN(lane.greedy_prefix_sum, head.Integer<int64_t>());
    ASSIGN_OR_RETURN(lane.greedy_matches, head.Integer<int64_t>());
    ASSIGN_OR_RETURN(lane.greedy_compared, head.Integer<int64_t>());
    ASSIGN_OR_RETURN(lane.memory, ReadSums(head));
    RETURN_IF_ERROR(head.Expect("positions"));
    ASSIGN_OR_RETURN(const int64_t n, head.Integer<int64_t>());
    RETURN_IF_ERROR(head.End());
    if (n < 0 || static_cast<uint64_t>(n) > lines.left()) {
      return head.Error(absl::StrCat(n, " positions announced, ", lines.left(), " lines left"));
    }
    lane.positions.resize(n);
    for (PositionDivergence& p : lane.positions) {
      ASSIGN_OR_RETURN(CheckpointLine r, lines.Next());
      ASSIGN_OR_RETURN(p.kld, r.Double());
      ASSIGN_OR_RETURN(const int top1, r.Integer<int>());
      p.top1_agree = top1 != 0;
      ASSIGN_OR_RETURN(p.dp, r.Double());
      ASSIGN_OR_RETURN(p.logp_ref, r.Double());
      ASSIGN_OR_RETURN(p.logp_pol, r.Double());
      RETURN_IF_ERROR(r.End());
    }
    c.policy_keys.push_back(std::move(key));
    c.state.policies.push_back(std::move(lane));
  }
  RETURN_IF_ERROR(lines.ReadEnd());
  return c;
}

std::optional<DivergenceCheckpoint> ReadDivergenceCheckpoint(const std::string& path,
                                                             const std::string& run_key,
                                                             FILE* log) {
  absl::StatusOr<std::string> text = ReadFile(path, "divergence checkpoint");
  if (!text.ok()) {
    if (!absl::IsNotFound(text.status()) && log != nullptr) {
      std::fprintf(log, "note: ignoring checkpoint %s: %s\n", path.c_str(),
                   std::string(text.status().message()).c_str());
    }
    return std::nullopt;
  }
  absl::StatusOr<DivergenceCheckpoint> checkpoint = ParseDivergenceCheckpoint(*text);
  if (!checkpoint.ok() || checkpoint->run_key != run_key) {
    if (log != nullptr) {
      std::fprintf(log, "note: ignoring checkpoint %s: %s\n", path.c_str(),
                   checkpoint.ok() ? "written by another run (other inputs or kvbench version)"
                                   : std::string(checkpoint.status().message()).c_str());
    }
    return std::nullopt;
  }
  return *std::move(checkpoint);
}

std::optional<DivergenceState> SelectLanes(const DivergenceCheckpoint& checkpoint,
                                           const std::vector<std::string>& policy_keys) {
  DivergenceState state;
  state.sequences_done = checkpoint.state.sequences_done;
  state.reference_memory = checkpoint.state.reference_memory;
  for (const std::string& key : policy_keys) {
    size_t i = 0;
    while (i < checkpoint.policy_keys.size() && checkpoint.policy_keys[i] != key) ++i;
    if (i == checkpoint.policy_keys.size()) return std::nullopt;
    state.policies.push_back(checkpoint.state.policies[i]);
  }
  return state;
}

}  // namespace kvbench
