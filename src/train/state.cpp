// Resumable training state: optimizer buffers, generator state and loop position beside the weights.
#include <attncnn/error.h>
#include <attncnn/io/files.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/train/checkpoint.h>

#include <torch/torch.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "optim_state_key.h"

namespace attncnn {

namespace {

using detail::state_key;

std::map<const void*, std::string> parameter_names(torch::nn::Module& model) {
  std::map<const void*, std::string> names;
  for (const auto& p : model.named_parameters(/*recurse=*/true)) names[p.value().unsafeGetTensorImpl()] = p.key();
  return names;
}

torch::Tensor cpu_copy(const torch::Tensor& t) { return t.detach().to(torch::kCPU).contiguous().clone(); }

torch::Tensor scalar_i64(int64_t v) { return torch::full({}, v, torch::TensorOptions().dtype(torch::kLong)); }

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> optimizer_state(torch::optim::Optimizer& optimizer,
                                                                  torch::nn::Module& model) {
  const auto names = parameter_names(model);
  std::vector<std::pair<std::string, torch::Tensor>> out;
  auto& state = optimizer.state();
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) {
      auto it = state.find(state_key(state, p));
      if (it == state.end()) continue;  // no step taken yet for this parameter
      auto nit = names.find(p.unsafeGetTensorImpl());
      if (nit == names.end()) runtime_error("optimizer state: a parameter of the optimizer is not in the model");
      const std::string prefix = "optimizer." + nit->second + ".";
      auto* base = it->second.get();
      if (auto* s = dynamic_cast<torch::optim::AdamWParamState*>(base)) {
        out.emplace_back(prefix + "exp_avg", cpu_copy(s->exp_avg()));
        out.emplace_back(prefix + "exp_avg_sq", cpu_copy(s->exp_avg_sq()));
        if (s->max_exp_avg_sq().defined()) out.emplace_back(prefix + "max_exp_avg_sq", cpu_copy(s->max_exp_avg_sq()));
        out.emplace_back(prefix + "step", scalar_i64(s->step()));
      } else if (auto* s = dynamic_cast<torch::optim::AdamParamState*>(base)) {
        out.emplace_back(prefix + "exp_avg", cpu_copy(s->exp_avg()));
        out.emplace_back(prefix + "exp_avg_sq", cpu_copy(s->exp_avg_sq()));
        if (s->max_exp_avg_sq().defined()) out.emplace_back(prefix + "max_exp_avg_sq", cpu_copy(s->max_exp_avg_sq()));
        out.emplace_back(prefix + "step", scalar_i64(s->step()));
      } else if (auto* s = dynamic_cast<torch::optim::SGDParamState*>(base)) {
        if (s->momentum_buffer().defined()) out.emplace_back(prefix + "momentum_buffer", cpu_copy(s->momentum_buffer()));
      } else {
        runtime_error("optimizer state: unsupported optimizer (expected AdamW, Adam or SGD)");
      }
    }
  }
  return out;
}

void load_optimizer_state(torch::optim::Optimizer& optimizer, torch::nn::Module& model,
                          const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                          const std::string& source) {
  std::map<std::string, torch::Tensor> given(tensors.begin(), tensors.end());
  const auto names = parameter_names(model);
  const bool adamw = dynamic_cast<torch::optim::AdamW*>(&optimizer) != nullptr;
  const bool adam = dynamic_cast<torch::optim::Adam*>(&optimizer) != nullptr;
  const bool sgd = dynamic_cast<torch::optim::SGD*>(&optimizer) != nullptr;
  if (!adamw && !adam && !sgd) runtime_error("optimizer state: unsupported optimizer (expected AdamW, Adam or SGD)");
  std::set<std::string> used;
  auto take = [&](const std::string& name, const torch::Tensor& like) -> torch::Tensor {
    auto it = given.find(name);
    if (it == given.end()) return {};
    if (like.defined() && it->second.sizes() != like.sizes())
      input_error(source + ": optimizer buffer " + name + " has shape " + c10::str(it->second.sizes()) +
                  ", expected " + c10::str(like.sizes()));
    used.insert(name);
    return like.defined() ? it->second.to(like.device(), like.scalar_type()).clone() : it->second;
  };
  auto& state = optimizer.state();
  state.clear();
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) {
      auto nit = names.find(p.unsafeGetTensorImpl());
      if (nit == names.end()) runtime_error("optimizer state: a parameter of the optimizer is not in the model");
      const std::string prefix = "optimizer." + nit->second + ".";
      if (adamw || adam) {
        auto exp_avg = take(prefix + "exp_avg", p);
        auto exp_avg_sq = take(prefix + "exp_avg_sq", p);
        auto max_sq = take(prefix + "max_exp_avg_sq", p);
        auto step = take(prefix + "step", torch::Tensor());
        if (!exp_avg.defined() && !exp_avg_sq.defined() && !step.defined()) continue;  // never stepped
        if (!exp_avg.defined() || !exp_avg_sq.defined() || !step.defined() || step.numel() != 1)
          input_error(source + ": optimizer state of " + nit->second +
                      " is incomplete (expected exp_avg, exp_avg_sq and step; was it written for another optimizer?)");
        const int64_t n = step.to(torch::kLong).item<int64_t>();
        if (adamw) {
          auto s = std::make_unique<torch::optim::AdamWParamState>();
          s->step(n);
          s->exp_avg(exp_avg);
          s->exp_avg_sq(exp_avg_sq);
          if (max_sq.defined()) s->max_exp_avg_sq(max_sq);
          state[state_key(state, p)] = std::move(s);
        } else {
          auto s = std::make_unique<torch::optim::AdamParamState>();
          s->step(n);
          s->exp_avg(exp_avg);
          s->exp_avg_sq(exp_avg_sq);
          if (max_sq.defined()) s->max_exp_avg_sq(max_sq);
          state[state_key(state, p)] = std::move(s);
        }
      } else {
        auto buf = take(prefix + "momentum_buffer", p);
        if (!buf.defined()) continue;
        auto s = std::make_unique<torch::optim::SGDParamState>();
        s->momentum_buffer(buf);
        state[state_key(state, p)] = std::move(s);
      }
    }
  }
  for (const auto& kv : given)
    if (!used.count(kv.first))
      input_error(source + ": optimizer state does not match: unexpected buffer " + kv.first +
                  " (was it written for another model or optimizer?)");
}

torch::Tensor cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state().clone();
}

void set_cpu_rng_state(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

std::string state_path_for(const std::string& weights_path) {
  const std::string ext = ".safetensors";
  if (weights_path.size() > ext.size() && weights_path.compare(weights_path.size() - ext.size(), ext.size(), ext) == 0)
    return weights_path.substr(0, weights_path.size() - ext.size()) + ".state" + ext;
  return weights_path + ".state";
}

void save_training_state(const std::string& path, const TrainingState& s) {
  std::map<std::string, std::string> meta;
  meta["format"] = "attncnn-state";
  meta["format_version"] = std::to_string(kTrainingStateVersion);
  meta["epoch"] = std::to_string(s.epoch);
  meta["batch"] = std::to_string(s.batch);
  meta["step"] = std::to_string(s.step);
  meta["batch_size"] = std::to_string(s.batch_size);
  meta["steps_per_epoch"] = std::to_string(s.steps_per_epoch);
  meta["optimizer"] = s.optimizer;
  meta["best_top1"] = nlohmann::json(s.best_top1).dump();
  meta["best_epoch"] = std::to_string(s.best_epoch);
  meta["partial"] = nlohmann::json{{"loss_sum", s.partial_loss_sum},
                                   {"correct", s.partial_correct},
                                   {"seen", s.partial_seen},
                                   {"seconds", s.partial_seconds}}
                        .dump();
  meta["history"] = "[" + [&] {
    // metrics_jsonl gives one object per line; a JSON array of them reads back with parse_metrics.
    std::string lines = metrics_jsonl(s.history), joined;
    std::stringstream ss(lines);
    std::string line;
    while (std::getline(ss, line))
      if (!line.empty()) joined += (joined.empty() ? "" : ",") + line;
    return joined;
  }() + "]";
  auto tensors = s.optimizer_tensors;
  for (const auto& kv : s.extra_tensors) {
    if (kv.first.rfind("extra.", 0) != 0)
      runtime_error("save_training_state: extra tensor '" + kv.first + "' must be named extra.<name>.<tensor>");
    tensors.push_back(kv);
  }
  if (s.rng_cpu.defined()) tensors.emplace_back("rng.cpu", s.rng_cpu);
  if (s.rng_cuda.defined()) tensors.emplace_back("rng.cuda", s.rng_cuda);
  save_safetensors(path, tensors, meta);
}

TrainingState load_training_state(const std::string& path) {
  auto st = load_safetensors(path);
  auto get = [&](const char* key) -> const std::string& {
    auto it = st.metadata.find(key);
    if (it == st.metadata.end()) input_error(path + ": not an attncnn training state: metadata '" + key + "' is missing");
    return it->second;
  };
  if (get("format") != "attncnn-state")
    input_error(path + ": not an attncnn training state (format '" + get("format") + "')");
  TrainingState s;
  try {
    const int version = std::stoi(get("format_version"));
    if (version < 1 || version > kTrainingStateVersion)
      input_error(path + ": training state version " + std::to_string(version) +
                  " is not supported (this build reads 1 to " + std::to_string(kTrainingStateVersion) + ")");
    s.epoch = std::stoll(get("epoch"));
    s.batch = std::stoll(get("batch"));
    s.step = std::stoll(get("step"));
    s.batch_size = std::stoll(get("batch_size"));
    s.steps_per_epoch = std::stoll(get("steps_per_epoch"));
    s.optimizer = get("optimizer");
    s.best_top1 = nlohmann::json::parse(get("best_top1")).get<double>();
    s.best_epoch = std::stoll(get("best_epoch"));
    auto partial = nlohmann::json::parse(get("partial"));
    s.partial_loss_sum = partial.at("loss_sum").get<double>();
    s.partial_correct = partial.at("correct").get<int64_t>();
    s.partial_seen = partial.at("seen").get<int64_t>();
    s.partial_seconds = partial.at("seconds").get<double>();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    input_error(path + ": malformed training state metadata: " + e.what());
  }
  s.history = parse_metrics(get("history"), path + " (history)");
  for (auto& kv : st.tensors) {
    if (kv.first == "rng.cpu") s.rng_cpu = kv.second;
    else if (kv.first == "rng.cuda") s.rng_cuda = kv.second;
    else if (kv.first.rfind("optimizer.", 0) == 0) s.optimizer_tensors.push_back(kv);
    else if (kv.first.rfind("extra.", 0) == 0) s.extra_tensors.push_back(kv);
    else input_error(path + ": unexpected tensor '" + kv.first + "' in a training state");
  }
  return s;
}

void save_resumable_checkpoint(const std::string& weights_path, torch::nn::Module& model, const CheckpointInfo& info,
                               const TrainingState& state) {
  if (state.step != info.step)
    runtime_error("save_resumable_checkpoint: state step " + std::to_string(state.step) + " != weights step " +
                  std::to_string(info.step));
  const std::string sp = state_path_for(weights_path);
  // Order matters: until the new weights are in place, the old weights' state must stay on disk (as .prev).
  if (exists(sp) && std::rename(sp.c_str(), (sp + ".prev").c_str()) != 0)
    runtime_error(sp + ": cannot rename to " + sp + ".prev (" + std::strerror(errno) + ")");
  save_training_state(sp, state);
  save_checkpoint(weights_path, model, info);
}

TrainingState load_matching_state(const std::string& weights_path, const CheckpointInfo& info) {
  const std::string sp = state_path_for(weights_path);
  std::string seen;
  for (const std::string& p : {sp, sp + ".prev"}) {
    if (!exists(p)) continue;
    auto s = load_training_state(p);
    if (s.step == info.step && s.epoch == info.epoch) return s;
    seen += (seen.empty() ? "" : ", ") + p + " is at step " + std::to_string(s.step);
  }
  if (seen.empty())
    input_error(weights_path + ": no training state beside it (expected " + sp +
                "); it can be evaluated or fine-tuned but not resumed");
  input_error(weights_path + " is at step " + std::to_string(info.step) + " but " + seen +
              ": no matching training state to resume from");
}

}  // namespace attncnn
