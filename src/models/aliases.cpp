#include <attncnn/models/aliases.h>

#include <map>

#include "builtin.h"

namespace attncnn {

namespace {
const std::map<std::string, ModelAlias>& alias_table() {
  static const std::map<std::string, ModelAlias> table = [] {
    std::map<std::string, ModelAlias> t;
    auto add = [&t](const std::string& alias, const std::string& model, const std::string& attn,
                    const std::string& params) { t[alias] = {alias, model, attn, Params::parse(params)}; };
    const char* const d_variant = "stem=deep,avg_down=1";
    for (const char* depth : {"18", "34", "50", "101"}) {
      add(std::string("seresnet") + depth, std::string("resnet") + depth, "se", "");
      add(std::string("ecaresnet") + depth, std::string("resnet") + depth, "eca", "");
    }
    for (const char* depth : {"26", "50", "101"}) {
      add(std::string("resnet") + depth + "d", std::string("resnet") + depth, "none", d_variant);
      add(std::string("ecaresnet") + depth + "d", std::string("resnet") + depth, "eca", d_variant);
    }
    for (const char* depth : {"20", "32", "44", "56", "110"})
      for (const char* attn : {"se", "eca", "cbam"})
        add(std::string(attn) + "_resnet" + depth, std::string("resnet") + depth, attn, "");
    return t;
  }();
  return table;
}

// Model options of the alias targets (the alias entries must list them before the targets can be asked).
std::vector<std::string> target_options(const std::string& model) {
  if (model == "resnet20" || model == "resnet32" || model == "resnet44" || model == "resnet56" || model == "resnet110")
    return {"shortcut", "attn_stages", "drop_path_rate"};
  return {"stem", "stem_width", "avg_down", "layers", "channels", "attn_stages", "drop_path_rate"};
}
}  // namespace

std::vector<ModelAlias> model_aliases() {
  std::vector<ModelAlias> out;
  for (const auto& kv : alias_table()) out.push_back(kv.second);
  return out;
}

const ModelAlias* find_model_alias(const std::string& name) {
  const auto& t = alias_table();
  auto it = t.find(name);
  return it == t.end() ? nullptr : &it->second;
}

ModelConfig resolve_model_alias(const ModelConfig& cfg) {
  const ModelAlias* a = find_model_alias(cfg.name);
  if (!a) return cfg;
  ModelConfig out = cfg;
  out.name = a->model;
  out.attn = a->attn;
  Params merged = a->model_params;
  for (const auto& kv : cfg.model_params.items()) merged.set(kv.first, kv.second);
  out.model_params = merged;
  return out;
}

void register_model_aliases() {
  for (const auto& kv : alias_table()) {
    const ModelAlias& a = kv.second;
    std::string summary = "alias: " + a.model + " + attn " + a.attn;
    if (!a.model_params.empty()) summary += " + " + a.model_params.to_string();
    register_model({a.alias, summary, target_options(a.model),
                    [](const ModelConfig& cfg) -> Model { return create_model(resolve_model_alias(cfg)); }});
  }
}

}  // namespace attncnn
