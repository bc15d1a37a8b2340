// When a PolicyCache asks its policy which entries to keep: the `when` parameter of every policy
// that evicts. kvpress's presses compress once, at the end of the prefill; StreamingLLM, H2O and
// TOVA evict after every generated token; kvpress's DecodingPress compresses every N decode steps
// back to a target size.
//   once         after the first step (the prompt) only; later tokens are all kept
//   every_step   after every step: the policy holds its budget at every token
//   every:N      after the first step and after every N-th decode step, back to the budget in
//                between growing by up to N - 1 entries (PrefillDecodingPress over a
//                DecodingPress with compression_interval N and target_size = the budget)
//   decoding:N   after every N-th decode step only: the prompt stays whole until then (kvpress's
//                DecodingPress alone, compression_interval N, target_size = the budget)
// One-shot policies (PolicyInfo::one_shot: they score the prompt only) take `once` alone.
#ifndef KVBENCH_POLICIES_EVICTION_SCHEDULE_H_
#define KVBENCH_POLICIES_EVICTION_SCHEDULE_H_

#include <string>

#include "absl/status/statusor.h"

namespace kvbench {

struct EvictionSchedule {
  int interval = 1;    // decode steps between evictions; 0: none after the first step (once)
  bool prompt = true;  // whether the first step (the prompt) is compressed

  // Whether the policy plans at the end of step `step` (1 = the first step, the prompt).
  bool acts(int step) const {
    if (step == 1) return prompt;
    return interval > 0 && (step - 1) % interval == 0;
  }
};

// "once" | "every_step" | "every:N" | "decoding:N" (N >= 1; every:1 is every_step).
// InvalidArgument naming the text and what is valid.
absl::StatusOr<EvictionSchedule> ParseEvictionSchedule(const std::string& text);

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_EVICTION_SCHEDULE_H_
