// attncnn list: the registered attention modules, models (with their default input and classes), model aliases
// and dataset specs.
#include <attncnn/attention/registry.h>
#include <attncnn/data/dataset.h>
#include <attncnn/models/model.h>

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"

namespace attncnn::cli {

namespace {
std::string chw_str(const std::vector<int64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

// Names padded to the longest one (at least `min`), so the summaries line up.
template <class T, class Name>
int name_width(const std::vector<T>& items, Name name, size_t min) {
  size_t w = min;
  for (const auto& it : items) w = std::max(w, name(it).size() + 2);
  return static_cast<int>(w);
}

void print_json(const std::vector<AttentionEntry>& attns, const std::vector<ModelEntry>& models,
                const std::vector<ModelRegistry::Alias>& aliases, const std::vector<DatasetEntry>& datasets) {
  nlohmann::json j;
  for (const auto& a : attns)
    j["attention"].push_back({{"name", a.name}, {"summary", a.summary}, {"options", a.options},
                              {"output", a.output == AttnOutput::Pool ? "pool" : "reweight"}});
  for (const auto& m : models)
    j["models"].push_back({{"name", m.name}, {"summary", m.summary}, {"options", m.options}, {"input", m.input},
                           {"num_classes", m.num_classes}});
  for (const auto& a : aliases)
    j["aliases"].push_back({{"name", a.name}, {"model", a.target}, {"summary", a.summary}});
  for (const auto& d : datasets) j["datasets"].push_back({{"name", d.name}, {"spec", d.form}, {"summary", d.summary}});
  std::cout << j.dump(2) << "\n";
}
}  // namespace

Runner add_list(CLI::App& app) {
  auto* cmd = app.add_subcommand("list", "List attention modules, models, model aliases and datasets");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print as JSON");
  return [json]() {
    const auto attns = attention_entries();
    const auto models = model_entries();
    const auto aliases = model_registry().aliases();
    const auto datasets = dataset_entries();
    if (*json) {
      print_json(attns, models, aliases, datasets);
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
    std::cout << "models (--model NAME; the input and classes they are designed for):\n";
    const int mw = name_width(models, [](const ModelEntry& m) { return m.name; }, 10);
    for (const auto& m : models) {
      const std::string nominal = chw_str(m.input) + ", " + std::to_string(m.num_classes) + " classes";
      std::cout << "  " << std::left << std::setw(mw) << m.name << std::setw(25) << nominal << m.summary << "\n";
    }
    std::cout << "model aliases (--model NAME; their attention module replaces the default of --attn):\n";
    const int aw = name_width(aliases, [](const ModelRegistry::Alias& a) { return a.name; }, 10);
    for (const auto& a : aliases) std::cout << "  " << std::left << std::setw(aw) << a.name << a.summary << "\n";
    std::cout << "datasets (--data SPEC):\n";
    const int dw = name_width(datasets, [](const DatasetEntry& d) { return d.form; }, 10);
    for (const auto& d : datasets) std::cout << "  " << std::left << std::setw(dw) << d.form << d.summary << "\n";
    return 0;
  };
}

}  // namespace attncnn::cli
