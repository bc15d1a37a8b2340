// kvbench generate: continue a prompt with the real decoder; prints the text and tokens/s.
#include <chrono>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "model/decoder.h"
#include "model/sampler.h"
#include "model/session.h"
#include "policies/registry.h"
#include "policies/spec_text.h"

namespace kvbench::cli {

int Generate(int argc, char** argv) {
  ModelFlags model_flags;
  std::string prompt_text, policy = "full", k_store = "f32", v_store = "f32";
  int n_new = 200;
  SamplerOptions sampling;
  bool stop_at_eos = true, print_ids = false;
  CommandLine cl("generate", "--model M --prompt TEXT [-n N] [flags]",
                 "continue a prompt and print tokens/s");
  model_flags.AddTo(cl);
  cl.Flag("prompt", &prompt_text, "text to continue (BOS is always prepended)")
      .Flag("n", &n_new, "tokens to generate")
      .Flag("temperature", &sampling.temperature, "0 for greedy")
      .Flag("top_k", &sampling.top_k, "sample among the k most likely tokens (0: all)")
      .Flag("top_p", &sampling.top_p, "nucleus sampling mass (1: off)")
      .Flag("seed", &sampling.seed, "RNG seed for sampling")
      .Switch("stop_at_eos", &stop_at_eos, "stop when the model emits EOS", /*negatable=*/true)
      .Flag("policy", &policy, "cache policy with parameters, e.g. sinks(budget=64,n_sink=4)")
      .Flag("k_store", &k_store, "key store with parameters, e.g. q8_0 or kivi(bits=4)")
      .Flag("v_store", &v_store, "value store with parameters")
      .Switch("print_ids", &print_ids,
              "also print the generated token ids (a JSON array) after the text");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  auto model_or = model_flags.Load();
  if (!model_or.ok()) return ReportError("generate", model_or.status());
  const Model& model = **model_or;
  if (model.tokenizer == nullptr) {
    return ReportError("generate", absl::FailedPreconditionError("the model has no tokenizer"));
  }
  Sampler sampler(sampling);
  if (absl::Status s = sampler.Validate(); !s.ok()) return ReportError("generate", s);
  std::vector<int> prompt = model.tokenizer->Encode(prompt_text, /*add_bos=*/true);
  const int context = model.config.context_length;
  if (n_new < 0 || static_cast<int>(prompt.size()) + n_new > context) {
    return ReportError("generate", absl::OutOfRangeError(absl::StrCat(
                                       "prompt (", prompt.size(), " tokens) + -n ", n_new,
                                       " exceeds the model's context of ", context, " tokens")));
  }

  CacheSpec spec;
  for (auto [flag, name, params] : {std::tuple{policy, &spec.policy, &spec.policy_params},
                                    std::tuple{k_store, &spec.k_store, &spec.k_params},
                                    std::tuple{v_store, &spec.v_store, &spec.v_params}}) {
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
    if (stop_at_eos && token == model.tokenizer->eos_id()) break;
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
  if (print_ids) std::printf("[%s]\n", absl::StrJoin(generated, ", ").c_str());
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
