#pragma once
/// `bam`: bottleneck attention module (Park et al. 2018). Not in timm; built as the paper describes.
///
///   channel branch: Mc = fc2(relu(bn(fc1(mean_hw x))))          fc1: 1×1 conv C → rd (bias), bn: BatchNorm(rd),
///                                                                fc2: 1×1 conv rd → C (bias); N×C×1×1
///   spatial branch: Ms = bn(proj(conv2(conv1(reduce(x)))))       reduce: 1×1 C → rd + BN + ReLU,
///                                                                conv1, conv2: 3×3, dilation d, padding d, + BN + ReLU,
///                                                                proj: 1×1 rd → 1 (bias), bn: BatchNorm(1); N×1×H×W
///   a = σ(Mc + Ms)  (broadcast to N×C×H×W);   y = x + x ⊙ a
///
/// rd = make_divisible(C·rd_ratio, rd_divisor) with rd_ratio 1/16 (r = 16) and divisor 1; dilation 4 (the paper's).
/// Input N×C×H×W, output N×C×H×W. In training mode the channel branch's BatchNorm needs more than one image.
/// state_dict: `channel.fc1.*`, `channel.bn.*`, `channel.fc2.*`, `spatial.reduce.{conv,bn}.*`,
/// `spatial.conv1.{conv,bn}.*`, `spatial.conv2.{conv,bn}.*`, `spatial.proj.*`, `spatial.bn.*`.
/// Recorded maps: "spatial", N×1×H×W, a averaged over channels; "channel", N×C, a averaged over positions.
/// Throws c10::Error (TORCH_CHECK) on an input of the wrong rank or channel count and on invalid options;
/// create_attention() reports bad options as attncnn::Error (input) before building.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/base.h>
#include <attncnn/attention/layers.h>
#include <torch/arg.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attncnn {

struct BamOptions {
  explicit BamOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(double, rd_ratio) = 1.0 / 16;
  TORCH_ARG(int64_t, rd_channels) = 0;
  TORCH_ARG(int64_t, rd_divisor) = 1;
  TORCH_ARG(int64_t, dilation) = 4;
};

class BamChannelImpl : public torch::nn::Module {
 public:
  BamChannelImpl(int64_t channels, int64_t rd);
  torch::Tensor forward(const torch::Tensor& x);  ///< Mc, N×C×1×1
  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
  BatchNorm2d bn{nullptr};
};
TORCH_MODULE(BamChannel);

class BamSpatialImpl : public torch::nn::Module {
 public:
  BamSpatialImpl(int64_t channels, int64_t rd, int64_t dilation);
  torch::Tensor forward(const torch::Tensor& x);  ///< Ms, N×1×H×W
  ConvNormAct reduce{nullptr}, conv1{nullptr}, conv2{nullptr};
  torch::nn::Conv2d proj{nullptr};
  BatchNorm2d bn{nullptr};
};
TORCH_MODULE(BamSpatial);

class BamImpl : public AttentionImpl {
 public:
  explicit BamImpl(const BamOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;

  BamOptions options;
  BamChannel channel{nullptr};
  BamSpatial spatial{nullptr};
};
TORCH_MODULE(Bam);

}  // namespace attncnn
