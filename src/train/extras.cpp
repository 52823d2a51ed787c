#include <attncnn/error.h>
#include <attncnn/models/checkpoint.h>
#include <attncnn/train/extras.h>

#include <torch/torch.h>

#include <cmath>
#include <map>

namespace attncnn {

namespace {

// The module's state_dict, detached (sharing storage, so writes reach the module); optionally floating point only.
NamedTensors named_state(torch::nn::Module& m, bool floating_only) {
  NamedTensors out;
  for (const auto& kv : state_dict(m))
    if (!floating_only || kv.second.is_floating_point()) out.emplace_back(kv.first, kv.second.detach());
  return out;
}

// Copies `from` into `into` by name: every name of `into` must be present with its shape. (Lookahead's slow copy
// is not a module, so load_state_dict cannot serve it.)
void copy_named(const NamedTensors& into, const NamedTensors& from, const std::string& what,
                const std::string& source) {
  std::map<std::string, const torch::Tensor*> by_name;
  for (const auto& kv : from) by_name[kv.first] = &kv.second;
  torch::NoGradGuard no_grad;
  for (const auto& kv : into) {
    auto it = by_name.find(kv.first);
    if (it == by_name.end()) input_error(source + ": " + what + " tensor '" + kv.first + "' is missing");
    if (it->second->sizes() != kv.second.sizes())
      input_error(source + ": " + what + " tensor '" + kv.first + "' has shape " + c10::str(it->second->sizes()) +
                  ", expected " + c10::str(kv.second.sizes()));
    kv.second.copy_(*it->second);
  }
  if (by_name.size() != into.size())
    input_error(source + ": " + what + " holds " + std::to_string(by_name.size()) + " tensors, expected " +
                std::to_string(into.size()));
}

NamedTensors cpu_copies(const NamedTensors& ts) {
  NamedTensors out;
  for (const auto& kv : ts) out.emplace_back(kv.first, kv.second.detach().to(torch::kCPU).clone());
  return out;
}

std::vector<torch::Tensor> values(const NamedTensors& ts) {
  std::vector<torch::Tensor> v;
  for (const auto& kv : ts) v.push_back(kv.second);
  return v;
}

class Lookahead final : public TrainExtra {
 public:
  Lookahead(torch::nn::Module& model, int64_t k, double decay) : k_(k), decay_(decay) {
    fast_ = named_state(model, /*floating_only=*/true);
    for (const auto& kv : fast_) slow_.emplace_back(kv.first, kv.second.clone());
    fast_v_ = values(fast_);
    slow_v_ = values(slow_);
  }
  std::string name() const override { return "lookahead"; }
  void after_step(int64_t step, int64_t total_steps) override {
    const bool last = step >= total_steps;
    if (step % k_ != 0 && !last) return;
    torch::NoGradGuard no_grad;
    const double t = static_cast<double>(step) / std::max<int64_t>(1, total_steps);
    const double alpha = last ? 0.0 : 1.0 - std::pow(decay_, static_cast<double>(k_)) * t * t * t;
    if (alpha > 0) {
      at::_foreach_mul_(slow_v_, 1.0 - alpha);
      at::_foreach_add_(slow_v_, fast_v_, alpha);
    }
    for (size_t i = 0; i < fast_v_.size(); ++i) fast_v_[i].copy_(slow_v_[i]);
  }
  NamedTensors state() const override { return cpu_copies(slow_); }
  void load_state(const NamedTensors& tensors, const std::string& source) override {
    copy_named(slow_, tensors, "lookahead", source);
  }

 private:
  int64_t k_;
  double decay_;
  NamedTensors fast_, slow_;
  std::vector<torch::Tensor> fast_v_, slow_v_;
};

class ModelEma final : public TrainExtra {
 public:
  ModelEma(ModelImpl& model, std::shared_ptr<ModelImpl> ema, const ModelEmaOptions& options)
      : ema_(std::move(ema)), options_(options) {
    if (!ema_) input_error("model EMA: no model instance given for the average");
    ema_->eval();
    for (auto& p : ema_->parameters()) p.set_requires_grad(false);
    const auto src = named_state(model, false);
    load_state_dict(*ema_, src, "model EMA (" + model.config().name + ")");
    // The same architecture lists its tensors in the same order: pair them by position for the foreach updates.
    const auto dst = named_state(*ema_, false);
    for (size_t i = 0; i < src.size(); ++i) {
      if (src[i].second.is_floating_point()) src_f_.push_back(src[i].second), dst_f_.push_back(dst[i].second);
      else src_i_.push_back(src[i].second), dst_i_.push_back(dst[i].second);
    }
  }
  std::string name() const override { return "ema"; }
  void after_step(int64_t step, int64_t /*total_steps*/) override {
    torch::NoGradGuard no_grad;
    const double d = model_ema_decay_at(options_, step);
    // ema + (1 − d)·(model − ema), written as two foreach calls (1.13 has no _foreach_lerp_).
    if (d == 0.0) {
      for (size_t i = 0; i < dst_f_.size(); ++i) dst_f_[i].copy_(src_f_[i]);
    } else {
      at::_foreach_mul_(dst_f_, d);
      at::_foreach_add_(dst_f_, src_f_, 1.0 - d);
    }
    for (size_t i = 0; i < dst_i_.size(); ++i) dst_i_[i].copy_(src_i_[i]);
  }
  NamedTensors state() const override { return cpu_copies(state_dict(*ema_)); }
  void load_state(const NamedTensors& tensors, const std::string& source) override {
    load_state_dict(*ema_, tensors, source + " (model EMA)");
  }
  ModelImpl* eval_model() override { return ema_.get(); }

 private:
  std::shared_ptr<ModelImpl> ema_;
  ModelEmaOptions options_;
  std::vector<torch::Tensor> src_f_, dst_f_, src_i_, dst_i_;
};

}  // namespace

std::unique_ptr<TrainExtra> make_lookahead(torch::nn::Module& model, int64_t k, double decay) {
  if (k < 1) input_error("--lookahead " + std::to_string(k) + ": expected 1 or more steps");
  return std::make_unique<Lookahead>(model, k, decay);
}

std::unique_ptr<TrainExtra> make_model_ema(ModelImpl& model, std::shared_ptr<ModelImpl> ema_model,
                                           const ModelEmaOptions& options) {
  if (!(options.decay >= 0 && options.decay < 1))
    input_error("--model-ema-decay " + std::to_string(options.decay) + ": expected [0, 1)");
  return std::make_unique<ModelEma>(model, std::move(ema_model), options);
}

double model_ema_decay_at(const ModelEmaOptions& options, int64_t step) {
  const int64_t s = step - 1;  // timm: the first update copies the weights
  if (s <= 0) return 0.0;
  if (!options.warmup) return options.decay;
  const double warm = 1.0 - std::pow(1.0 + static_cast<double>(s), -2.0 / 3.0);
  return std::max(0.0, std::min(warm, options.decay));
}

NamedTensors extras_state(const std::vector<std::unique_ptr<TrainExtra>>& extras) {
  NamedTensors out;
  for (const auto& e : extras)
    for (auto& kv : e->state()) out.emplace_back("extra." + e->name() + "." + kv.first, std::move(kv.second));
  return out;
}

void load_extras_state(const std::vector<std::unique_ptr<TrainExtra>>& extras, const NamedTensors& tensors,
                       const std::string& source) {
  std::map<std::string, NamedTensors> by_extra;
  for (const auto& kv : tensors) {
    const auto dot = kv.first.find('.', 6);
    if (kv.first.rfind("extra.", 0) != 0 || dot == std::string::npos)
      input_error(source + ": tensor '" + kv.first + "' is not named extra.<name>.<tensor>");
    by_extra[kv.first.substr(6, dot - 6)].emplace_back(kv.first.substr(dot + 1), kv.second);
  }
  for (const auto& e : extras) {
    auto it = by_extra.find(e->name());
    if (it == by_extra.end())
      input_error(source + ": holds no state for " + e->name() +
                  "; the run was saved without it, so it cannot be continued exactly (start a new run to add it)");
    e->load_state(it->second, source);
    by_extra.erase(it);
  }
  if (!by_extra.empty())
    input_error(source + ": holds state of " + by_extra.begin()->first +
                ", which this run's settings do not use; resume with the run's own settings");
}

}  // namespace attncnn
