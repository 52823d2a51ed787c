#include <attncnn/attention/registry.h>
#include <attncnn/error.h>
#include <attncnn/models/model.h>

#include <algorithm>
#include <map>
#include <mutex>
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

std::map<std::string, ModelEntry>& table() {
  static std::map<std::string, ModelEntry> t;
  return t;
}
std::recursive_mutex& table_mutex() {
  static std::recursive_mutex m;
  return m;
}
void ensure_builtins() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_seed_net();
    register_resnet();
    register_cifar_resnet();
    register_preact_resnet();
    register_wide_resnet();
    register_mobilenet_v2();
    register_residual_attention();
    register_fastnet();
    register_model_aliases();
  });
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
  return c;
}

void register_model(ModelEntry entry) {
  std::lock_guard<std::recursive_mutex> lock(table_mutex());
  table()[entry.name] = std::move(entry);
}

std::vector<ModelEntry> model_entries() {
  ensure_builtins();
  std::lock_guard<std::recursive_mutex> lock(table_mutex());
  std::vector<ModelEntry> out;
  for (const auto& kv : table()) out.push_back(kv.second);
  return out;
}

std::vector<std::string> model_names() {
  std::vector<std::string> out;
  for (const auto& e : model_entries()) out.push_back(e.name);
  return out;
}

namespace {
// The registry entry for cfg.name; throws (input error) listing the valid names.
ModelEntry find_entry(const std::string& name) {
  ensure_builtins();
  std::lock_guard<std::recursive_mutex> lock(table_mutex());
  auto it = table().find(name);
  if (it == table().end()) {
    std::string valid;
    for (const auto& kv : table()) valid += (valid.empty() ? "" : ", ") + kv.first;
    input_error("unknown model '" + name + "'; valid models: " + valid);
  }
  return it->second;
}

// Checks the classifier head and the model's own option keys against its entry.
void check_head_and_options(const ModelConfig& cfg, const ModelEntry& entry) {
  if (cfg.head != "avg" && cfg.head != "attnpool")
    input_error("model '" + cfg.name + "': head '" + cfg.head + "': expected avg or attnpool");
  if (cfg.head == "avg" && !cfg.head_params.empty())
    input_error("model '" + cfg.name + "': head avg takes no options, got '" + cfg.head_params.to_string() + "'");
  cfg.model_params.check_keys(entry.options, "model '" + cfg.name + "'");
}
}  // namespace

void check_model_config(const ModelConfig& cfg) {
  check_head_and_options(cfg, find_entry(cfg.name));
  if (cfg.attn != "none" && !cfg.attn.empty()) {
    const auto& e = attention_entry(cfg.attn);
    cfg.attn_params.check_keys(e.options, "attention '" + cfg.attn + "'");
  } else if (!cfg.attn_params.empty()) {
    input_error("attention 'none' takes no options, got '" + cfg.attn_params.to_string() + "'");
  }
  if (cfg.head == "attnpool") cfg.head_params.check_keys(attention_entry("attnpool").options, "head attnpool");
}

Model create_model(const ModelConfig& cfg) {
  const ModelEntry entry = find_entry(cfg.name);
  if (cfg.in_channels <= 0)
    input_error("model '" + cfg.name + "': in_channels=" + std::to_string(cfg.in_channels) + ": expected >= 1");
  if (cfg.num_classes <= 0)
    input_error("model '" + cfg.name + "': num_classes=" + std::to_string(cfg.num_classes) + ": expected >= 1");
  check_head_and_options(cfg, entry);
  return entry.factory(cfg);
}

}  // namespace attncnn
