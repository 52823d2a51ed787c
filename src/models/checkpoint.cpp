// The weights file: model state and the metadata that rebuilds the model and its preprocessing.
#include <attncnn/error.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/models/checkpoint.h>

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <set>

namespace attncnn {

std::vector<std::pair<std::string, torch::Tensor>> state_dict(torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) out.emplace_back(b.key(), b.value());
  return out;
}

void load_state_dict(torch::nn::Module& module, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                     const std::string& source) {
  std::map<std::string, torch::Tensor> given(tensors.begin(), tensors.end());
  std::vector<std::string> missing, mismatched;
  std::set<std::string> used;
  auto targets = state_dict(module);
  for (const auto& kv : targets) {
    auto it = given.find(kv.first);
    if (it == given.end()) {
      missing.push_back(kv.first);
      continue;
    }
    used.insert(kv.first);
    if (it->second.sizes() != kv.second.sizes())
      mismatched.push_back(kv.first + " (expected " + c10::str(kv.second.sizes()) + ", got " +
                           c10::str(it->second.sizes()) + ")");
  }
  std::vector<std::string> unexpected;
  for (const auto& kv : given)
    if (!used.count(kv.first)) unexpected.push_back(kv.first);
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    auto list = [](const std::vector<std::string>& v) {
      std::string s;
      for (size_t i = 0; i < v.size() && i < 8; ++i) s += (i ? ", " : "") + v[i];
      if (v.size() > 8) s += ", … (" + std::to_string(v.size()) + " in all)";
      return s;
    };
    std::string msg = source + ": weights do not match the model:";
    if (!missing.empty()) msg += " missing " + list(missing) + ";";
    if (!unexpected.empty()) msg += " unexpected " + list(unexpected) + ";";
    if (!mismatched.empty()) msg += " wrong shape " + list(mismatched) + ";";
    input_error(msg);
  }
  torch::NoGradGuard no_grad;
  for (auto& kv : targets) {
    const auto& src = given.at(kv.first);
    kv.second.copy_(src.to(kv.second.device(), kv.second.scalar_type()));
  }
}

void save_checkpoint(const std::string& path, torch::nn::Module& model, const CheckpointInfo& info) {
  std::map<std::string, std::string> meta;
  meta["format"] = "attncnn";
  meta["format_version"] = std::to_string(kCheckpointVersion);
  meta["model"] = info.model.to_json();
  meta["dataset"] = info.dataset;
  meta["class_names"] = nlohmann::json(info.class_names).dump();
  meta["input"] = nlohmann::json(info.input).dump();
  meta["mean"] = nlohmann::json(info.mean).dump();
  meta["std"] = nlohmann::json(info.std).dump();
  if (!info.transform.empty()) meta["transform"] = info.transform;
  if (!info.dataset_options.empty()) meta["dataset_options"] = info.dataset_options;
  meta["epoch"] = std::to_string(info.epoch);
  meta["step"] = std::to_string(info.step);
  meta["metrics"] = nlohmann::json(info.metrics).dump();
  save_safetensors(path, state_dict(model), meta);
}

namespace {
CheckpointInfo info_from_metadata(const std::map<std::string, std::string>& meta, const std::string& path) {
  auto get = [&](const char* key) -> const std::string& {
    auto it = meta.find(key);
    if (it == meta.end()) input_error(path + ": not an attncnn checkpoint: metadata '" + key + "' is missing");
    return it->second;
  };
  if (get("format") != "attncnn") input_error(path + ": not an attncnn checkpoint (format '" + get("format") + "')");
  int version = 0;
  try {
    version = std::stoi(get("format_version"));
  } catch (const std::exception&) {
    input_error(path + ": format_version '" + get("format_version") + "' is not a number");
  }
  if (version < 1 || version > kCheckpointVersion)
    input_error(path + ": checkpoint format version " + std::to_string(version) + " is not supported (this build reads 1 to " +
                std::to_string(kCheckpointVersion) + ")");
  CheckpointInfo info;
  if (meta.count("transform")) info.transform = meta.at("transform");
  if (meta.count("dataset_options")) info.dataset_options = meta.at("dataset_options");
  info.model = ModelConfig::from_json(get("model"));
  info.dataset = get("dataset");
  try {
    info.class_names = nlohmann::json::parse(get("class_names")).get<std::vector<std::string>>();
    info.input = nlohmann::json::parse(get("input")).get<std::vector<int64_t>>();
    info.mean = nlohmann::json::parse(get("mean")).get<std::vector<double>>();
    info.std = nlohmann::json::parse(get("std")).get<std::vector<double>>();
    info.epoch = std::stoll(get("epoch"));
    auto step = meta.find("step");
    if (step != meta.end()) info.step = std::stoll(step->second);
    info.metrics = nlohmann::json::parse(get("metrics")).get<std::map<std::string, double>>();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    input_error(path + ": malformed checkpoint metadata: " + e.what());
  }
  if (info.input.size() != 3 || info.mean.size() != static_cast<size_t>(info.input[0]) ||
      info.std.size() != info.mean.size())
    input_error(path + ": malformed checkpoint metadata: input must be [C,H,W] with C means and stds");
  return info;
}
}  // namespace

CheckpointInfo read_checkpoint_info(const std::string& path) {
  return info_from_metadata(load_safetensors(path).metadata, path);
}

Model load_checkpoint(const std::string& path, CheckpointInfo* info_out) {
  auto st = load_safetensors(path);
  auto info = info_from_metadata(st.metadata, path);
  auto model = create_model(info.model);
  load_state_dict(*model, st.tensors, path);
  model->eval();
  if (info_out) *info_out = info;
  return model;
}

}  // namespace attncnn
