#pragma once
/// Training extras: things that run beside the optimizer after every step and keep state of their own in the
/// training checkpoint, so that a resumed run continues them exactly.
///
///   std::vector<std::unique_ptr<TrainExtra>> extras;
///   extras.push_back(make_model_ema(*model, create_model(model->config()), {0.9998, false}));
///   for (...) { optimizer.step(); ++step; for (auto& e : extras) e->after_step(step, total_steps); }
///   state.extra_tensors = extras_state(extras);         // saved as extra.<name>.<tensor>
///   load_extras_state(extras, state.extra_tensors, path);  // on resume
///
/// Adding an extra is a class implementing TrainExtra (name, after_step, state, load_state, and eval_model if it
/// holds weights of its own worth evaluating) and one line where the engine builds its list (src/train/engine.cpp).
#include <attncnn/models/model.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace attncnn {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

class TrainExtra {
 public:
  virtual ~TrainExtra() = default;
  /// A short identifier (letters, digits, '_'); its tensors are saved as `extra.<name>.<tensor>`.
  virtual std::string name() const = 0;
  /// Called after optimizer step number `step` (1-based, counted over the whole run) of `total_steps`.
  virtual void after_step(int64_t step, int64_t total_steps) = 0;
  /// The tensors that continue this extra exactly, named without the `extra.<name>.` prefix (the caller adds it).
  virtual NamedTensors state() const = 0;
  /// Restores what state() returned; throws (input error) naming `source` when a tensor is missing or misshapen.
  virtual void load_state(const NamedTensors& tensors, const std::string& source) = 0;
  /// A model of the extra's own to evaluate beside the trained one (the EMA weights); nullptr when it has none.
  virtual ModelImpl* eval_model() { return nullptr; }
};

/// Lookahead (slow weights): every k steps a slow copy of the parameters and floating-point buffers moves toward
/// the trained weights by alpha, and training continues from the slow copy. alpha is 1 (plain training) at the
/// start and falls as 1 − decay^k·(t/T)³ toward the end, so the last steps average over a longer stretch; at the
/// last step the model takes the slow weights.
std::unique_ptr<TrainExtra> make_lookahead(torch::nn::Module& model, int64_t k, double decay);

struct ModelEmaOptions {
  double decay = 0.9998;
  /// timm's warmup: decay = min(decay, 1 − (1 + s)^(−2/3)) for the s-th update after the first.
  bool warmup = false;
};

/// An exponential moving average of a model's weights, as timm's ModelEmaV3 keeps it: after every optimizer step
/// t (1-based) each floating-point parameter and buffer moves as ema ← ema + (1 − d)·(model − ema), with d = 0 at
/// the first step (the average starts as a copy) and options.decay after it (or the warmup value); integer buffers
/// are copied. `ema_model` is a second instance of the same architecture (create_model(model.config())) on the
/// model's device, in its memory format; it starts as a copy of `model` and is kept in eval mode.
std::unique_ptr<TrainExtra> make_model_ema(ModelImpl& model, std::shared_ptr<ModelImpl> ema_model,
                                           const ModelEmaOptions& options);

/// The decay the EMA applies at optimizer step `step` (1-based); a pure function of the options.
double model_ema_decay_at(const ModelEmaOptions& options, int64_t step);

/// Every extra's state as `extra.<name>.<tensor>` CPU tensors, for TrainingState::extra_tensors.
NamedTensors extras_state(const std::vector<std::unique_ptr<TrainExtra>>& extras);
/// Gives each extra its tensors from `tensors` (named as extras_state() names them). Throws (input error) naming
/// `source` when an extra's tensors are missing (a run saved without that extra cannot continue it exactly) or when
/// tensors of an extra this run does not have are present.
void load_extras_state(const std::vector<std::unique_ptr<TrainExtra>>& extras, const NamedTensors& tensors,
                       const std::string& source);

}  // namespace attncnn
