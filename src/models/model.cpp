#include <attncnn/attention/registry.h>
#include <attncnn/error.h>
#include <attncnn/models/aliases.h>
#include <attncnn/models/model.h>

#include <nlohmann/json.hpp>

#include "builtin.h"

namespace attncnn {

namespace {
nlohmann::json params_json(const Params& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& kv : p.items()) j[kv.first] = kv.second;
  return j;
}
Params params_from(const nlohmann::json& j, const char* field) {
  Params p;
  if (j.is_null()) return p;
  if (!j.is_object()) input_error(std::string("model config: '") + field + "' must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string()) input_error(std::string("model config: '") + field + "." + it.key() + "' must be a string");
    p.set(it.key(), it.value().get<std::string>());
  }
  return p;
}

}  // namespace

std::string ModelConfig::to_json() const {
  nlohmann::json j;
  j["name"] = name;
  j["in_channels"] = in_channels;
  j["num_classes"] = num_classes;
  j["image_size"] = image_size;
  j["attn"] = attn;
  j["attn_params"] = params_json(attn_params);
  j["head"] = head;
  j["head_params"] = params_json(head_params);
  j["model_params"] = params_json(model_params);
  return j.dump();
}

ModelConfig ModelConfig::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    input_error(std::string("model config: not valid JSON: ") + e.what());
  }
  if (!j.is_object()) input_error("model config: expected a JSON object");
  ModelConfig c;
  try {
    c.name = j.at("name").get<std::string>();
    c.in_channels = j.at("in_channels").get<int64_t>();
    c.num_classes = j.at("num_classes").get<int64_t>();
    c.image_size = j.value("image_size", c.image_size);
    c.attn = j.value("attn", std::string("none"));
    c.head = j.value("head", std::string("avg"));
  } catch (const nlohmann::json::exception& e) {
    input_error(std::string("model config: missing or mistyped field: ") + e.what());
  }
  c.attn_params = params_from(j.value("attn_params", nlohmann::json()), "attn_params");
  c.head_params = params_from(j.value("head_params", nlohmann::json()), "head_params");
  c.model_params = params_from(j.value("model_params", nlohmann::json()), "model_params");
  const ModelAlias* alias = find_model_alias(c.name);
  if (alias && c.attn != alias->attn && c.attn != kDefaultAttention) {
    // Written before aliases were resolved first: the alias's module silently replaced attn when it was built.
    c.attn = alias->attn;
    c = resolve_model_aliases(c);
  }
  return c;
}

ModelRegistry& model_registry() {
  static ModelRegistry registry("model", [](ModelRegistry&) {
#define ATTNCNN_BUILTIN(name) register_##name();
#include "builtin.inc"
#undef ATTNCNN_BUILTIN
  });
  return registry;
}

void register_model(ModelEntry entry) { model_registry().add(std::move(entry)); }

std::vector<ModelEntry> model_entries() { return model_registry().entries(); }

std::vector<std::string> model_names() { return model_registry().names(); }

ModelEntry model_entry(const std::string& name) { return model_registry().find(name); }

ModelConfig resolve_model_aliases(const ModelConfig& cfg) {
  ModelConfig out = cfg;
  const ModelAlias* a = find_model_alias(cfg.name);
  if (!a) {
    if (out.attn == kDefaultAttention) out.attn = kStandardAttention;
    return out;
  }
  if (cfg.attn != kDefaultAttention && cfg.attn != a->attn) {
    std::string asked = "model '" + a->model + "'";
    if (!a->model_params.empty()) asked += " with model options '" + a->model_params.to_string() + "'";
    input_error("model '" + a->alias + "' is an alias of " + a->model + " with attn '" + a->attn +
                "', but attn '" + cfg.attn + "' was asked for; leave attn unset (or 'default') for '" + a->attn +
                "', or ask for " + asked + " and attn '" + cfg.attn + "'");
  }
  out.name = a->model;
  out.attn = a->attn;
  Params merged = a->model_params;
  for (const auto& kv : cfg.model_params.items()) merged.set(kv.first, kv.second);
  out.model_params = merged;
  return out;
}

namespace {
// Checks the classifier head and the model's own option keys against its entry.
void check_head_and_options(const ModelConfig& cfg, const ModelEntry& entry) {
  if (cfg.head != "avg" && cfg.head != "attnpool")
    input_error("model '" + cfg.name + "': head '" + cfg.head + "': expected avg or attnpool");
  if (cfg.head == "avg" && !cfg.head_params.empty())
    input_error("model '" + cfg.name + "': head avg takes no options, got '" + cfg.head_params.to_string() + "'");
  cfg.model_params.check_keys(entry.options, "model '" + cfg.name + "'");
}
}  // namespace

void check_model_config(const ModelConfig& cfg_in) {
  const ModelConfig cfg = resolve_model_aliases(cfg_in);
  check_head_and_options(cfg, model_entry(cfg.name));
  if (cfg.attn != "none" && !cfg.attn.empty()) {
    const auto e = attention_entry(cfg.attn);
    cfg.attn_params.check_keys(e.options, "attention '" + cfg.attn + "'");
  } else if (!cfg.attn_params.empty()) {
    input_error("attention 'none' takes no options, got '" + cfg.attn_params.to_string() + "'");
  }
  if (cfg.head == "attnpool") cfg.head_params.check_keys(attention_entry("attnpool").options, "head attnpool");
}

Model create_model(const ModelConfig& cfg_in) {
  const ModelConfig cfg = resolve_model_aliases(cfg_in);
  const ModelEntry entry = model_entry(cfg.name);
  if (cfg.in_channels <= 0)
    input_error("model '" + cfg.name + "': in_channels=" + std::to_string(cfg.in_channels) + ": expected >= 1");
  if (cfg.num_classes <= 0)
    input_error("model '" + cfg.name + "': num_classes=" + std::to_string(cfg.num_classes) + ": expected >= 1");
  check_head_and_options(cfg, entry);
  return entry.factory(cfg);
}

}  // namespace attncnn
