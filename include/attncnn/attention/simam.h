#pragma once
/// `simam`: SimAM, the parameter-free energy attention of Yang et al. 2021. Not in timm.
///
///   per image and channel, over the n = H·W - 1 other positions:
///   d_i = (x_i - mean)²,  v = Σ_i d_i / n,  e_i = d_i / (4 (v + λ)) + ½,  y_i = x_i · σ(e_i)
///
/// λ = 1e-4 (option `lambda`). Input N×C×H×W, output N×C×H×W; no parameters. With H·W = 1 the variance uses n = 1
/// instead of dividing by zero.
/// Recorded map: "spatial", N×1×H×W, σ(e) averaged over channels.
/// Throws c10::Error (TORCH_CHECK) on an input of the wrong rank or channel count and on invalid options;
/// create_attention() reports bad options as attncnn::Error (input) before building.
#include <attncnn/attention/base.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

namespace attncnn {

struct SimAMOptions {
  SimAMOptions() = default;
  TORCH_ARG(double, lambda) = 1e-4;
};

class SimAMImpl : public AttentionImpl {
 public:
  explicit SimAMImpl(const SimAMOptions& options = {});
  torch::Tensor forward(const torch::Tensor& x) override;
  SimAMOptions options;
};
TORCH_MODULE(SimAM);

}  // namespace attncnn
