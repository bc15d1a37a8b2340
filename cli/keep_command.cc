// kvbench keep: the original positions each layer and KV head of a policy's cache holds after a
// context (harness/keep.h), as JSON for the report's heat maps and for comparing with kvpress:
//   {"policy": LABEL, "n_tokens": N, "kept": [[[positions of KV head 0], ...] per layer]}
// with --scores also "scores" (each kept entry's score, null for a policy that holds none).
//
// Flags: its own (--policy, --k-store, --v-store, --tokens, --context-end, --scores, --json) are
// taken out of argv here and the rest (--model, --threads, --text, --file, --bos) go to the shared
// absl-flags parser, so the command builds both before and after the CLI's move to CommandLine
// (helper H3 converts it).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
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

constexpr std::string_view kUsage =
    "--model M (--tokens FILE.json | --text T | --file F) --policy SPEC [--context-end N] "
    "[--k-store S] [--v-store S] [--scores] [--json]";

struct KeepFlags {
  std::string policy;
  std::string tokens;
  std::string context_end;
  std::string k_store = "f32";
  std::string v_store = "f32";
  bool scores = false;
  bool json = false;
};

// Removes keep's own flags ("--name value", "--name=value", switches) from argv into `flags`;
// returns the remaining arguments for ParseFlags.
absl::StatusOr<std::vector<char*>> TakeOwnFlags(int argc, char** argv, KeepFlags* flags) {
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    std::string name(arg), value;
    bool has_value = false;
    if (const size_t eq = arg.find('='); absl::StartsWith(arg, "--") && eq != arg.npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
      has_value = true;
    }
    for (char& c : name) c = c == '_' ? '-' : c;
    std::string* target = name == "--policy"        ? &flags->policy
                          : name == "--tokens"      ? &flags->tokens
                          : name == "--context-end" ? &flags->context_end
                          : name == "--k-store"     ? &flags->k_store
                          : name == "--v-store"     ? &flags->v_store
                                                    : nullptr;
    if (target != nullptr) {
      if (!has_value) {
        if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
        value = argv[++i];
      }
      *target = value;
    } else if (name == "--scores" || name == "--json") {
      (name == "--json" ? flags->json : flags->scores) = !has_value || value == "true";
    } else {
      rest.push_back(argv[i]);
    }
  }
  return rest;
}

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

absl::Status RunKeep(int argc, char** argv) {
  KeepFlags flags;
  ASSIGN_OR_RETURN(std::vector<char*> rest, TakeOwnFlags(argc, argv, &flags));
  const std::vector<std::string> positional =
      ParseFlags("keep", kUsage, static_cast<int>(rest.size()), rest.data());
  if (!positional.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", positional[0],
                                                   "' (stores are --k-store and --v-store)"));
  }
  if (flags.policy.empty()) return absl::InvalidArgumentError("--policy is required");
  CacheSpec spec;
  ASSIGN_OR_RETURN(std::tie(spec.policy, spec.policy_params), ParseNamedParams(flags.policy));
  ASSIGN_OR_RETURN(std::tie(spec.k_store, spec.k_params), ParseNamedParams(flags.k_store));
  ASSIGN_OR_RETURN(std::tie(spec.v_store, spec.v_params), ParseNamedParams(flags.v_store));
  KeepOptions options{.scores = flags.scores};
  if (!flags.context_end.empty() && !absl::SimpleAtoi(flags.context_end, &options.context_end)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--context-end '", flags.context_end, "' is not an integer"));
  }
  ASSIGN_OR_RETURN(const std::unique_ptr<Model> model, LoadModelFromFlags());
  std::vector<int> ids;
  if (!flags.tokens.empty()) {
    ASSIGN_OR_RETURN(ids, ReadTokens(flags.tokens, model->config.vocab_size));
  } else {
    ASSIGN_OR_RETURN(const std::string text, ReadTextFlag());
    ids = model->tokenizer->Encode(text, absl::GetFlag(FLAGS_bos));
  }
  ASSIGN_OR_RETURN(const std::vector<KeptPositions> kept,
                   KeepPositions(*model, ids, {spec}, options));
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
  const absl::Status status = RunKeep(argc, argv);
  return status.ok() ? 0 : ReportError("keep", status);
}

}  // namespace kvbench::cli
