// Multi-tensor SGD and AdamW: the stock libtorch update, one foreach kernel per stage for a whole group.
#include <attncnn/train/optim.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "optim_state_key.h"

namespace attncnn {

namespace {

using detail::state_key;

struct Bucket {
  std::vector<torch::Tensor> params, grads;
};

// The parameters of a group that have a gradient, split by device and dtype: a foreach call takes lists of one
// device (and runs its fused kernel only for one dtype). Order within a bucket is the group's order.
std::vector<Bucket> buckets(const std::vector<torch::Tensor>& params) {
  std::vector<Bucket> out;
  for (const auto& p : params) {
    const auto& g = p.grad();
    if (!g.defined()) continue;
    TORCH_CHECK(!g.is_sparse(), "foreach optimizers do not support sparse gradients");
    auto it = std::find_if(out.begin(), out.end(), [&](const Bucket& b) {
      return b.params[0].device() == p.device() && b.params[0].scalar_type() == p.scalar_type();
    });
    if (it == out.end()) it = out.insert(out.end(), Bucket{});
    it->params.push_back(p);
    it->grads.push_back(g);
  }
  return out;
}

// The loss of an optional closure, evaluated with gradients on (as the base classes do before their update).
torch::Tensor evaluate_closure(const torch::optim::Optimizer::LossClosure& closure) {
  if (closure == nullptr) return {};
  at::AutoGradMode enable_grad(true);
  return closure();
}

}  // namespace

torch::Tensor ForeachSGD::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss = evaluate_closure(closure);
  auto& st = state();
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
    for (auto& b : buckets(group.params())) {
      // Weight decay makes new tensors: the gradients themselves are left as they are, as in the base class.
      auto d_p = o.weight_decay() != 0 ? at::_foreach_add(b.grads, b.params, o.weight_decay()) : b.grads;
      if (o.momentum() != 0) {
        // A buffer starts as a copy of the first d_p (no dampening); later steps decay it and add d_p.
        std::vector<torch::Tensor> bufs, decayed, decayed_d_p;
        for (size_t i = 0; i < b.params.size(); ++i) {
          auto& slot = st[state_key(st, b.params[i])];
          if (!slot) slot = std::make_unique<torch::optim::SGDParamState>();
          auto& s = static_cast<torch::optim::SGDParamState&>(*slot);
          if (!s.momentum_buffer().defined()) {
            s.momentum_buffer(torch::clone(d_p[i]).detach());
          } else {
            decayed.push_back(s.momentum_buffer());
            decayed_d_p.push_back(d_p[i]);
          }
          bufs.push_back(s.momentum_buffer());
        }
        if (!decayed.empty()) {
          at::_foreach_mul_(decayed, o.momentum());
          at::_foreach_add_(decayed, decayed_d_p, 1 - o.dampening());
        }
        d_p = o.nesterov() ? at::_foreach_add(d_p, bufs, o.momentum()) : bufs;
      }
      at::_foreach_add_(b.params, d_p, -1 * o.lr());
    }
  }
  return loss;
}

torch::Tensor ForeachAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss = evaluate_closure(closure);
  auto& st = state();
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (auto& b : buckets(group.params())) {
      if (o.weight_decay() != 0) at::_foreach_mul_(b.params, 1 - o.lr() * o.weight_decay());
      std::vector<torch::Tensor> exp_avg, exp_avg_sq, max_exp_avg_sq;
      // Per parameter: the step counts of a group can differ (a parameter without a gradient in some steps).
      std::vector<at::Scalar> sqrt_bc2, neg_step_size;
      for (const auto& p : b.params) {
        auto& slot = st[state_key(st, p)];
        if (!slot) {
          auto s = std::make_unique<torch::optim::AdamWParamState>();
          s->step(0);
          s->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
          s->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
          slot = std::move(s);
        }
        auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
        if (o.amsgrad() && !s.max_exp_avg_sq().defined())
          s.max_exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
        s.step(s.step() + 1);
        const double bias_correction1 = 1 - std::pow(beta1, s.step());
        const double bias_correction2 = 1 - std::pow(beta2, s.step());
        sqrt_bc2.emplace_back(std::sqrt(bias_correction2));
        neg_step_size.emplace_back(-(o.lr() / bias_correction1));
        exp_avg.push_back(s.exp_avg());
        exp_avg_sq.push_back(s.exp_avg_sq());
        if (o.amsgrad()) max_exp_avg_sq.push_back(s.max_exp_avg_sq());
      }
      at::_foreach_mul_(exp_avg, beta1);
      at::_foreach_add_(exp_avg, b.grads, 1 - beta1);
      at::_foreach_mul_(exp_avg_sq, beta2);
      at::_foreach_addcmul_(exp_avg_sq, b.grads, b.grads, 1 - beta2);
      if (o.amsgrad()) at::_foreach_maximum_(max_exp_avg_sq, exp_avg_sq);
      // denom = sqrt(v) / sqrt(bias_correction2) + eps, in that order, as the base class computes it.
      auto denom = at::_foreach_sqrt(o.amsgrad() ? max_exp_avg_sq : exp_avg_sq);
      at::_foreach_div_(denom, sqrt_bc2);
      at::_foreach_add_(denom, o.eps());
      at::_foreach_addcdiv_(b.params, exp_avg, denom, neg_step_size);
    }
  }
  return loss;
}

}  // namespace attncnn
