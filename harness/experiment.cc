#include "harness/experiment.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "formats/read_file.h"
#include "harness/store_keys.h"
#include "harness/sweep.h"
#include "harness/yaml_reader.h"
#include "stores/store_registry.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {
namespace {

const std::vector<std::string>& TopLevelKeys() {
  static const auto* const kKeys = new std::vector<std::string>{
      "name",          "model",        "threads",        "seed",     "dataset",   "context_tokens",
      "prompt_tokens", "score_tokens", "max_sequences",  "policies", "reference", "measure",
      "repetitions",   "warmup",       "lockstep_batch", "output",   "task"};
  return *kKeys;
}

// Keys of a policy entry that are not policy parameters.
const std::set<std::string>& CacheKeys() {
  static const auto* const kKeys = [] {
    auto* keys = new std::set<std::string>(StoreKeys::Names().begin(), StoreKeys::Names().end());
    keys->insert("name");
    return keys;
  }();
  return *kKeys;
}

// The token counts sweep points are checked against when the file is read (CheckCacheSpec): the
// divergence run's context and first step, or for a task the longest case (each case's context is
// shorter than its length, so a budget that fails there fails for every case).
struct CheckTokens {
  int context = 0;
  int prompt = 0;
};

CheckTokens TokensToCheck(const Experiment& e) {
  if (!e.niah) return {e.context_tokens, e.prompt_tokens};
  int longest = 0;
  for (int length : e.niah->grid.lengths) longest = std::max(longest, length);
  // Cases read from a file have lengths known only then: check the values alone.
  if (longest == 0) longest = 1 << 30;
  return {longest, longest};
}

// The node an error about `spec` points at: the value of the parameter its message names
// ("parameter 'bits'"), looked up among the entry's policy parameters or the parameters of the
// store it names, else the entry itself.
YAML::Node ErrorNode(const YAML::Node& entry, const absl::Status& error) {
  const std::string message(error.message());
  const size_t at = message.find("parameter '");
  if (at == std::string::npos) return entry;
  const size_t begin = at + std::string("parameter '").size();
  const size_t end = message.find('\'', begin);
  if (end == std::string::npos) return entry;
  const std::string param = message.substr(begin, end - begin);
  std::vector<std::string> maps;
  if (message.rfind("k_store:", 0) == 0) {
    maps = {"k_params", "store_params"};
  } else if (message.rfind("v_store:", 0) == 0) {
    maps = {"v_params", "store_params"};
  } else if (const YAML::Node value = entry[param]; value) {
    return value;
  }
  for (const std::string& key : maps) {
    // An absent key gives an invalid node, whose IsMap() throws: test IsDefined first.
    const YAML::Node params = entry[key];
    if (params.IsDefined() && params.IsMap() && params[param]) {
      return params[param];
    }
  }
  return entry;
}

// Drops from `params` what store `store` does not declare: a sweep's store_params axis applies to
// the stores that take it. True when something was dropped.
bool KeepDeclaredStoreParams(const std::string& store, ParamMap* params) {
  bool dropped = false;
  for (const StoreInfo& info : StoreRegistry()) {
    if (info.name != store) continue;
    for (auto it = params->begin(); it != params->end();) {
      if (DeclaresParam(info.params, it->first)) {
        ++it;
      } else {
        it = params->erase(it);
        dropped = true;
      }
    }
  }
  return dropped;
}

// Parses one `policies` entry (or the `reference`, which may not sweep) into sweep points. An axis
// applies to the points whose policy (or store) declares it: `name: [window, h2o]` with
// `aggregate: [mean, max]` runs window once and h2o twice. Every point passes CheckCacheSpec.
absl::StatusOr<std::vector<CacheSpec>> ParseCacheEntry(const YamlReader& p, const YAML::Node& entry,
                                                       const std::string& where, bool allow_sweep,
                                                       const CheckTokens& tokens) {
  if (!entry.IsMap()) {
    return p.Error(entry, absl::StrCat(where, " must be a mapping with at least `name`"));
  }
  if (!entry["name"]) return p.Error(entry, absl::StrCat(where, " has no `name` (the policy)"));
  StoreKeys store_keys(p, where, allow_sweep);
  RETURN_IF_ERROR(store_keys.CheckEntry(entry));
  std::vector<SweepAxis> axes;
  std::vector<std::string> policy_names;
  std::vector<std::pair<std::string, YAML::Node>> policy_param_keys;
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    const std::string key = it->first.Scalar();
    const YAML::Node value = it->second;  // by value: it->second is a temporary
    ASSIGN_OR_RETURN(const bool store_key, store_keys.Read(it->first, value, &axes));
    if (store_key) continue;
    ASSIGN_OR_RETURN(std::vector<std::string> values, p.Values(value, key));
    if (!allow_sweep && values.size() > 1) {
      return p.Error(value, absl::StrCat(where, " cannot sweep: '", key, "' has a list"));
    }
    if (key == "name") {
      policy_names = values;
      for (const std::string& n : policy_names) {
        if (auto info = FindPolicy(n); !info.ok()) {
          return p.Error(value, std::string(info.status().message()));
        }
      }
      axes.push_back({key, std::move(values)});
    } else {
      policy_param_keys.emplace_back(key, it->first);
      axes.push_back({absl::StrCat("param:", key), std::move(values)});
    }
  }

  // A parameter no named policy (or store) declares is a typo: report it here, with its line.
  for (const auto& [key, node] : policy_param_keys) {
    bool declared = false;
    for (const std::string& n : policy_names)
      declared |= DeclaresParam((*FindPolicy(n))->params, key);
    if (!declared) {
      return p.Error(
          node, absl::StrCat("unknown key '", key, "' in ", where, ": not a parameter of policy '",
                             policy_names.front(), "' (parameters: ",
                             ParamNames((*FindPolicy(policy_names.front()))->params),
                             "; other keys: ", absl::StrJoin(CacheKeys(), ", "), ")"));
    }
  }
  RETURN_IF_ERROR(store_keys.CheckParams());

  auto points = ExpandSweep(axes);
  if (!points.ok()) return p.Error(entry, absl::StrCat(where, ": ", points.status().message()));
  std::vector<CacheSpec> specs;
  std::set<std::string> labels;  // of points an axis did not apply to, which may repeat
  for (const SweepPoint& point : *points) {
    CacheSpec spec;
    for (const auto& [key, value] : point) {
      if (key == "name") spec.policy = value;
    }
    const std::vector<ParamSpec>& declared = (*FindPolicy(spec.policy))->params;
    bool dropped = false;
    for (const auto& [key, value] : point) {
      if (key.rfind("param:", 0) == 0) {
        const std::string param = key.substr(6);
        if (DeclaresParam(declared, param)) {
          spec.policy_params[param] = value;
        } else {
          dropped = true;
        }
      } else if (key != "name") {
        ApplyStoreAxis(key, value, &spec);
      }
    }
    dropped |= KeepDeclaredStoreParams(spec.k_store, &spec.k_params);
    dropped |= KeepDeclaredStoreParams(spec.v_store, &spec.v_params);
    if (dropped && !labels.insert(spec.Label()).second) continue;
    if (absl::Status s = CheckCacheSpec(spec, tokens.context, tokens.prompt); !s.ok()) {
      return p.Error(ErrorNode(entry, s), absl::StrCat(where, ": ", s.message()));
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

absl::Status ParseDataset(const YamlReader& p, const YAML::Node& node, DatasetSpec* d) {
  RETURN_IF_ERROR(
      p.CheckKeys(node, "dataset", {"path", "prompts", "format", "separator", "concatenate"}));
  if (node["path"] && node["prompts"]) {
    return p.Error(node, "dataset: give `path` or `prompts`, not both");
  }
  if (!node["path"] && !node["prompts"]) return p.Error(node, "dataset needs `path` or `prompts`");
  if (node["path"]) {
    ASSIGN_OR_RETURN(d->path, p.String(node["path"], "dataset.path"));
    if (d->path.empty()) return p.Error(node["path"], "dataset.path is empty");
    const bool jsonl = d->path.size() >= 6 && d->path.compare(d->path.size() - 6, 6, ".jsonl") == 0;
    d->format = jsonl ? "jsonl" : "text";
  } else {
    const YAML::Node prompts = node["prompts"];
    if (!prompts.IsSequence() || prompts.size() == 0) {
      return p.Error(prompts, "dataset.prompts must be a non-empty list of texts");
    }
    for (const YAML::Node& item : prompts) {
      if (!item.IsScalar()) return p.Error(item, "dataset.prompts items must be texts");
      d->prompts.push_back(item.Scalar());
    }
  }
  if (node["format"]) {
    ASSIGN_OR_RETURN(const std::string format, p.String(node["format"], "dataset.format"));
    if (format != "text" && format != "jsonl") {
      return p.Error(node["format"],
                     absl::StrCat("dataset.format '", format, "' is not text or jsonl"));
    }
    if (!d->prompts.empty())
      return p.Error(node["format"], "dataset.format applies to `path` only");
    d->format = format;
  }
  if (node["separator"]) {
    ASSIGN_OR_RETURN(d->separator, p.String(node["separator"], "dataset.separator"));
    if (d->separator.empty()) return p.Error(node["separator"], "dataset.separator is empty");
  }
  if (node["concatenate"]) {
    ASSIGN_OR_RETURN(d->concatenate, p.Bool(node["concatenate"], "dataset.concatenate"));
  }
  return absl::OkStatus();
}

bool IsSafeName(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  }
  return true;
}

// Token counts: any two determine the third; none gives 256 = 128 + 128.
absl::Status ParseTokenCounts(const YamlReader& p, const YAML::Node& root, Experiment* e) {
  const bool has_context = root["context_tokens"].IsDefined(),
             has_prompt = root["prompt_tokens"].IsDefined(),
             has_score = root["score_tokens"].IsDefined();
  if (!has_context && !has_prompt && !has_score) {
    e->context_tokens = 256;
    e->prompt_tokens = 128;
    e->score_tokens = 128;
  } else if (has_context && !has_prompt && !has_score) {
    e->score_tokens = e->context_tokens / 2;
    e->prompt_tokens = e->context_tokens - e->score_tokens;
  } else if (!has_context && !(has_prompt && has_score)) {
    return p.Error(root[has_prompt ? "prompt_tokens" : "score_tokens"],
                   "give context_tokens too, or both prompt_tokens and score_tokens");
  } else if (!has_context) {
    e->context_tokens = e->prompt_tokens + e->score_tokens;
  } else if (!has_prompt && has_score) {
    e->prompt_tokens = e->context_tokens - e->score_tokens;
  } else if (has_prompt && !has_score) {
    e->score_tokens = e->context_tokens - e->prompt_tokens;
  }
  if (e->prompt_tokens < 1 || e->score_tokens < 1 ||
      e->prompt_tokens + e->score_tokens != e->context_tokens) {
    return p.Error(root["context_tokens"] ? root["context_tokens"] : root,
                   absl::StrCat("context_tokens (", e->context_tokens,
                                ") must equal prompt_tokens (", e->prompt_tokens,
                                ") + score_tokens (", e->score_tokens, "), each at least 1"));
  }
  return absl::OkStatus();
}

absl::Status ParseIntegers(const YamlReader& p, const YAML::Node& root, Experiment* e) {
  auto int_field = [&](const char* key, int64_t min, int64_t max, auto* out) -> absl::Status {
    if (!root[key]) return absl::OkStatus();
    ASSIGN_OR_RETURN(const int64_t v, p.Int(root[key], key, min, max));
    *out = static_cast<std::remove_pointer_t<decltype(out)>>(v);
    return absl::OkStatus();
  };
  constexpr int64_t kMaxTokens = 1 << 20;
  for (absl::Status s :
       {int_field("threads", 1, 1024, &e->threads), int_field("seed", 0, INT64_MAX, &e->seed),
        int_field("context_tokens", 2, kMaxTokens, &e->context_tokens),
        int_field("prompt_tokens", 1, kMaxTokens, &e->prompt_tokens),
        int_field("score_tokens", 1, kMaxTokens, &e->score_tokens),
        int_field("max_sequences", 1, 1000000, &e->max_sequences),
        int_field("repetitions", 1, 10000, &e->repetitions),
        int_field("warmup", 0, 10000, &e->warmup),
        int_field("lockstep_batch", 1, 4096, &e->lockstep_batch)}) {
    RETURN_IF_ERROR(s);
  }
  return absl::OkStatus();
}

absl::Status ParseMeasure(const YamlReader& p, const YAML::Node& m, Experiment* e) {
  ASSIGN_OR_RETURN(const std::vector<std::string> values, p.Values(m, "measure"));
  e->measure_divergence = e->measure_latency = e->measure_memory = false;
  for (const std::string& v : values) {
    if (v == "divergence") {
      e->measure_divergence = true;
    } else if (v == "latency") {
      e->measure_latency = true;
    } else if (v == "memory") {
      e->measure_memory = true;
    } else {
      return p.Error(m,
                     absl::StrCat("measure '", v, "' is not one of divergence, latency, memory"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParsePolicies(const YamlReader& p, const YAML::Node& policies, Experiment* e) {
  if (!policies.IsSequence()) {
    return p.Error(policies, "'policies' must be a list of policy entries");
  }
  if (policies.size() == 0) return p.Error(policies, "'policies' is an empty list: nothing to run");
  std::map<std::string, int> seen;  // label -> line
  for (size_t i = 0; i < policies.size(); ++i) {
    const YAML::Node entry = policies[i];
    ASSIGN_OR_RETURN(std::vector<CacheSpec> specs,
                     ParseCacheEntry(p, entry, absl::StrCat("policies[", i, "]"),
                                     /*allow_sweep=*/true, TokensToCheck(*e)));
    const int line = entry.Mark().line + 1;
    for (CacheSpec& spec : specs) {
      const std::string label = spec.Label();
      if (auto [it, fresh] = seen.emplace(label, line); !fresh) {
        return p.Error(
            entry, absl::StrCat("'", label, "' appears twice (also from line ", it->second, ")"));
      }
      e->policies.push_back({std::move(spec), line});
    }
  }
  return absl::OkStatus();
}

// `task:` (a mapping with `name`); only niah so far.
absl::Status ParseTask(const YamlReader& p, const YAML::Node& root, Experiment* e) {
  const YAML::Node task = root["task"];
  if (!task.IsMap() || !task["name"]) {
    return p.Error(task, "task must be a mapping with `name` (niah)");
  }
  ASSIGN_OR_RETURN(const std::string name, p.String(task["name"], "task.name"));
  if (name != "niah") {
    return p.Error(task["name"], absl::StrCat("unknown task '", name, "'; valid: niah"));
  }
  for (const char* key : {"context_tokens", "prompt_tokens", "score_tokens", "max_sequences",
                          "measure", "reference", "repetitions", "warmup"}) {
    if (root[key]) {
      return p.Error(root[key], absl::StrCat("'", key,
                                             "' does not apply to task niah (its "
                                             "lengths set the prompts; it measures accuracy)"));
    }
  }
  ASSIGN_OR_RETURN(e->niah, ParseNiahTask(p, task));
  if (!e->niah->seed_given) e->niah->grid.seed = e->seed;
  return absl::OkStatus();
}

absl::Status ParseRoot(const YamlReader& p, const YAML::Node& root, Experiment* e) {
  RETURN_IF_ERROR(p.CheckKeys(root, "the experiment", TopLevelKeys()));
  if (root["name"]) {
    ASSIGN_OR_RETURN(e->name, p.String(root["name"], "name"));
  }
  if (!IsSafeName(e->name)) {
    return p.Error(root["name"] ? root["name"] : root,
                   absl::StrCat("name '", e->name,
                                "' must be letters, digits, '_', '-' or '.' (it names files)"));
  }
  if (root["model"]) {
    ASSIGN_OR_RETURN(e->model, p.String(root["model"], "model"));
  }
  RETURN_IF_ERROR(ParseIntegers(p, root, e));
  if (root["task"]) RETURN_IF_ERROR(ParseTask(p, root, e));
  RETURN_IF_ERROR(ParseTokenCounts(p, root, e));

  const bool needs_dataset = !e->niah || e->niah->cases.empty();
  if (!root["dataset"] && needs_dataset) {
    return p.Error(root, e->niah ? "task niah needs a `dataset` (the haystack) or task.cases"
                                 : "the experiment has no `dataset`");
  }
  if (root["dataset"]) RETURN_IF_ERROR(ParseDataset(p, root["dataset"], &e->dataset));
  if (root["measure"]) RETURN_IF_ERROR(ParseMeasure(p, root["measure"], e));
  if (root["reference"]) {
    ASSIGN_OR_RETURN(const std::vector<CacheSpec> specs,
                     ParseCacheEntry(p, root["reference"], "reference", /*allow_sweep=*/false,
                                     TokensToCheck(*e)));
    e->reference = specs.front();
  }
  if (!root["policies"]) return p.Error(root, "the experiment has no `policies`");
  RETURN_IF_ERROR(ParsePolicies(p, root["policies"], e));

  if (root["output"]) {
    ASSIGN_OR_RETURN(e->output, p.String(root["output"], "output"));
    if (e->output.empty()) return p.Error(root["output"], "output is empty");
  } else {
    e->output = absl::StrCat("results/", e->name, ".csv");
  }
  return absl::OkStatus();
}

std::string ParamsJson(const ParamMap& params) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : params) parts.push_back(absl::StrCat(JsonQuote(k), ": ", JsonQuote(v)));
  return absl::StrCat("{", absl::StrJoin(parts, ", "), "}");
}

std::string SpecJson(const CacheSpec& s) {
  return absl::StrCat(
      "{\"policy\": ", JsonQuote(s.policy), ", \"policy_params\": ", ParamsJson(s.policy_params),
      ", \"k_store\": ", JsonQuote(s.k_store), ", \"k_params\": ", ParamsJson(s.k_params),
      ", \"v_store\": ", JsonQuote(s.v_store), ", \"v_params\": ", ParamsJson(s.v_params),
      ", \"label\": ", JsonQuote(s.Label()), "}");
}

}  // namespace

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

namespace {

std::string TaskJson(const std::optional<NiahTask>& t) {
  if (!t) return "null";
  const NiahGridOptions& g = t->grid;
  return absl::StrCat(
      "{\"name\": \"niah\", \"lengths\": [", absl::StrJoin(g.lengths, ", "), "], \"depths\": [",
      absl::StrJoin(g.depths, ", "), "], \"needles\": [", absl::StrJoin(g.needles, ", "),
      "], \"samples\": ", g.samples, ", \"seed\": ", g.seed, ", \"words\": ", JsonQuote(t->words),
      ", \"answer_tokens\": ", g.answer_tokens, ", \"protocol\": ", JsonQuote(t->Protocol()),
      ", \"cases\": ", JsonQuote(t->cases), "}");
}

}  // namespace

std::string Experiment::ToJson() const {
  std::vector<std::string> prompts;
  for (const std::string& t : dataset.prompts) prompts.push_back(JsonQuote(t));
  std::vector<std::string> specs;
  for (const PolicyCase& c : policies) specs.push_back(SpecJson(c.spec));
  std::vector<std::string> measure;
  if (measure_divergence) measure.push_back("\"divergence\"");
  if (measure_latency) measure.push_back("\"latency\"");
  if (measure_memory) measure.push_back("\"memory\"");
  return absl::StrCat(
      "{\"name\": ", JsonQuote(name), ", \"source\": ", JsonQuote(source),
      ", \"model\": ", JsonQuote(model), ", \"threads\": ", threads, ", \"seed\": ", seed,
      ", \"dataset\": {\"path\": ", JsonQuote(dataset.path), ", \"prompts\": [",
      absl::StrJoin(prompts, ", "), "], \"format\": ", JsonQuote(dataset.format),
      ", \"separator\": ", JsonQuote(dataset.separator),
      ", \"concatenate\": ", dataset.concatenate ? "true" : "false",
      "}, \"context_tokens\": ", context_tokens, ", \"prompt_tokens\": ", prompt_tokens,
      ", \"score_tokens\": ", score_tokens, ", \"max_sequences\": ", max_sequences,
      ", \"reference\": ", SpecJson(reference), ", \"policies\": [", absl::StrJoin(specs, ", "),
      "], \"measure\": [", absl::StrJoin(measure, ", "), "], \"repetitions\": ", repetitions,
      ", \"warmup\": ", warmup, ", \"lockstep_batch\": ", lockstep_batch,
      ", \"output\": ", JsonQuote(output), ", \"task\": ", TaskJson(niah), "}");
}

absl::StatusOr<Experiment> ParseExperiment(std::string_view yaml, std::string_view source,
                                           std::string_view default_name) {
  const YamlReader p{std::string(source)};
  ASSIGN_OR_RETURN(const YAML::Node root, p.Load(std::string(yaml)));
  return ParseExperimentDocument(root, source, default_name);
}

absl::StatusOr<Experiment> ParseExperimentDocument(const YAML::Node& root, std::string_view source,
                                                   std::string_view default_name) {
  const YamlReader p{std::string(source)};
  if (!root.IsDefined() || root.IsNull()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(source), ": the experiment is empty"));
  }
  Experiment e;
  e.source = std::string(source);
  e.name = std::string(default_name);
  try {
    RETURN_IF_ERROR(ParseRoot(p, root, &e));
  } catch (const YAML::Exception& ex) {  // e.g. a key that is itself a mapping
    return p.Error(ex.mark, ex.msg);
  }
  return e;
}

absl::StatusOr<Experiment> LoadExperiment(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path, "experiment"));
  return ParseExperiment(text, path, std::filesystem::path(path).stem().string());
}

}  // namespace kvbench
