#include "harness/experiment.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "harness/sweep.h"
#include "harness/yaml_reader.h"
#include "stores/store_registry.h"
#include "yaml-cpp/yaml.h"

namespace kvbench {
namespace {

const std::vector<std::string>& TopLevelKeys() {
  static const auto* const kKeys = new std::vector<std::string>{
      "name",          "model",         "threads",     "seed",       "dataset",
      "context_tokens", "prompt_tokens", "score_tokens", "max_sequences", "policies",
      "reference",     "measure",       "repetitions", "warmup",     "lockstep_batch",
      "output"};
  return *kKeys;
}

// Keys of a policy entry that are not policy parameters.
const std::set<std::string>& CacheKeys() {
  static const auto* const kKeys = new std::set<std::string>{
      "name", "store", "k_store", "v_store", "store_params", "k_params", "v_params"};
  return *kKeys;
}

const StoreInfo* FindStore(const std::string& name) {
  for (const StoreInfo& s : StoreRegistry()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string StoreNames() {
  std::vector<std::string> names;
  for (const StoreInfo& s : StoreRegistry()) names.push_back(s.name);
  return absl::StrJoin(names, ", ");
}

bool Declares(const std::vector<ParamSpec>& specs, const std::string& name) {
  for (const ParamSpec& p : specs) {
    if (p.name == name) return true;
  }
  return false;
}

std::string ParamNames(const std::vector<ParamSpec>& specs) {
  std::vector<std::string> names;
  for (const ParamSpec& p : specs) names.push_back(p.name);
  return names.empty() ? "(none)" : absl::StrJoin(names, ", ");
}

// Parses one `policies` entry (or the `reference`, which may not sweep) into sweep points.
absl::StatusOr<std::vector<CacheSpec>> ParseCacheEntry(const YamlReader& p, const YAML::Node& entry,
                                                       const std::string& where, bool allow_sweep) {
  if (!entry.IsMap()) return p.Error(entry, absl::StrCat(where, " must be a mapping with at least `name`"));
  if (!entry["name"]) return p.Error(entry, absl::StrCat(where, " has no `name` (the policy)"));
  if (entry["store"] && (entry["k_store"] || entry["v_store"])) {
    return p.Error(entry["store"], absl::StrCat(where, ": give `store` (both) or `k_store`/`v_store`, not both"));
  }
  std::vector<SweepAxis> axes;
  std::vector<std::string> policy_names, k_names, v_names;
  // Store parameter keys by which stores they apply to, with their nodes for messages.
  struct StoreParamKey {
    std::string key;
    YAML::Node node;
    bool k, v;
  };
  std::vector<StoreParamKey> store_param_keys;
  std::vector<std::pair<std::string, YAML::Node>> policy_param_keys;
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    const std::string key = it->first.Scalar();
    const YAML::Node value = it->second;  // by value: it->second is a temporary
    if (key == "store_params" || key == "k_params" || key == "v_params") {
      if (!value.IsMap()) return p.Error(value, absl::StrCat("'", key, "' must be a mapping of parameter: value"));
      const std::string prefix = key.substr(0, key.find('_'));  // store | k | v
      for (auto pit = value.begin(); pit != value.end(); ++pit) {
        const std::string pkey = pit->first.Scalar();
        auto values = p.Values(pit->second, absl::StrCat(key, ".", pkey));
        if (!values.ok()) return values.status();
        if (!allow_sweep && values->size() > 1) {
          return p.Error(pit->second, absl::StrCat(where, " cannot sweep: '", pkey, "' has a list"));
        }
        axes.push_back({absl::StrCat(prefix, "_param:", pkey), *std::move(values)});
        store_param_keys.push_back({pkey, pit->first, prefix != "v", prefix != "k"});
      }
      continue;
    }
    auto values = p.Values(value, key);
    if (!values.ok()) return values.status();
    if (!allow_sweep && values->size() > 1) {
      return p.Error(value, absl::StrCat(where, " cannot sweep: '", key, "' has a list"));
    }
    if (key == "name") {
      policy_names = *values;
      for (const std::string& n : policy_names) {
        if (auto info = FindPolicy(n); !info.ok()) return p.Error(value, std::string(info.status().message()));
      }
    } else if (key == "store" || key == "k_store" || key == "v_store") {
      for (const std::string& n : *values) {
        if (FindStore(n) == nullptr) {
          return p.Error(value, absl::StrCat("unknown store '", n, "' in '", key, "'; valid: ", StoreNames()));
        }
      }
      if (key != "v_store") k_names.insert(k_names.end(), values->begin(), values->end());
      if (key != "k_store") v_names.insert(v_names.end(), values->begin(), values->end());
    } else {
      policy_param_keys.emplace_back(key, it->first);
      axes.push_back({absl::StrCat("param:", key), *values});
      continue;
    }
    axes.push_back({key, *std::move(values)});
  }
  if (k_names.empty()) k_names.push_back("f32");
  if (v_names.empty()) v_names.push_back("f32");

  // A parameter no named policy (or store) declares is a typo: report it here, with its line.
  for (const auto& [key, node] : policy_param_keys) {
    bool declared = false;
    for (const std::string& n : policy_names) declared |= Declares((*FindPolicy(n))->params, key);
    if (!declared) {
      return p.Error(node, absl::StrCat("unknown key '", key, "' in ", where, ": not a parameter of policy '",
                                        policy_names.front(), "' (parameters: ",
                                        ParamNames((*FindPolicy(policy_names.front()))->params),
                                        "; other keys: ", absl::StrJoin(CacheKeys(), ", "), ")"));
    }
  }
  for (const StoreParamKey& s : store_param_keys) {
    bool declared = false;
    std::vector<std::string> stores;
    if (s.k) stores.insert(stores.end(), k_names.begin(), k_names.end());
    if (s.v) stores.insert(stores.end(), v_names.begin(), v_names.end());
    for (const std::string& n : stores) declared |= Declares(FindStore(n)->params, s.key);
    if (!declared) {
      return p.Error(s.node, absl::StrCat("unknown store parameter '", s.key, "' in ", where,
                                          ": store '", stores.front(), "' takes ",
                                          ParamNames(FindStore(stores.front())->params)));
    }
  }

  auto points = ExpandSweep(axes);
  if (!points.ok()) return p.Error(entry, absl::StrCat(where, ": ", points.status().message()));
  std::vector<CacheSpec> specs;
  for (const SweepPoint& point : *points) {
    CacheSpec spec;
    ParamMap both, k_only, v_only;
    for (const auto& [key, value] : point) {
      if (key == "name") {
        spec.policy = value;
      } else if (key == "store") {
        spec.k_store = spec.v_store = value;
      } else if (key == "k_store") {
        spec.k_store = value;
      } else if (key == "v_store") {
        spec.v_store = value;
      } else if (key.rfind("param:", 0) == 0) {
        spec.policy_params[key.substr(6)] = value;
      } else if (key.rfind("store_param:", 0) == 0) {
        both[key.substr(12)] = value;
      } else if (key.rfind("k_param:", 0) == 0) {
        k_only[key.substr(8)] = value;
      } else if (key.rfind("v_param:", 0) == 0) {
        v_only[key.substr(8)] = value;
      }
    }
    spec.k_params = both;
    spec.v_params = both;
    for (const auto& [k, v] : k_only) spec.k_params[k] = v;
    for (const auto& [k, v] : v_only) spec.v_params[k] = v;
    specs.push_back(std::move(spec));
  }
  return specs;
}

absl::Status ParseDataset(const YamlReader& p, const YAML::Node& node, DatasetSpec* d) {
  if (absl::Status s = p.CheckKeys(node, "dataset", {"path", "prompts", "format", "separator", "concatenate"});
      !s.ok()) {
    return s;
  }
  if (node["path"] && node["prompts"]) {
    return p.Error(node, "dataset: give `path` or `prompts`, not both");
  }
  if (!node["path"] && !node["prompts"]) return p.Error(node, "dataset needs `path` or `prompts`");
  if (node["path"]) {
    auto v = p.String(node["path"], "dataset.path");
    if (!v.ok()) return v.status();
    if (v->empty()) return p.Error(node["path"], "dataset.path is empty");
    d->path = *v;
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
    auto v = p.String(node["format"], "dataset.format");
    if (!v.ok()) return v.status();
    if (*v != "text" && *v != "jsonl") {
      return p.Error(node["format"], absl::StrCat("dataset.format '", *v, "' is not text or jsonl"));
    }
    if (!d->prompts.empty()) return p.Error(node["format"], "dataset.format applies to `path` only");
    d->format = *v;
  }
  if (node["separator"]) {
    auto v = p.String(node["separator"], "dataset.separator");
    if (!v.ok()) return v.status();
    if (v->empty()) return p.Error(node["separator"], "dataset.separator is empty");
    d->separator = *v;
  }
  if (node["concatenate"]) {
    auto v = p.Bool(node["concatenate"], "dataset.concatenate");
    if (!v.ok()) return v.status();
    d->concatenate = *v;
  }
  return absl::OkStatus();
}

bool IsSafeName(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

absl::Status ParseRoot(const YamlReader& p, const YAML::Node& root, Experiment* e) {
  if (absl::Status s = p.CheckKeys(root, "the experiment", TopLevelKeys()); !s.ok()) return s;
  if (root["name"]) {
    auto v = p.String(root["name"], "name");
    if (!v.ok()) return v.status();
    e->name = *v;
  }
  if (!IsSafeName(e->name)) {
    return p.Error(root["name"] ? root["name"] : root,
                   absl::StrCat("name '", e->name, "' must be letters, digits, '_', '-' or '.' (it names files)"));
  }
  if (root["model"]) {
    auto v = p.String(root["model"], "model");
    if (!v.ok()) return v.status();
    e->model = *v;
  }
  auto int_field = [&](const char* key, int64_t min, int64_t max, auto* out) -> absl::Status {
    if (!root[key]) return absl::OkStatus();
    auto v = p.Int(root[key], key, min, max);
    if (!v.ok()) return v.status();
    *out = static_cast<std::remove_pointer_t<decltype(out)>>(*v);
    return absl::OkStatus();
  };
  constexpr int64_t kMaxTokens = 1 << 20;
  bool has_context = root["context_tokens"].IsDefined(), has_prompt = root["prompt_tokens"].IsDefined(),
       has_score = root["score_tokens"].IsDefined();
  for (absl::Status s : {int_field("threads", 1, 1024, &e->threads),
                         int_field("seed", 0, INT64_MAX, &e->seed),
                         int_field("context_tokens", 2, kMaxTokens, &e->context_tokens),
                         int_field("prompt_tokens", 1, kMaxTokens, &e->prompt_tokens),
                         int_field("score_tokens", 1, kMaxTokens, &e->score_tokens),
                         int_field("max_sequences", 1, 1000000, &e->max_sequences),
                         int_field("repetitions", 1, 10000, &e->repetitions),
                         int_field("warmup", 0, 10000, &e->warmup),
                         int_field("lockstep_batch", 1, 4096, &e->lockstep_batch)}) {
    if (!s.ok()) return s;
  }
  // Token counts: any two determine the third.
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
                   absl::StrCat("context_tokens (", e->context_tokens, ") must equal prompt_tokens (",
                                e->prompt_tokens, ") + score_tokens (", e->score_tokens,
                                "), each at least 1"));
  }

  if (!root["dataset"]) return p.Error(root, "the experiment has no `dataset`");
  if (absl::Status s = ParseDataset(p, root["dataset"], &e->dataset); !s.ok()) return s;

  if (root["measure"]) {
    const YAML::Node m = root["measure"];
    auto values = p.Values(m, "measure");
    if (!values.ok()) return values.status();
    e->measure_divergence = e->measure_latency = e->measure_memory = false;
    for (const std::string& v : *values) {
      if (v == "divergence") {
        e->measure_divergence = true;
      } else if (v == "latency") {
        e->measure_latency = true;
      } else if (v == "memory") {
        e->measure_memory = true;
      } else {
        return p.Error(m, absl::StrCat("measure '", v, "' is not one of divergence, latency, memory"));
      }
    }
  }

  if (root["reference"]) {
    auto specs = ParseCacheEntry(p, root["reference"], "reference", /*allow_sweep=*/false);
    if (!specs.ok()) return specs.status();
    e->reference = specs->front();
  }

  if (!root["policies"]) return p.Error(root, "the experiment has no `policies`");
  const YAML::Node policies = root["policies"];
  if (!policies.IsSequence()) return p.Error(policies, "'policies' must be a list of policy entries");
  if (policies.size() == 0) return p.Error(policies, "'policies' is an empty list: nothing to run");
  std::map<std::string, int> seen;  // label -> line
  for (size_t i = 0; i < policies.size(); ++i) {
    const YAML::Node entry = policies[i];
    auto specs = ParseCacheEntry(p, entry, absl::StrCat("policies[", i, "]"), /*allow_sweep=*/true);
    if (!specs.ok()) return specs.status();
    const int line = entry.Mark().line + 1;
    for (CacheSpec& spec : *specs) {
      const std::string label = spec.Label();
      if (auto [it, fresh] = seen.emplace(label, line); !fresh) {
        return p.Error(entry, absl::StrCat("'", label, "' appears twice (also from line ", it->second, ")"));
      }
      e->policies.push_back({std::move(spec), line});
    }
  }

  if (root["output"]) {
    auto v = p.String(root["output"], "output");
    if (!v.ok()) return v.status();
    if (v->empty()) return p.Error(root["output"], "output is empty");
    e->output = *v;
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
  return absl::StrCat("{\"policy\": ", JsonQuote(s.policy), ", \"policy_params\": ", ParamsJson(s.policy_params),
                      ", \"k_store\": ", JsonQuote(s.k_store), ", \"k_params\": ", ParamsJson(s.k_params),
                      ", \"v_store\": ", JsonQuote(s.v_store), ", \"v_params\": ", ParamsJson(s.v_params),
                      ", \"label\": ", JsonQuote(s.Label()), "}");
}

}  // namespace

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
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
      "{\"name\": ", JsonQuote(name), ", \"source\": ", JsonQuote(source), ", \"model\": ", JsonQuote(model),
      ", \"threads\": ", threads, ", \"seed\": ", seed, ", \"dataset\": {\"path\": ", JsonQuote(dataset.path),
      ", \"prompts\": [", absl::StrJoin(prompts, ", "), "], \"format\": ", JsonQuote(dataset.format),
      ", \"separator\": ", JsonQuote(dataset.separator),
      ", \"concatenate\": ", dataset.concatenate ? "true" : "false", "}, \"context_tokens\": ", context_tokens,
      ", \"prompt_tokens\": ", prompt_tokens, ", \"score_tokens\": ", score_tokens,
      ", \"max_sequences\": ", max_sequences, ", \"reference\": ", SpecJson(reference), ", \"policies\": [",
      absl::StrJoin(specs, ", "), "], \"measure\": [", absl::StrJoin(measure, ", "),
      "], \"repetitions\": ", repetitions, ", \"warmup\": ", warmup, ", \"lockstep_batch\": ", lockstep_batch,
      ", \"output\": ", JsonQuote(output), "}");
}

absl::StatusOr<Experiment> ParseExperiment(std::string_view yaml, std::string_view source,
                                           std::string_view default_name) {
  const YamlReader p{std::string(source)};
  absl::StatusOr<YAML::Node> loaded = p.Load(std::string(yaml));
  if (!loaded.ok()) return loaded.status();
  YAML::Node root = *std::move(loaded);
  if (!root.IsDefined() || root.IsNull()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(source), ": the experiment is empty"));
  }
  Experiment e;
  e.source = std::string(source);
  e.name = std::string(default_name);
  try {
    if (absl::Status s = ParseRoot(p, root, &e); !s.ok()) return s;
  } catch (const YAML::Exception& ex) {  // e.g. a key that is itself a mapping
    return p.Error(ex.mark, ex.msg);
  }
  return e;
}

absl::StatusOr<Experiment> LoadExperiment(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read experiment ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseExperiment(ss.str(), path, std::filesystem::path(path).stem().string());
}

}  // namespace kvbench
