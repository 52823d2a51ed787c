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

// Runs last among the built-ins: an alias needs its target registered.
void register_model_aliases() {
  for (const auto& kv : alias_table()) {
    const ModelAlias& a = kv.second;
    std::string summary = "alias: " + a.model + " + attn " + a.attn;
    if (!a.model_params.empty()) summary += " + " + a.model_params.to_string();
    model_registry().add_alias({a.alias, a.model, summary});
  }
}

}  // namespace attncnn
