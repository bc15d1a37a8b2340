// kvbench generate: continue a prompt with the real decoder; prints the text and tokens/s.
#include <chrono>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "model/decoder.h"
#include "model/sampler.h"
#include "model/session.h"
#include "policies/registry.h"
#include "policies/spec_text.h"

ABSL_FLAG(std::string, prompt, "", "text to continue (BOS is always prepended)");
ABSL_FLAG(int, n, 200, "tokens to generate");
ABSL_FLAG(float, temperature, 0.0f, "0 for greedy");
ABSL_FLAG(int, top_k, 0, "sample among the k most likely tokens (0: all)");
ABSL_FLAG(float, top_p, 1.0f, "nucleus sampling mass (1: off)");
ABSL_FLAG(uint64_t, seed, 0, "RNG seed for sampling");
ABSL_FLAG(bool, stop_at_eos, true, "stop when the model emits EOS");
ABSL_FLAG(std::string, policy, "full",
          "cache policy with parameters, e.g. sinks(budget=64,n_sink=4)");
ABSL_FLAG(std::string, k_store, "f32", "key store with parameters, e.g. q8_0 or kivi(bits=4)");
ABSL_FLAG(std::string, v_store, "f32", "value store with parameters");
ABSL_FLAG(bool, print_ids, false,
          "also print the generated token ids (a JSON array) after the text");

namespace kvbench::cli {

int Generate(int argc, char** argv) {
  ParseFlags("generate", "--model M --prompt TEXT -n N [--temperature T --seed S]", argc, argv);
  auto model_or = LoadModelFromFlags();
  if (!model_or.ok()) return ReportError("generate", model_or.status());
  const Model& model = **model_or;
  if (model.tokenizer == nullptr) {
    return ReportError("generate", absl::FailedPreconditionError("the model has no tokenizer"));
  }
  Sampler sampler({.temperature = absl::GetFlag(FLAGS_temperature),
                   .top_k = absl::GetFlag(FLAGS_top_k),
                   .top_p = absl::GetFlag(FLAGS_top_p),
                   .seed = absl::GetFlag(FLAGS_seed)});
  if (absl::Status s = sampler.Validate(); !s.ok()) return ReportError("generate", s);
  const int n_new = absl::GetFlag(FLAGS_n);
  std::vector<int> prompt = model.tokenizer->Encode(absl::GetFlag(FLAGS_prompt), /*add_bos=*/true);
  const int context = model.config.context_length;
  if (n_new < 0 || static_cast<int>(prompt.size()) + n_new > context) {
    return ReportError("generate", absl::OutOfRangeError(absl::StrCat(
                                       "prompt (", prompt.size(), " tokens) + -n ", n_new,
                                       " exceeds the model's context of ", context, " tokens")));
  }

  CacheSpec spec;
  for (auto [flag, name, params] :
       {std::tuple{absl::GetFlag(FLAGS_policy), &spec.policy, &spec.policy_params},
        std::tuple{absl::GetFlag(FLAGS_k_store), &spec.k_store, &spec.k_params},
        std::tuple{absl::GetFlag(FLAGS_v_store), &spec.v_store, &spec.v_params}}) {
    auto parsed = ParseNamedParams(flag);
    if (!parsed.ok()) return ReportError("generate", parsed.status());
    *name = parsed->first;
    *params = parsed->second;
  }
  auto cache = MakeCache(spec, CacheShape::ForModel(model.config, context));
  if (!cache.ok()) return ReportError("generate", cache.status());
  std::fprintf(stderr, "cache: %s\n", spec.Label().c_str());
  Session session(*std::move(cache));
  Decoder decoder(model);
  std::vector<float> logits(model.config.vocab_size);
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  Feed(decoder, session, prompt, false, logits.data());
  const auto t1 = Clock::now();
  std::vector<int> generated;
  std::string printed;
  Clock::duration decode_time{};
  int decode_steps = 0;
  for (int i = 0; i < n_new; ++i) {
    const int token = sampler.Sample(logits);
    if (absl::GetFlag(FLAGS_stop_at_eos) && token == model.tokenizer->eos_id()) break;
    generated.push_back(token);
    // Decode the whole continuation and print what is new, so multi-byte characters split over
    // byte-fallback tokens come out whole.
    std::vector<int> all = prompt;
    all.insert(all.end(), generated.begin(), generated.end());
    const std::string text = model.tokenizer->Decode(all);
    if (text.size() > printed.size() && text.compare(0, printed.size(), printed) == 0) {
      std::fputs(text.c_str() + printed.size(), stdout);
      std::fflush(stdout);
      printed = text;
    }
    if (i + 1 < n_new) {
      const auto start = Clock::now();
      Feed(decoder, session, absl::MakeConstSpan(&token, 1), false, logits.data());
      decode_time += Clock::now() - start;
      ++decode_steps;
    }
  }
  std::fputc('\n', stdout);
  if (absl::GetFlag(FLAGS_print_ids)) std::printf("[%s]\n", absl::StrJoin(generated, ", ").c_str());
  std::fflush(stdout);
  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(decode_time).count();
  std::fprintf(stderr, "prefill: %zu tokens, %.1f tokens/s | decode: %d steps, %.1f tokens/s\n",
               prompt.size(), prompt.size() / prefill_s, decode_steps,
               decode_steps > 0 ? decode_steps / decode_s : 0.0);
  const KvMemory kv = session.cache().total_memory(model.config.n_layers);
  std::fprintf(stderr, "kv cache: %llu bytes held (%llu allocated, peak %llu)\n",
               static_cast<unsigned long long>(kv.logical),
               static_cast<unsigned long long>(kv.allocated),
               static_cast<unsigned long long>(kv.peak));
  return 0;
}

}  // namespace kvbench::cli
