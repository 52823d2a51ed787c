// Training settings as data: args.json, --config files (JSON or YAML) and the command line's layer.
#include <attncnn/error.h>
#include <attncnn/train/config.h>

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

namespace attncnn {

namespace {

using json = nlohmann::ordered_json;

enum class Kind { String, Int, Number, Bool, Options };

struct Setting {
  const char* key;
  Kind kind;
  std::function<json(const TrainConfig&)> get;
  std::function<void(TrainConfig&, const json&)> set;
};

const char* kind_text(Kind k) {
  switch (k) {
    case Kind::String: return "a string";
    case Kind::Int: return "an integer";
    case Kind::Number: return "a number";
    case Kind::Bool: return "true or false";
    case Kind::Options: return "key=value[,key=value] or a mapping of keys to values";
  }
  return "";
}

// Checks and converts `v` to the setting's kind; `where` names the key and source for errors.
json coerce(const json& v, Kind kind, const std::string& where) {
  auto bad = [&]() -> json { input_error(where + ": expected " + kind_text(kind) + ", got " + v.dump()); };
  switch (kind) {
    case Kind::String:
      if (v.is_string()) return v;
      if (v.is_number()) return v.dump();  // YAML `name: 2024`
      return bad();
    case Kind::Int:
      if (v.is_number_integer()) return v;
      if (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() == std::floor(v.get<double>()))
        return static_cast<int64_t>(v.get<double>());
      return bad();
    case Kind::Number:
      if (v.is_number()) return v.get<double>();
      if (v.is_string()) {  // YAML 1.1 reads `3e-3` (no dot) as a string
        try {
          size_t used = 0;
          const double d = std::stod(v.get<std::string>(), &used);
          if (used == v.get<std::string>().size()) return d;
        } catch (const std::exception&) {
        }
      }
      return bad();
    case Kind::Bool:
      if (v.is_boolean()) return v;
      return bad();
    case Kind::Options:
      if (v.is_string()) return v;
      if (v.is_null()) return "";
      if (v.is_object()) {
        Params p;
        for (auto it = v.begin(); it != v.end(); ++it) {
          const auto& x = it.value();
          if (x.is_string()) p.set(it.key(), x.get<std::string>());
          else if (x.is_number() || x.is_boolean()) p.set(it.key(), x.dump());
          else input_error(where + "." + it.key() + ": expected a string, number or boolean, got " + x.dump());
        }
        return p.to_string();
      }
      return bad();
  }
  return bad();
}

template <typename T>
Setting field(const char* key, Kind kind, T TrainConfig::*member) {
  return {key, kind, [member](const TrainConfig& c) { return json(c.*member); },
          [member](TrainConfig& c, const json& v) { c.*member = v.get<T>(); }};
}

Setting params(const char* key, Params ModelConfig::*member) {
  return {key, Kind::Options, [member](const TrainConfig& c) { return json((c.model.*member).to_string()); },
          [member](TrainConfig& c, const json& v) { c.model.*member = Params::parse(v.get<std::string>()); }};
}

Setting model_string(const char* key, std::string ModelConfig::*member) {
  return {key, Kind::String, [member](const TrainConfig& c) { return json(c.model.*member); },
          [member](TrainConfig& c, const json& v) { c.model.*member = v.get<std::string>(); }};
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> s = {
      field("data", Kind::String, &TrainConfig::data),
      field("fraction", Kind::Number, &TrainConfig::fraction),
      model_string("model", &ModelConfig::name),
      params("model_opt", &ModelConfig::model_params),
      model_string("attn", &ModelConfig::attn),
      params("attn_opt", &ModelConfig::attn_params),
      model_string("head", &ModelConfig::head),
      params("head_opt", &ModelConfig::head_params),
      field("epochs", Kind::Int, &TrainConfig::epochs),
      field("batch_size", Kind::Int, &TrainConfig::batch_size),
      field("lr", Kind::Number, &TrainConfig::lr),
      field("optimizer", Kind::String, &TrainConfig::optimizer),
      field("momentum", Kind::Number, &TrainConfig::momentum),
      field("nesterov", Kind::Bool, &TrainConfig::nesterov),
      field("weight_decay", Kind::Number, &TrainConfig::weight_decay),
      field("schedule", Kind::String, &TrainConfig::schedule),
      field("warmup_epochs", Kind::Number, &TrainConfig::warmup_epochs),
      field("step_epochs", Kind::Int, &TrainConfig::step_epochs),
      field("step_gamma", Kind::Number, &TrainConfig::step_gamma),
      field("label_smoothing", Kind::Number, &TrainConfig::label_smoothing),
      {"seed", Kind::Int, [](const TrainConfig& c) { return json(c.seed); },
       [](TrainConfig& c, const json& v) {
         if (v.get<int64_t>() < 0) input_error("seed " + v.dump() + ": expected a non-negative integer");
         c.seed = v.get<uint64_t>();
       }},
      field("deterministic", Kind::Bool, &TrainConfig::deterministic),
      field("device", Kind::String, &TrainConfig::device),
      field("threads", Kind::Int, &TrainConfig::threads),
      field("channels_last", Kind::Bool, &TrainConfig::channels_last),
      field("amp", Kind::Bool, &TrainConfig::amp),
      field("augment", Kind::String, &TrainConfig::augment),
      field("workers", Kind::Int, &TrainConfig::workers),
      field("val_split", Kind::Number, &TrainConfig::val_split),
      field("image_size", Kind::Int, &TrainConfig::image_size),
      field("skip_bad", Kind::Bool, &TrainConfig::skip_bad),
      field("eval_batch_size", Kind::Int, &TrainConfig::batch_eval),
      field("project", Kind::String, &TrainConfig::project),
      field("name", Kind::String, &TrainConfig::name),
      field("exist_ok", Kind::Bool, &TrainConfig::exist_ok),
      field("out", Kind::String, &TrainConfig::out),
      field("log_interval", Kind::Int, &TrainConfig::log_interval),
      field("quiet", Kind::Bool, &TrainConfig::quiet),
      field("device_data", Kind::String, &TrainConfig::device_data),
      field("cuda_graph", Kind::Bool, &TrainConfig::cuda_graph),
      field("bias_lr_scale", Kind::Number, &TrainConfig::bias_lr_scale),
      field("eval_every", Kind::Int, &TrainConfig::eval_every),
      field("save_every", Kind::Int, &TrainConfig::save_every),
      field("lookahead", Kind::Int, &TrainConfig::lookahead),
      field("lr_start", Kind::Number, &TrainConfig::lr_start),
      field("lr_end", Kind::Number, &TrainConfig::lr_end),
      field("cudnn_benchmark", Kind::Bool, &TrainConfig::cudnn_benchmark),
      field("lookahead_decay", Kind::Number, &TrainConfig::lookahead_decay),
      field("tta", Kind::Int, &TrainConfig::tta),
      field("preset", Kind::String, &TrainConfig::preset),
  };
  return s;
}

// YAML → JSON. Plain scalars are typed the way YAML 1.2's core schema types them; quoted ones stay strings.
json yaml_to_json(const YAML::Node& n, const std::string& path) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& x : n) a.push_back(yaml_to_json(x, path));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) {
        const std::string key = kv.first.as<std::string>();
        if (o.contains(key)) input_error(path + ": key '" + key + "' appears twice");
        o[key] = yaml_to_json(kv.second, path);
      }
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      static const std::regex null_re("~|null|Null|NULL");
      static const std::regex true_re("true|True|TRUE"), false_re("false|False|FALSE");
      static const std::regex int_re("[-+]?[0-9]+");
      static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
      if (s.empty() || std::regex_match(s, null_re)) return nullptr;
      if (std::regex_match(s, true_re)) return true;
      if (std::regex_match(s, false_re)) return false;
      try {
        if (std::regex_match(s, int_re)) return std::stoll(s);
        if (std::regex_match(s, float_re)) return std::stod(s);
      } catch (const std::exception&) {
        // out of range: leave it a string; the setting's check names it
      }
      return s;
    }
  }
  return nullptr;
}

}  // namespace

const std::vector<std::string>& train_setting_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (const auto& s : settings()) k.push_back(s.key);
    return k;
  }();
  return keys;
}

std::string train_settings_json(const TrainConfig& cfg) {
  json j = json::object();
  for (const auto& s : settings()) j[s.key] = s.get(cfg);
  return j.dump(2) + "\n";
}

void apply_train_settings(TrainConfig& cfg, const std::string& json_object, const std::string& source) {
  json j;
  try {
    j = json::parse(json_object);
  } catch (const std::exception& e) {
    input_error(source + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) input_error(source + ": expected an object of settings (key: value)");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const Setting* found = nullptr;
    for (const auto& s : settings())
      if (it.key() == s.key) found = &s;
    if (!found) {
      std::string known;
      for (const auto& k : train_setting_keys()) known += (known.empty() ? "" : ", ") + k;
      std::string hint;
      if (it.key().find('-') != std::string::npos) {
        std::string u = it.key();
        for (auto& c : u)
          if (c == '-') c = '_';
        hint = " (keys use '_': " + u + ")";
      }
      input_error(source + ": unknown key '" + it.key() + "'" + hint + "; known keys: " + known);
    }
    const std::string where = source + ": " + found->key;
    found->set(cfg, coerce(it.value(), found->kind, where));
  }
}

std::string read_settings_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) input_error(path + ": cannot read the settings file (--config expects a JSON or YAML file)");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const bool is_json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  json j;
  if (is_json) {
    try {
      j = json::parse(text);
    } catch (const std::exception& e) {
      input_error(path + ": not valid JSON: " + e.what());
    }
  } else {
    try {
      j = yaml_to_json(YAML::Load(text), path);
    } catch (const YAML::Exception& e) {
      input_error(path + ": not valid YAML: " + e.what());
    }
  }
  if (j.is_null()) j = json::object();  // an empty file sets nothing
  if (!j.is_object()) input_error(path + ": expected a mapping of settings (key: value) at the top level");
  return j.dump();
}

}  // namespace attncnn
