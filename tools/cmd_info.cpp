// attncnn info: parameters and multiply-accumulates of a model, total and per layer, and where attention sits.
#include <attncnn/attention/params.h>
#include <attncnn/error.h>
#include <attncnn/models/info.h>
#include <attncnn/models/model.h>

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"

namespace attncnn::cli {

std::vector<int64_t> parse_chw(const std::string& spec) {
  std::vector<int64_t> out;
  bool ok = true;
  std::stringstream ss(spec);
  std::string item;
  while (ok && std::getline(ss, item, 'x')) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    ok = !item.empty() && used == item.size() && v > 0;
    out.push_back(v);
  }
  if (!ok || out.size() != 3)
    throw Error(ErrorKind::Input, "--input '" + spec + "': expected CxHxW with positive integers, e.g. 3x224x224");
  return out;
}

namespace {
std::string shape_str(const std::vector<int64_t>& s) {
  if (s.empty()) return "-";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

std::string with_commas(int64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string giga(int64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", static_cast<double>(v));
  return buf;
}
}  // namespace

Runner add_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Parameters and multiply-accumulates of a model, per layer, and where its "
                                         "attention modules sit");
  struct Opts {
    ModelConfig cfg;
    std::string attn_opt, head_opt, model_opt, input;
    int64_t num_classes = 0;
    bool json = false, no_layers = false;
  };
  auto o = std::make_shared<Opts>();
  o->cfg.attn = "";
  cmd->add_option("--model", o->cfg.name, "Model name or alias (see `attncnn list`)")->required();
  cmd->add_option("--attn", o->cfg.attn,
                  "Attention module by name, or none (default: none; for an alias, the module it names)");
  cmd->add_option("--attn-opt", o->attn_opt, "Attention options, key=value[,key=value]");
  cmd->add_option("--head", o->cfg.head, "Classifier pooling: avg or attnpool")->capture_default_str();
  cmd->add_option("--head-opt", o->head_opt, "Head options (attnpool: num_heads=N)");
  cmd->add_option("--model-opt", o->model_opt, "Model options, key=value[,key=value]");
  cmd->add_option("--input", o->input,
                  "Input CxHxW (default: the model's own, shown by `attncnn list`: 3x224x224 for the ImageNet "
                  "family, 3x32x32 with --model-opt stem=cifar)");
  cmd->add_option("--num-classes", o->num_classes, "Classes (default: the model's own, 1000 or 10)");
  cmd->add_flag("--json", o->json, "Print as JSON");
  cmd->add_flag("--no-layers", o->no_layers, "Print totals and attention sites only");
  return [o]() {
    ModelConfig cfg = o->cfg;
    // Info describes the bare backbone unless asked otherwise; an alias brings its own module.
    if (cfg.attn.empty()) cfg.attn = model_registry().is_alias(cfg.name) ? kDefaultAttention : "none";
    cfg.attn_params = Params::parse(o->attn_opt);
    cfg.head_params = Params::parse(o->head_opt);
    cfg.model_params = Params::parse(o->model_opt);
    const std::string asked = cfg.name;
    cfg = resolve_model_aliases(cfg);
    const ModelEntry entry = model_entry(cfg.name);
    const auto chw = o->input.empty() ? nominal_input(cfg) : parse_chw(o->input);
    if (o->num_classes < 0)
      throw Error(ErrorKind::Input, "--num-classes " + std::to_string(o->num_classes) + ": expected 1 or more");
    cfg.num_classes = o->num_classes > 0 ? o->num_classes : entry.num_classes;
    cfg.in_channels = chw[0];
    cfg.image_size = chw[1];
    auto model = create_model(cfg);
    const ModelInfo info = analyze_model(*model, chw);
    const ModelConfig& resolved = model->config();
    if (o->json) {
      nlohmann::json j;
      j["model"] = asked;
      j["config"] = nlohmann::json::parse(resolved.to_json());
      j["input"] = info.input_shape;
      j["output"] = info.output_shape;
      j["params"] = info.params;
      j["trainable_params"] = info.trainable_params;
      j["buffers"] = info.buffers;
      j["macs"] = info.macs;
      j["conv_macs"] = info.conv_macs;
      j["linear_macs"] = info.linear_macs;
      j["matmul_macs"] = info.matmul_macs;
      j["attention"] = nlohmann::json::array();
      for (const auto& a : info.attention)
        j["attention"].push_back({{"name", a.name}, {"type", a.type}, {"params", a.params}, {"macs", a.macs}});
      j["layers"] = nlohmann::json::array();
      if (!o->no_layers)
        for (const auto& l : info.layers)
          j["layers"].push_back({{"name", l.name}, {"type", l.type}, {"output", l.output_shape},
                                 {"params", l.params}, {"macs", l.macs}});
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << "model " << asked;
    if (resolved.name != asked) std::cout << " (alias of " << resolved.name << ")";
    std::cout << ", attention " << resolved.attn << ", head " << resolved.head << ", input " << shape_str(chw)
              << ", " << resolved.num_classes << " classes\n";
    if (!o->no_layers) {
      size_t w = 5;
      for (const auto& l : info.layers) w = std::max(w, l.name.size());
      std::cout << std::left << std::setw(static_cast<int>(w) + 2) << "layer" << std::setw(14) << "type"
                << std::setw(18) << "output" << std::right << std::setw(12) << "params" << std::setw(16) << "MACs"
                << "\n";
      for (const auto& l : info.layers)
        std::cout << std::left << std::setw(static_cast<int>(w) + 2) << l.name << std::setw(14) << l.type
                  << std::setw(18) << shape_str(l.output_shape) << std::right << std::setw(12)
                  << with_commas(l.params) << std::setw(16) << with_commas(l.macs) << "\n";
    }
    std::cout << "attention modules: " << info.attention.size() << "\n";
    for (const auto& a : info.attention)
      std::cout << "  " << a.name << "  " << a.type << "  params " << with_commas(a.params) << "  MACs "
                << with_commas(a.macs) << "\n";
    std::cout << "output " << shape_str(info.output_shape) << "\n"
              << "parameters " << with_commas(info.params) << " (" << giga(static_cast<int64_t>(info.params))
              << "), buffers " << with_commas(info.buffers) << "\n"
              << "MACs per image " << with_commas(info.macs) << " (" << giga(info.macs) << "): conv "
              << with_commas(info.conv_macs) << ", linear " << with_commas(info.linear_macs) << ", matmul "
              << with_commas(info.matmul_macs) << " (BatchNorm, activations, pooling and element-wise ops not counted)\n";
    return 0;
  };
}

}  // namespace attncnn::cli
