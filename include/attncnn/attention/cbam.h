#pragma once
/// `cbam` and `lcbam`: convolutional block attention (Woo et al. 2018), as timm's CbamModule and LightCbamModule.
///
///   cbam, channel part:  a_c = σ(fc2(relu(fc1(mean_hw x))) + fc2(relu(fc1(max_hw x))));   x' = x ⊙ a_c
///   cbam, spatial part:  a_s = σ(bn(conv_k([mean_c x'; max_c x'])));                      y  = x' ⊙ a_s
///   lcbam ("light"):     a_c = σ(fc2(relu(fc1(½ mean_hw x + ½ max_hw x))));
///                        a_s = σ(bn(conv_k(½ mean_c x' + ½ max_c x')))                  (one input map)
///   fc1: 1×1 conv C → rd, fc2: rd → C, no bias (mlp_bias); rd = make_divisible(C·rd_ratio, rd_divisor), 1/16 and 1.
///   conv_k: k×k conv (spatial_kernel_size, default 7, padding k/2, no bias) + BatchNorm, no activation.
///
/// Input N×C×H×W, output N×C×H×W. state_dict keys as timm: `channel.fc1.weight`, `channel.fc2.weight`,
/// `spatial.conv.conv.weight`, `spatial.conv.bn.{weight,bias,running_mean,running_var,num_batches_tracked}`.
/// Recorded maps: "channel", N×C, a_c; "spatial", N×1×H×W, a_s.
/// Throws c10::Error (TORCH_CHECK) on an input of the wrong rank or channel count and on invalid options;
/// create_attention() reports bad options as attncnn::Error (input) before building.
#include <attncnn/attention/base.h>
#include <attncnn/attention/layers.h>
#include <torch/arg.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attncnn {

struct CbamOptions {
  explicit CbamOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(double, rd_ratio) = 1.0 / 16;
  TORCH_ARG(int64_t, rd_channels) = 0;
  TORCH_ARG(int64_t, rd_divisor) = 1;
  TORCH_ARG(int64_t, spatial_kernel_size) = 7;
  TORCH_ARG(bool, mlp_bias) = false;
  /// lcbam: average and max are summed before the MLP and before the spatial conv.
  TORCH_ARG(bool, light) = false;
};

/// The channel part (timm's ChannelAttn / LightChannelAttn); returns the gate N×C×1×1.
class CbamChannelImpl : public torch::nn::Module {
 public:
  CbamChannelImpl(int64_t channels, int64_t rd, bool bias, bool light);
  torch::Tensor gate(const torch::Tensor& x);
  bool light;
  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(CbamChannel);

/// The spatial part (timm's SpatialAttn / LightSpatialAttn); returns the gate N×1×H×W.
class CbamSpatialImpl : public torch::nn::Module {
 public:
  CbamSpatialImpl(int64_t kernel_size, bool light);
  torch::Tensor gate(const torch::Tensor& x);
  bool light;
  ConvNormAct conv{nullptr};
};
TORCH_MODULE(CbamSpatial);

class CbamImpl : public AttentionImpl {
 public:
  explicit CbamImpl(const CbamOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;

  CbamOptions options;
  CbamChannel channel{nullptr};
  CbamSpatial spatial{nullptr};
};
TORCH_MODULE(Cbam);

}  // namespace attncnn
