#pragma once
/// Multi-tensor (foreach) versions of libtorch's SGD and AdamW. The stock C++ optimizers update one parameter at a
/// time, several kernel launches per parameter per step; these update all parameters of a param group that share
/// a device and dtype with one `at::_foreach_*` call per stage of the formula, as PyTorch's Python optimizers do.
///
/// They are drop-in subclasses: same options, param groups and per-parameter state (SGDParamState,
/// AdamWParamState) under the same keys in `state()`, so optimizer_state() / load_optimizer_state(), save() and
/// load() work on them unchanged, and a run may switch between stock and foreach at a resume. The update is the
/// stock one, formula for formula (SGD: coupled weight decay, dampening, nesterov; AdamW: decoupled decay
/// p *= 1 - lr*wd, bias corrections, eps added to sqrt(v)/sqrt(bc2)); results agree to rounding.
///
///   attncnn::ForeachAdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(0.05));
///   loss.backward();
///   opt.step();
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <string>

namespace attncnn {

/// torch::optim::SGD whose step() updates the parameters of each group together. Parameters without a gradient
/// are skipped and get no state, as in the base class.
class ForeachSGD : public torch::optim::SGD {
 public:
  using torch::optim::SGD::SGD;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

/// torch::optim::AdamW whose step() updates the parameters of each group together. Parameters of a group may be
/// at different step counts (their bias corrections are per parameter). amsgrad is supported.
class ForeachAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

/// Clips the gradients of `model`'s parameters in place, as timm's --clip-grad / --clip-mode do:
/// "norm": scales all gradients by min(1, threshold / (‖g‖₂ + 1e-6)), ‖g‖₂ over every gradient together;
/// "value": clamps each element to [−threshold, threshold];
/// "agc": adaptive clipping per output unit (row of a weight): a unit whose gradient norm exceeds
///        threshold · max(‖w‖₂, 1e-3) is scaled down to it.
/// Stays on the parameters' device (no host synchronisation). Throws (input error) for another mode.
void clip_gradients(torch::nn::Module& model, double threshold, const std::string& mode);

}  // namespace attncnn
