// kvbench keep: the original positions each layer and KV head of a policy's cache holds after a
// context (harness/keep.h), as JSON for the report's heat maps and for comparing with kvpress:
//   {"policy": LABEL, "n_tokens": N, "kept": [[[positions of KV head 0], ...] per layer]}
// with --scores also "scores" (each kept entry's score, null for a policy that holds none).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "formats/json.h"
#include "harness/keep.h"
#include "policies/spec_text.h"

namespace kvbench::cli {
namespace {

struct KeepFlags {
  ModelFlags model;
  TextFlags text;
  std::string policy;
  std::string tokens;
  int context_end = 0;
  std::string k_store = "f32";
  std::string v_store = "f32";
  bool scores = false;
  bool json = false;
};

absl::StatusOr<std::vector<int>> ReadTokens(const std::string& path, int vocab) {
  ASSIGN_OR_RETURN(const Json j, ParseJsonFile(path));
  if (!j.is_array()) return absl::InvalidArgumentError(path + ": not a JSON array of token ids");
  std::vector<int> ids;
  for (const Json& v : j) {
    const std::optional<int> id = JsonInteger<int>(v);
    if (!id || *id < 0 || *id >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", v.dump(), " is not a token id in [0, ", vocab, ")"));
    }
    ids.push_back(*id);
  }
  return ids;
}

absl::Status RunKeep(const KeepFlags& flags) {
  if (flags.policy.empty()) return absl::InvalidArgumentError("--policy is required");
  CacheSpec spec;
  ASSIGN_OR_RETURN(std::tie(spec.policy, spec.policy_params), ParseNamedParams(flags.policy));
  ASSIGN_OR_RETURN(std::tie(spec.k_store, spec.k_params), ParseNamedParams(flags.k_store));
  ASSIGN_OR_RETURN(std::tie(spec.v_store, spec.v_params), ParseNamedParams(flags.v_store));
  const KeepOptions options{.context_end = flags.context_end, .scores = flags.scores};
  ASSIGN_OR_RETURN(const std::unique_ptr<Model> model, flags.model.Load());
  std::vector<int> ids;
  std::string input;  // names the context in errors
  if (!flags.tokens.empty()) {
    ASSIGN_OR_RETURN(ids, ReadTokens(flags.tokens, model->config.vocab_size));
    input = absl::StrCat(flags.tokens, " (", ids.size(), " tokens)");
  } else {
    ASSIGN_OR_RETURN(const std::string text, flags.text.Read());
    ids = model->tokenizer->Encode(text, flags.text.bos);
    const int text_tokens = static_cast<int>(ids.size()) - (flags.text.bos ? 1 : 0);
    if (text_tokens == 0) {
      // An empty text (or one of nothing but what the tokenizer drops): BOS alone, or nothing.
      return absl::InvalidArgumentError(absl::StrCat(
          "the text tokenizes to ", flags.text.bos ? "BOS alone (1 token)" : "no tokens",
          ": there is no context to keep or evict; give a text of at least one token"));
    }
    input = absl::StrCat("the text (", ids.size(), " tokens",
                         flags.text.bos ? ": BOS + " + absl::StrCat(text_tokens) : "", ")");
  }
  // Nothing is printed unless every case is computed: an error leaves stdout empty.
  absl::StatusOr<std::vector<KeptPositions>> result = KeepPositions(*model, ids, {spec}, options);
  if (!result.ok()) return Annotate(result.status(), input);
  const std::vector<KeptPositions>& kept = *result;
  if (flags.json) {
    std::printf("%s\n", KeptJson(kept[0], flags.scores).c_str());
    return absl::OkStatus();
  }
  std::printf("%s after %d tokens\n", kept[0].label.c_str(), kept[0].n_tokens);
  for (size_t l = 0; l < kept[0].kept.size(); ++l) {
    for (size_t h = 0; h < kept[0].kept[l].size(); ++h) {
      const std::vector<int32_t>& p = kept[0].kept[l][h];
      std::printf("layer %zu head %zu: %zu kept: %s\n", l, h, p.size(),
                  absl::StrJoin(p, " ").c_str());
    }
  }
  return absl::OkStatus();
}

}  // namespace

int Keep(int argc, char** argv) {
  KeepFlags flags;
  CommandLine cl("keep",
                 "--model M (--tokens FILE.json | --text T | --file F) --policy SPEC "
                 "[--context-end N] [--k-store S] [--v-store S] [--scores] [--json]",
                 "the positions each layer and KV head keeps after a context (JSON, kvpress's "
                 "oracle)");
  flags.model.AddTo(cl);
  flags.text.AddTo(cl, /*with_bos=*/true);
  cl.Flag("tokens", &flags.tokens, "read the token ids from this JSON array instead of a text")
      .Flag("policy", &flags.policy, "the cache policy, e.g. snapkv(budget=64) (required)")
      .Flag("k_store", &flags.k_store, "key store, e.g. q8_0")
      .Flag("v_store", &flags.v_store, "value store, e.g. q8_0")
      .Flag("context_end", &flags.context_end,
            "tokens fed as the first (prefill) step; the rest one per step (0: all of them)")
      .Switch("scores", &flags.scores, "also print each kept entry's score")
      .Switch("json", &flags.json, "print JSON: {policy, n_tokens, kept[layer][head]}");
  if (std::optional<int> exit = cl.Parse(argc, argv)) return *exit;
  const absl::Status status = RunKeep(flags);
  return status.ok() ? 0 : ReportError("keep", status);
}

}  // namespace kvbench::cli
