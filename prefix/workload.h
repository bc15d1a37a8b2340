// Request traces for the prefix cache: what arrives, in order. A request is a prompt (token ids,
// BOS first); the serving loop (serve.h) prefills it and produces the first token's logits.
//
// Sources:
//   JSONL, one object per line:
//     {"id": "r1", "prompt": "text"}             one request
//     {"id": "c1", "turns": ["t0", "t1", ...]}   a conversation: one request per turn, ids "c1#0",
//                                                 "c1#1", ...; request k holds turns 0..k
//   Generated (seeded), from story text (TinyStories), mixing three kinds of sharing:
//     system   a shared system prompt, picked with Zipf popularity (rank r has weight 1/r^zipf),
//              then a user text that varies per request
//     chat     a conversation: a system prompt, then turns that extend the conversation's own
//              history (request k = request k-1 + turn k), interleaved with other traffic
//     fewshot  a few-shot template (an instruction and example stories) with a varying question
//   Streams (each conversation, each single request) are interleaved at random, in order within a
//   stream.
//
// Joining: every piece (prompt, turn, system prompt, question) is tokenized on its own and the ids
// are concatenated after BOS, so a request extends the previous turn token for token, as a chat
// template's special tokens would make it in a real server. (Tokenizing the joined text could merge
// tokens across a boundary and break the shared prefix.)
#ifndef KVBENCH_PREFIX_WORKLOAD_H_
#define KVBENCH_PREFIX_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "text/tokenizer.h"

namespace kvbench {

struct TraceRequest {
  std::string id;
  std::string kind;         // "prompt" | "turn" (JSONL); "system" | "chat" | "fewshot" (generated)
  std::vector<int> tokens;  // BOS first
};

// Reads a JSONL trace. DataLoss naming file:line for a malformed record (not an object, no string
// "id", neither a string "prompt" nor a list of string "turns", both, an empty prompt or turn
// list); OutOfRange naming the request when it exceeds max_tokens; NotFound for a missing file.
absl::StatusOr<std::vector<TraceRequest>> LoadTraceJsonl(const std::string& path,
                                                         const Tokenizer& tokenizer,
                                                         int max_tokens);

struct WorkloadOptions {
  uint64_t seed = 0;
  int requests = 64;              // total requests
  int system_prompts = 4;         // shared system prompts
  int system_prompt_tokens = 96;  // each at least this long (whole sentences)
  double zipf = 1.1;              // popularity exponent over system prompts
  double chat_share = 0.3;        // fraction of requests that are chat turns
  int chat_turns = 4;             // turns per conversation (fewer if max_tokens is reached)
  double fewshot_share = 0.2;     // fraction of requests that use a few-shot template
  int fewshot_templates = 2;
  int fewshot_examples = 3;  // example stories' opening sentences per template
  int turn_tokens = 24;      // user texts, questions and chat turns: at least this long
  int max_tokens = 448;      // no request is longer (stories260K was trained on 512)
};

// InvalidArgument naming the option for out-of-range options; FailedPrecondition when `stories`
// has too few sentences to build distinct system prompts, templates and user texts.
absl::StatusOr<std::vector<TraceRequest>> GenerateWorkload(const std::vector<std::string>& stories,
                                                           const Tokenizer& tokenizer,
                                                           const WorkloadOptions& options);

}  // namespace kvbench

#endif  // KVBENCH_PREFIX_WORKLOAD_H_
