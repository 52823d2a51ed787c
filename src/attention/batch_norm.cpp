#include <attncnn/attention/batch_norm.h>

#include <torch/torch.h>

#include <mutex>

namespace attncnn {

namespace {

std::mutex g_mu;
GatherRows g_gather;

GatherRows current_gather() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_gather;
}

torch::Tensor per_channel(const torch::Tensor& v) { return v.view({1, -1, 1, 1}); }

// y = (x − μ)·σ⁻¹·w + b with μ, σ² over the global batch. Statistics in double, the activation maths in float.
struct SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, torch::Tensor running_mean,
                               torch::Tensor running_var, double momentum, double eps) {
    const GatherRows gather = current_gather();
    const int64_t c = x.size(1);
    auto xf = x.to(torch::kFloat);
    auto var_mean = torch::var_mean(xf, {0, 2, 3}, /*unbiased=*/false);
    const double n_local = static_cast<double>(x.numel() / std::max<int64_t>(c, 1));
    auto row = torch::cat({torch::full({1}, n_local, xf.options().dtype(torch::kDouble)),
                           std::get<1>(var_mean).to(torch::kDouble), std::get<0>(var_mean).to(torch::kDouble)});
    auto rows = gather(row);  // world × (1 + 2C)
    auto n_r = rows.select(1, 0).unsqueeze(1), mean_r = rows.narrow(1, 1, c), var_r = rows.narrow(1, 1 + c, c);
    auto n = n_r.sum();
    auto mean = (n_r * mean_r).sum(0) / n;
    auto var = (n_r * (var_r + (mean_r - mean).pow(2))).sum(0) / n;
    auto invstd = (var + eps).rsqrt();
    {
      torch::NoGradGuard no_grad;
      if (running_mean.defined()) {
        running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype()), momentum);
        running_var.mul_(1 - momentum).add_((var * n / (n - 1).clamp_min(1)).to(running_var.dtype()), momentum);
      }
    }
    auto meanf = mean.to(torch::kFloat), invstdf = invstd.to(torch::kFloat);
    auto scale = weight.defined() ? invstdf * weight.to(torch::kFloat) : invstdf;
    auto y = (xf - per_channel(meanf)) * per_channel(scale);
    if (bias.defined()) y = y + per_channel(bias.to(torch::kFloat));
    ctx->save_for_backward({x, weight, meanf, invstdf});
    ctx->saved_data["n"] = n.item<double>();
    ctx->saved_data["has_bias"] = bias.defined();
    return y.to(x.scalar_type());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3];
    const double n = ctx->saved_data["n"].toDouble();
    const int64_t c = x.size(1);
    auto g = grads[0].to(torch::kFloat);
    auto xhat = (x.to(torch::kFloat) - per_channel(mean)) * per_channel(invstd);
    auto sum_dy = g.sum({0, 2, 3}), sum_dy_xhat = (g * xhat).sum({0, 2, 3});
    // The input's gradient needs both sums over the global batch; the weight's and bias's stay this rank's own
    // (data-parallel training averages them with every other gradient).
    auto rows = current_gather()(torch::cat({sum_dy, sum_dy_xhat}).to(torch::kDouble)).sum(0).to(torch::kFloat);
    auto mean_dy = rows.narrow(0, 0, c) / n, mean_dy_xhat = rows.narrow(0, c, c) / n;
    auto scale = weight.defined() ? invstd * weight.to(torch::kFloat) : invstd;
    auto gx = (g - per_channel(mean_dy) - xhat * per_channel(mean_dy_xhat)) * per_channel(scale);
    torch::Tensor gw, gb;
    if (weight.defined()) gw = (sum_dy_xhat).to(weight.scalar_type());
    if (ctx->saved_data["has_bias"].toBool()) gb = sum_dy.to(weight.defined() ? weight.scalar_type() : torch::kFloat);
    return {gx.to(x.scalar_type()), gw, gb, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

void set_batch_norm_sync(GatherRows gather) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_gather = std::move(gather);
}

bool batch_norm_sync_enabled() { return static_cast<bool>(current_gather()); }

BatchNorm2dImpl::BatchNorm2dImpl(const torch::nn::BatchNormOptions& options) : options(options) { reset(); }

void BatchNorm2dImpl::reset() {
  const int64_t c = options.num_features();
  if (options.affine()) {
    weight = register_parameter("weight", torch::empty({c}));
    bias = register_parameter("bias", torch::empty({c}));
  } else {
    weight = register_parameter("weight", torch::Tensor(), /*requires_grad=*/false);
    bias = register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", torch::zeros({c}));
    running_var = register_buffer("running_var", torch::ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::tensor(0, torch::dtype(torch::kLong)));
  } else {
    running_mean = register_buffer("running_mean", torch::Tensor());
    running_var = register_buffer("running_var", torch::Tensor());
    num_batches_tracked = register_buffer("num_batches_tracked", torch::Tensor());
  }
  reset_parameters();
}

void BatchNorm2dImpl::reset_running_stats() {
  if (!options.track_running_stats()) return;
  running_mean.zero_();
  running_var.fill_(1);
  num_batches_tracked.zero_();
}

void BatchNorm2dImpl::reset_parameters() {
  reset_running_stats();
  if (options.affine()) {
    torch::nn::init::ones_(weight);
    torch::nn::init::zeros_(bias);
  }
}

void BatchNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "attncnn::BatchNorm2d(" << options.num_features() << ", eps=" << options.eps()
         << ", momentum=" << (options.momentum() ? std::to_string(*options.momentum()) : std::string("None"))
         << ", affine=" << (options.affine() ? "true" : "false")
         << ", track_running_stats=" << (options.track_running_stats() ? "true" : "false") << ")";
}

torch::Tensor BatchNorm2dImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "BatchNorm2d: expected N×C×H×W input, got ", x.sizes());
  TORCH_CHECK(x.size(1) == options.num_features(), "BatchNorm2d: expected ", options.num_features(),
              " channels, got ", x.size(1));
  // libtorch's update rule: the momentum, or the cumulative average when it is unset.
  double momentum = options.momentum().value_or(0.0);
  if (is_training() && options.track_running_stats() && num_batches_tracked.defined()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
    if (!options.momentum()) momentum = 1.0 / num_batches_tracked.item<double>();
  }
  if (!is_training() || !batch_norm_sync_enabled())
    return torch::batch_norm(x, weight, bias, running_mean, running_var,
                             is_training() || !options.track_running_stats(), momentum, options.eps(),
                             at::globalContext().userEnabledCuDNN());
  return SyncBatchNormFunction::apply(x, weight, bias, options.track_running_stats() ? running_mean : torch::Tensor(),
                                      options.track_running_stats() ? running_var : torch::Tensor(), momentum,
                                      options.eps());
}

}  // namespace attncnn
