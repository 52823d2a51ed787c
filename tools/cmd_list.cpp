// attncnn list: the registered attention modules, models and datasets.
#include <attncnn/attention/registry.h>
#include <attncnn/data/dataset.h>
#include <attncnn/models/model.h>

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"

namespace attncnn::cli {

Runner add_list(CLI::App& app) {
  auto* cmd = app.add_subcommand("list", "List attention modules, models and datasets");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print as JSON");
  return [json]() {
    const auto attns = attention_entries();
    const auto models = model_entries();
    if (*json) {
      nlohmann::json j;
      for (const auto& a : attns)
        j["attention"].push_back({{"name", a.name}, {"summary", a.summary}, {"options", a.options},
                                  {"output", a.output == AttnOutput::Pool ? "pool" : "reweight"}});
      for (const auto& m : models) j["models"].push_back({{"name", m.name}, {"summary", m.summary}, {"options", m.options}});
      for (const auto& d : dataset_kinds()) j["datasets"].push_back({{"name", d.first}, {"spec", d.second}});
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << "attention modules (--attn NAME, options with --attn-opt key=value):\n";
    for (const auto& a : attns) {
      std::string opts;
      for (const auto& k : a.options) opts += (opts.empty() ? "" : ",") + k;
      std::cout << "  " << std::left << std::setw(10) << a.name << a.summary << (opts.empty() ? "" : "  [" + opts + "]")
                << "\n";
    }
    std::cout << "  " << std::left << std::setw(10) << "none" << "no attention\n";
    std::cout << "models (--model NAME):\n";
    size_t model_width = 10;
    for (const auto& m : models) model_width = std::max(model_width, m.name.size() + 2);
    for (const auto& m : models)
      std::cout << "  " << std::left << std::setw(static_cast<int>(model_width)) << m.name << m.summary << "\n";
    std::cout << "datasets (--data SPEC):\n";
    for (const auto& d : dataset_kinds()) std::cout << "  " << d.second << "\n";
    return 0;
  };
}

}  // namespace attncnn::cli
