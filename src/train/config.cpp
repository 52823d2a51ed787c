// Training settings as data: the one table of every setting, and what is derived from it (args.json, --config
// files, command-line values, validation, the docs table).
#include <attncnn/error.h>
#include <attncnn/io/files.h>
#include <attncnn/train/config.h>

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

namespace attncnn {

namespace {

using json = nlohmann::ordered_json;

enum class Kind { String, Int, Number, Bool, Options };

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

const char* type_name(Kind k) {
  switch (k) {
    case Kind::String: return "string";
    case Kind::Int: return "int";
    case Kind::Number: return "number";
    case Kind::Bool: return "bool";
    case Kind::Options: return "options";
  }
  return "";
}

// Numbers as a person writes them: 0.003, 1e-05, nan (never JSON's null).
std::string num_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream o;
  o << v;
  return o.str();
}

struct Setting {
  SettingInfo info;
  Kind kind = Kind::String;
  std::function<json(const TrainConfig&)> get;
  std::function<void(TrainConfig&, const json&)> set;
  // Allowed values: choices for strings, a range for numbers (open or closed ends).
  std::vector<std::string> choices;
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;

  Setting& flags(std::vector<std::string> f) { info.flags = std::move(f); return *this; }
  Setting& also(const std::string& f) { info.flags.push_back(f); return *this; }
  Setting& negatable() { info.negatable = true; return *this; }
  Setting& one_of(std::vector<std::string> c) { choices = std::move(c); return *this; }
  Setting& at_least(double v) { lo = v; lo_open = false; return *this; }
  Setting& above(double v) { lo = v; lo_open = true; return *this; }
  Setting& at_most(double v) { hi = v; hi_open = false; return *this; }
  Setting& below(double v) { hi = v; hi_open = true; return *this; }
  Setting& no_cli() { info.cli = false; info.flags.clear(); return *this; }

  bool ranged() const { return std::isfinite(lo) || std::isfinite(hi); }
  std::string value_text(const TrainConfig& c) const {
    const json v = get(c);
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_float()) return num_text(v.get<double>());
    return v.dump();
  }
  std::string range_text() const {
    auto b = [&](double v) { return kind == Kind::Int ? std::to_string(static_cast<int64_t>(v)) : num_text(v); };
    if (!choices.empty()) {
      std::string s;
      for (size_t i = 0; i < choices.size(); ++i)
        s += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
      return s;
    }
    if (std::isfinite(lo) && std::isfinite(hi))
      return std::string(lo_open ? "(" : "[") + b(lo) + ", " + b(hi) + (hi_open ? ")" : "]");
    if (std::isfinite(lo)) return std::string(lo_open ? "> " : ">= ") + b(lo);
    if (std::isfinite(hi)) return std::string(hi_open ? "< " : "<= ") + b(hi);
    return "";
  }
  // Throws naming the flag and value when the current value of `c` is outside what is allowed.
  void check(const TrainConfig& c) const {
    const std::string name = info.flags.empty() ? info.key : info.flags.front();
    if (!choices.empty()) {
      const std::string v = get(c).get<std::string>();
      for (const auto& x : choices)
        if (v == x) return;
      input_error(name + " " + v + ": expected " + range_text());
    }
    if (!ranged()) return;
    const double v = get(c).get<double>();
    const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
    if (!ok)
      input_error(name + " " + value_text(c) + ": expected " + (kind == Kind::Int ? "an integer " : "a number ") +
                  range_text());
  }
};

template <typename T>
constexpr Kind kind_of() {
  if constexpr (std::is_same_v<T, bool>) return Kind::Bool;
  else if constexpr (std::is_same_v<T, double>) return Kind::Number;
  else if constexpr (std::is_integral_v<T>) return Kind::Int;
  else return Kind::String;
}

std::string default_flag(const std::string& key) {
  std::string f = "--" + key;
  for (auto& ch : f)
    if (ch == '_') ch = '-';
  return f;
}

// Builds the table; each add() starts a row from a TrainConfig member.
class Table {
 public:
  explicit Table(std::string group) : group_(std::move(group)) {}
  void group(std::string g) { group_ = std::move(g); }

  template <typename T>
  Setting& add(const char* key, T TrainConfig::*member, const char* help) {
    Setting s = row(key, kind_of<T>(), help);
    s.get = [member](const TrainConfig& c) { return json(c.*member); };
    s.set = [member](TrainConfig& c, const json& v) { c.*member = v.get<T>(); };
    rows_.push_back(std::move(s));
    return rows_.back();
  }
  Setting& model_string(const char* key, std::string ModelConfig::*member, const char* help) {
    Setting s = row(key, Kind::String, help);
    s.get = [member](const TrainConfig& c) { return json(c.model.*member); };
    s.set = [member](TrainConfig& c, const json& v) { c.model.*member = v.get<std::string>(); };
    rows_.push_back(std::move(s));
    return rows_.back();
  }
  Setting& model_params(const char* key, Params ModelConfig::*member, const char* help) {
    Setting s = row(key, Kind::Options, help);
    s.get = [member](const TrainConfig& c) { return json((c.model.*member).to_string()); };
    s.set = [member](TrainConfig& c, const json& v) { c.model.*member = Params::parse(v.get<std::string>()); };
    rows_.push_back(std::move(s));
    return rows_.back();
  }
  std::vector<Setting> take() { return std::move(rows_); }

 private:
  Setting row(const char* key, Kind kind, const char* help) {
    Setting s;
    s.kind = kind;
    s.info.key = key;
    s.info.flags = {default_flag(key)};
    s.info.type = type_name(kind);
    s.info.group = group_;
    s.info.help = help;
    return s;
  }
  std::string group_;
  std::vector<Setting> rows_;
};

std::vector<Setting> build_settings() {
  using C = TrainConfig;
  Table t("Data");
  t.add("data", &C::data, "Dataset spec (see `attncnn list`): fashion-mnist[:DIR], mnist:DIR, idx:DIR, cifar10:DIR, "
                          "cifar100:DIR, cifar100-coarse:DIR, folder:DIR");
  t.add("fraction", &C::fraction, "Train on this seeded share of the training split").above(0).at_most(1);
  t.add("val_split", &C::val_split,
        "Folder datasets without train/val subfolders: seeded share of each class held out for validation")
      .at_least(0).below(1);
  t.add("image_size", &C::image_size, "Folder datasets: resize and centre-crop images to this side").at_least(1)
      .at_most(4096);
  t.add("skip_bad", &C::skip_bad, "Folder datasets: skip unreadable images (counted) instead of failing");
  t.add("workers", &C::workers, "Data loader threads (-1: 4 on CUDA; on the CPU 1 with --augment, else 0)")
      .at_least(-1).at_most(256);

  t.group("Model");
  t.model_string("model", &ModelConfig::name, "Model name or timm-style alias (see `attncnn list`)");
  t.model_params("model_opt", &ModelConfig::model_params, "Model options, key=value[,key=value] (e.g. width=32)");
  t.model_string("attn", &ModelConfig::attn,
                 "Attention module by name, or none; default: the module a model alias names, else sgate");
  t.model_params("attn_opt", &ModelConfig::attn_params, "Attention options, key=value[,key=value] (e.g. rd_ratio=0.5)");
  t.model_string("head", &ModelConfig::head, "Classifier pooling: avg or attnpool");
  t.model_params("head_opt", &ModelConfig::head_params, "Head options (attnpool: num_heads=N)");
  t.add("drop_path", &C::drop_path, "Stochastic depth rate of residual backbones (timm's drop_path_rate)")
      .at_least(0).below(1);
  t.add("initial_checkpoint", &C::initial_checkpoint,
        "Start from these weights: an attncnn checkpoint or a safetensors state dict with the same names (timm's); "
        "the classifier is re-initialised when the class count differs");
  t.add("reset_head", &C::reset_head, "With --initial-checkpoint: always re-initialise the classifier");

  t.group("Optimisation");
  t.add("epochs", &C::epochs, "Training epochs").at_least(1).at_most(1000000);
  t.add("batch_size", &C::batch_size, "Training batch size (per optimizer step: x --grad-accum-steps)")
      .also("-b").at_least(1).at_most(1 << 20);
  t.add("lr", &C::lr, "Peak learning rate").above(0);
  t.add("optimizer", &C::optimizer, "Optimizer").also("--opt").one_of({"adamw", "sgd"});
  t.add("momentum", &C::momentum, "SGD momentum").at_least(0).below(1);
  t.add("nesterov", &C::nesterov, "SGD: Nesterov momentum").negatable();
  t.add("weight_decay", &C::weight_decay, "Weight decay (not applied to norms and biases)").at_least(0).at_most(1e6);
  t.add("schedule", &C::schedule, "Learning-rate schedule").also("--sched")
      .one_of({"cosine", "linear", "step", "onecycle", "constant"});
  t.add("warmup_epochs", &C::warmup_epochs,
        "Linear warmup in epochs (fractions allowed; at most --epochs); onecycle: its rising phase (0: 30% of the run)")
      .at_least(0);
  t.add("step_epochs", &C::step_epochs, "step schedule: epochs between decays").at_least(1).at_most(1000000);
  t.add("step_gamma", &C::step_gamma, "step schedule: factor applied at each decay").above(0).at_most(1);
  t.add("label_smoothing", &C::label_smoothing, "Label smoothing").also("--smoothing").at_least(0).below(1);
  t.add("seed", &C::seed, "Random seed (initialisation, data order, augmentation, --fraction subset)");
  t.add("bias_lr_scale", &C::bias_lr_scale, "Learning-rate factor for norm weights and biases").above(0)
      .at_most(1e6);
  t.add("lr_start", &C::lr_start, "linear schedule: warmup starts at lr x this (0: from lr/warmup steps)")
      .at_least(0).at_most(1);
  t.add("lr_end", &C::lr_end, "linear schedule: the rate ends at lr x this").at_least(0).at_most(1);
  t.add("clip_grad", &C::clip_grad, "Clip gradients at this threshold (0: off); see --clip-mode").at_least(0);
  t.add("clip_mode", &C::clip_mode,
        "Gradient clipping: norm (global L2 norm), value (each element), agc (adaptive, per output unit)")
      .one_of({"norm", "value", "agc"});
  t.add("grad_accum_steps", &C::grad_accum_steps, "Batches whose gradients are summed into one optimizer step")
      .at_least(1).at_most(4096);
  t.add("lookahead", &C::lookahead, "Every N steps move a slow copy of the weights toward them (0: off)")
      .at_least(0).at_most(1000000);
  t.add("lookahead_decay", &C::lookahead_decay,
        "Per-step decay of the slow weights, reached at the end of training (ramped in as (t/T)^3)")
      .above(0).below(1);
  t.add("model_ema", &C::model_ema,
        "Keep an exponential moving average of the weights: evaluated with the model, used for best.safetensors");
  t.add("model_ema_decay", &C::model_ema_decay, "EMA decay per optimizer step").at_least(0).below(1);
  t.add("model_ema_warmup", &C::model_ema_warmup,
        "Ramp the EMA decay in as min(decay, 1 - (1+t)^(-2/3)) for the t-th update (timm's warmup)");

  t.group("Augmentation");
  t.add("augment", &C::augment,
        "Training augmentation: crop=N,pad=P,pad_mode=zero|reflect,flip=P,flip_mode=random|alternate,erase=P "
        "(e.g. crop=32,pad=4,flip=0.5)");
  t.add("mixup", &C::mixup, "Mixup alpha (0: off)").at_least(0).at_most(1000);
  t.add("cutmix", &C::cutmix, "CutMix alpha (0: off)").at_least(0).at_most(1000);
  t.add("mixup_prob", &C::mixup_prob, "Probability of mixing a batch when mixup or cutmix is on").at_least(0)
      .at_most(1);
  t.add("mixup_switch_prob", &C::mixup_switch_prob, "Probability of CutMix instead of mixup when both are on")
      .at_least(0).at_most(1);
  t.add("mixup_off_epoch", &C::mixup_off_epoch, "Stop mixing after this epoch (0: never)").at_least(0)
      .at_most(1000000);

  t.group("Evaluation");
  t.add("eval_batch_size", &C::batch_eval, "Batch size of the per-epoch evaluation").at_least(1).at_most(1 << 20);
  t.add("eval_every", &C::eval_every, "Evaluate every N epochs (0: after the last epoch only)").at_least(0)
      .at_most(1000000);
  t.add("tta", &C::tta, "Test-time augmentation of the evaluation: 0 none, 1 flip, 2 flip + 1-pixel shifts")
      .at_least(0).at_most(2);

  t.group("Speed");
  t.add("device", &C::device, "auto, cpu or cuda[:N]");
  t.add("threads", &C::threads, "CPU threads (0: all cores)").at_least(0).at_most(4096);
  t.add("deterministic", &C::deterministic,
        "Deterministic algorithms where libtorch has them, no cuDNN autotuning (slower on GPU)");
  t.add("channels_last", &C::channels_last, "Use the channels-last memory format");
  t.add("amp", &C::amp, "bf16 autocast on CUDA (ignored on the CPU)");
  t.add("device_data", &C::device_data,
        "Hold the training set on the device and augment batches there: auto (CUDA, when --augment allows), on, off")
      .one_of({"auto", "on", "off"});
  t.add("cuda_graph", &C::cuda_graph,
        "Capture forward, loss and backward as one CUDA graph (full batches only: the last partial batch is dropped)");
  t.add("cudnn_benchmark", &C::cudnn_benchmark,
        "Let cuDNN time its algorithms for each new shape (off saves start-up time)").negatable();

  t.group("Distributed");
  t.add("nproc_per_node", &C::nproc_per_node,
        "Start N training processes on this machine (data-parallel; each takes --batch-size, the global batch is "
        "N times it)").at_least(1).at_most(1024);
  t.add("dist_backend", &C::dist_backend, "c10d backend: auto (nccl on CUDA, gloo on the CPU), gloo or nccl")
      .one_of({"auto", "gloo", "nccl"});
  t.add("dist_timeout", &C::dist_timeout,
        "Seconds a rank waits for the others (rendezvous, collectives) before it stops with an error")
      .above(0).at_most(86400 * 7);
  t.add("bucket_cap_mb", &C::bucket_cap_mb, "Gradient bucket size in MB for the all-reduce that overlaps backward")
      .above(0).at_most(4096);
  t.add("sync_bn", &C::sync_bn,
        "BatchNorm statistics over the global batch of all ranks (SyncBatchNorm; no effect in a one-process run)");
  t.add("world_size", &C::world_size, "Ranks of the run (set from the environment)").no_cli().at_least(1);

  t.group("Output");
  t.add("project", &C::project, "Parent folder of run folders");
  t.add("name", &C::name, "Run folder name (numbered exp, exp2, ... unless --exist-ok)");
  t.add("out", &C::out, "Run folder (overrides --project/--name); one that holds a run is refused unless --exist-ok");
  t.add("exist_ok", &C::exist_ok, "Write into an existing run folder (<project>/<name> or --out), replacing its run");
  t.add("save_every", &C::save_every,
        "Write weights/last.safetensors every N epochs (0: after the last only; Ctrl-C always saves)")
      .at_least(0).at_most(1000000);
  t.add("log_interval", &C::log_interval,
        "Batches between progress lines when output is not a terminal (0: epoch lines only)")
      .at_least(0);
  t.add("quiet", &C::quiet, "Print nothing but errors and the final summary").also("-q");
  t.add("preset", &C::preset, "The built-in settings the run started from (set by --preset)").no_cli();
  return t.take();
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> s = [] {
    auto rows = build_settings();
    const TrainConfig defaults;
    for (auto& r : rows) r.info.default_text = r.value_text(defaults), r.info.allowed = r.range_text();
    return rows;
  }();
  return s;
}

const Setting* find_setting(const std::string& key) {
  for (const auto& s : settings())
    if (s.info.key == key) return &s;
  return nullptr;
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
      if (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() == std::floor(v.get<double>()) &&
          std::fabs(v.get<double>()) < 9.2e18)
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

// A command-line value as typed, converted to the setting's kind.
json from_text(const Setting& s, const std::string& text) {
  const std::string name = s.info.flags.empty() ? s.info.key : s.info.flags.front();
  auto bad = [&]() -> json { input_error(name + " " + text + ": expected " + kind_text(s.kind)); };
  switch (s.kind) {
    case Kind::String:
    case Kind::Options:
      return text;
    case Kind::Int: {
      if (text.empty()) return bad();
      errno = 0;
      char* end = nullptr;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (errno == ERANGE || *end != '\0') return bad();
      if (s.info.key == "seed" && v < 0) input_error(name + " " + text + ": expected a non-negative integer");
      return static_cast<int64_t>(v);
    }
    case Kind::Number: {
      if (text.empty()) return bad();
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (*end != '\0') return bad();
      return v;
    }
    case Kind::Bool:
      if (text == "true" || text == "1") return true;
      if (text == "false" || text == "0") return false;
      return bad();
  }
  return bad();
}

void set_value(const Setting& s, TrainConfig& cfg, const json& v) {
  if (s.info.key == "seed") {  // uint64 in the struct; JSON integers may be negative
    if (v.is_number_integer() && v.get<int64_t>() < 0)
      input_error("seed " + v.dump() + ": expected a non-negative integer");
    cfg.seed = v.get<uint64_t>();
    return;
  }
  s.set(cfg, v);
}

// YAML → JSON. Plain scalars are typed the way YAML 1.2's core schema types them; quoted ones stay strings.
json yaml_to_json(const YAML::Node& n, const std::string& path, int depth = 0) {
  // Settings are flat (options one level down): a deep document is not a settings file, and recursing into it
  // would only risk the stack.
  if (depth > 16) input_error(path + ": nested more than 16 levels deep; settings are key: value pairs");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& x : n) a.push_back(yaml_to_json(x, path, depth + 1));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) {
        const std::string key = kv.first.as<std::string>();
        if (o.contains(key)) input_error(path + ": key '" + key + "' appears twice");
        o[key] = yaml_to_json(kv.second, path, depth + 1);
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

const std::vector<SettingInfo>& train_settings() {
  static const std::vector<SettingInfo> infos = [] {
    std::vector<SettingInfo> v;
    for (const auto& s : settings()) v.push_back(s.info);
    return v;
  }();
  return infos;
}

const std::vector<std::string>& train_setting_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (const auto& s : settings()) k.push_back(s.info.key);
    return k;
  }();
  return keys;
}

std::string train_settings_json(const TrainConfig& cfg) {
  json j = json::object();
  for (const auto& s : settings()) j[s.info.key] = s.get(cfg);
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
    const Setting* found = find_setting(it.key());
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
    set_value(*found, cfg, coerce(it.value(), found->kind, source + ": " + found->info.key));
  }
}

void apply_train_flags(TrainConfig& cfg, const std::vector<std::pair<std::string, std::string>>& given) {
  for (const auto& kv : given) {
    const Setting* s = find_setting(kv.first);
    if (!s) input_error("unknown setting '" + kv.first + "'");
    set_value(*s, cfg, from_text(*s, kv.second));
  }
}

void validate_train_config(TrainConfig& cfg) {
  if (cfg.schedule == "one-cycle" || cfg.schedule == "one_cycle") cfg.schedule = "onecycle";
  for (const auto& s : settings()) s.check(cfg);
  if (cfg.warmup_epochs > cfg.epochs)
    input_error("--warmup-epochs " + num_text(cfg.warmup_epochs) + ": expected 0 to --epochs (" +
                std::to_string(cfg.epochs) + ")");
  if (cfg.optimizer == "sgd" && cfg.nesterov && cfg.momentum <= 0)
    input_error("--momentum 0 with Nesterov: Nesterov momentum needs --momentum > 0 (or pass --no-nesterov)");
  if (cfg.cuda_graph && cfg.device_data == "off")
    input_error("--cuda-graph needs the training set on the device; drop --device-data off");
  if (cfg.cuda_graph && cfg.deterministic)
    input_error("--cuda-graph with --deterministic: graph capture needs cuDNN autotuning's warm-up; pick one");
  if (cfg.cuda_graph && cfg.grad_accum_steps > 1)
    input_error("--cuda-graph with --grad-accum-steps " + std::to_string(cfg.grad_accum_steps) +
                ": a captured step overwrites the gradients; accumulate without the graph");
  if (cfg.cuda_graph && (cfg.mixup > 0 || cfg.cutmix > 0))
    input_error("--cuda-graph with --mixup/--cutmix: the captured step takes class labels, not mixed targets; "
                "drop one of them");
  if (cfg.cuda_graph && cfg.sync_bn)
    input_error("--cuda-graph with --sync-bn: synchronised BatchNorm exchanges statistics inside the step, which a "
                "captured graph cannot; drop one of them");
  if (cfg.reset_head && cfg.initial_checkpoint.empty())
    input_error("--reset-head needs --initial-checkpoint FILE");
  if (cfg.max_steps < 0) input_error("max_steps " + std::to_string(cfg.max_steps) + ": expected 0 or more");
  if (cfg.out.empty()) input_error("train: no output folder given (--out)");
}

std::string train_settings_markdown() {
  std::ostringstream md;
  std::string group;
  auto cell = [](std::string s) {
    std::string o;
    for (char c : s) o += c == '|' ? std::string("\\|") : std::string(1, c);
    return o;
  };
  for (const auto& s : settings()) {
    const SettingInfo& i = s.info;
    if (i.group != group) {
      group = i.group;
      md << "\n**" << group << "**\n\n"
         << "| key | flags | type | default | allowed | meaning |\n| --- | --- | --- | --- | --- | --- |\n";
    }
    std::string flags;
    for (const auto& f : i.flags) flags += (flags.empty() ? "" : ", ") + ("`" + f + "`");
    if (i.negatable) flags += ", `--no-" + i.flags.front().substr(2) + "`";
    if (flags.empty()) flags = "(none)";
    md << "| `" << i.key << "` | " << flags << " | " << i.type << " | "
       << (i.default_text.empty() ? std::string("\"\"") : "`" + cell(i.default_text) + "`") << " | "
       << cell(i.allowed) << " | " << cell(i.help) << " |\n";
  }
  return md.str();
}

std::string read_settings_file(const std::string& path) {
  // Only a regular file of sane size: a folder reads as empty, a FIFO or device could block or never end.
  if (!exists(path)) input_error(path + ": cannot read the settings file (--config expects a JSON or YAML file)");
  if (!is_file(path)) input_error(path + ": not a regular file (--config expects a JSON or YAML file)");
  constexpr int64_t kMaxSettingsBytes = 1 << 20;
  const int64_t size = file_size(path);
  if (size > kMaxSettingsBytes)
    input_error(path + ": " + std::to_string(size) + " bytes; a settings file is at most 1 MiB");
  const std::string text = read_all(path);
  const bool is_json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  json j;
  if (is_json) {
    bool too_deep = false;
    const json::parser_callback_t depth_guard = [&](int depth, json::parse_event_t, json&) {
      too_deep = too_deep || depth > 16;
      return !too_deep;
    };
    try {
      j = json::parse(text, depth_guard);
    } catch (const std::exception& e) {
      input_error(path + ": not valid JSON: " + e.what());
    }
    if (too_deep) input_error(path + ": nested more than 16 levels deep; settings are key: value pairs");
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
