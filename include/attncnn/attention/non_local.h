#pragma once
/// `nl`: non-local attention, embedded Gaussian (Wang et al. 2018), as timm's NonLocalAttn.
///
///   θ = t(x), φ = p(x), g = g(x)           1×1 convs C → rd with bias, flattened to N×rd×HW
///   A = softmax over keys j of (θ_iᵀ φ_j · scale)        scale = C^-½ with use_scale (C the input channels, as timm)
///   y = x + norm(z(Σ_j A_ij g_j))          z: 1×1 conv rd → C with bias; norm: BatchNorm(C)
///
/// rd = make_divisible(C·rd_ratio, rd_divisor) with timm's rd_ratio 1/8 and divisor 8 (the paper uses C/2).
/// As timm, the convs start Kaiming-normal (fan_out) with zero biases and norm starts with weight = bias = 0, so a
/// fresh module is the identity. Input N×C×H×W, output N×C×H×W; memory grows as (H·W)².
/// Recorded maps: "spatial", N×1×H×W, the attention row of the centre query (row H/2, column W/2): where the centre
/// looks; "queries", N×5×H×W, the rows of the centre and of the four quadrant centres (H/4 or 3H/4, W/4 or 3W/4).
/// Throws c10::Error (TORCH_CHECK) on an input of the wrong rank or channel count and on invalid options;
/// create_attention() reports bad options as attncnn::Error (input) before building.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/base.h>
#include <torch/arg.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attncnn {

struct NonLocalOptions {
  explicit NonLocalOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(bool, use_scale) = true;
  TORCH_ARG(double, rd_ratio) = 1.0 / 8;
  TORCH_ARG(int64_t, rd_channels) = 0;
  TORCH_ARG(int64_t, rd_divisor) = 8;
};

class NonLocalImpl : public AttentionImpl {
 public:
  explicit NonLocalImpl(const NonLocalOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;
  void reset_parameters();

  NonLocalOptions options;
  double scale;
  torch::nn::Conv2d t{nullptr}, p{nullptr}, g{nullptr}, z{nullptr};
  BatchNorm2d norm{nullptr};
};
TORCH_MODULE(NonLocal);

}  // namespace attncnn
