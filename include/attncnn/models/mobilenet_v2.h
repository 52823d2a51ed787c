#pragma once
/// `mobilenet_v2` (Sandler et al. 2018), torchvision layout and names, width 1.0.
///
///   features.0      conv 3×3/2 (in → 32), BN, ReLU6                      (features.0.0, features.0.1)
///   features.1..17  inverted residuals (t, c, n, s) = (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1)
///                   (6,160,3,2) (6,320,1,1); each: [expand 1×1 conv-BN-ReLU6] (conv.0), depthwise 3×3 conv-BN-ReLU6,
///                   project 1×1 conv, BN; identity shortcut when stride 1 and width unchanged
///   features.18     conv 1×1 (320 → 1280), BN, ReLU6
///   global average pooling (or attnpool, `global_pool`), classifier.0 dropout (0.2), classifier.1 linear
///
/// 3,504,872 parameters with 1000 classes (as torchvision). The attention module (cfg.attn) of an inverted residual
/// sits after its depthwise conv-BN-ReLU6, on the expanded width, as `features.N.attn` (torchvision has none; timm's
/// EfficientNet-family blocks put SE there too).
/// model_params: stem=default|cifar (cifar: stride 1 in features.0 and in the first 24-channel block, so 32×32
/// inputs end at 4×4), dropout=0.2, attn_stages=1..7 (the seven (t, c, n, s) rows; default all), drop_path_rate=0
/// (stochastic depth on the projected branch of the blocks with an identity shortcut, before the addition, at
/// drop_path_rate · i / 16 for block i of features.1..17, as timm's ResNet grows it).
/// Input N×in_channels×H×W (H, W ≥ 32 with the default stem); output N×num_classes.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/base.h>
#include <attncnn/models/drop_path.h>
#include <attncnn/models/model.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

namespace attncnn {

/// torchvision's Conv2dNormActivation: conv (no bias) `0`, BN `1`, ReLU6 `2`. A Sequential with a plain forward,
/// so that it can sit inside another Sequential.
class ConvBNReLU6Impl : public torch::nn::SequentialImpl {
 public:
  ConvBNReLU6Impl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups = 1);
  torch::Tensor forward(const torch::Tensor& x) { return torch::nn::SequentialImpl::forward(x); }
};
TORCH_MODULE(ConvBNReLU6);

class InvertedResidualImpl : public torch::nn::Module {
 public:
  /// Input N×in×H×W, output N×out×⌈H/stride⌉×⌈W/stride⌉; `attn` reweights the in·expand_ratio hidden channels.
  /// `drop_path` in [0, 1): stochastic-depth rate of the branch, used only by a block with an identity shortcut.
  InvertedResidualImpl(int64_t in, int64_t out, int64_t stride, int64_t expand_ratio, Attention attn,
                       double drop_path = 0.0);
  torch::Tensor forward(const torch::Tensor& x);
  /// Whether the input is added to the output (stride 1 and in == out).
  bool has_residual() const { return residual_; }

  torch::nn::Sequential conv{nullptr};     ///< torchvision's `conv`: [expand], depthwise, project conv, BN
  ConvBNReLU6 expand{nullptr};   ///< conv.0 when expand_ratio != 1
  ConvBNReLU6 depthwise{nullptr};
  torch::nn::Conv2d project{nullptr};
  BatchNorm2d project_bn{nullptr};
  Attention attn;
  DropPath drop_path{nullptr};  ///< nullptr at rate 0 and in blocks without a shortcut

 private:
  bool residual_ = false;
};
TORCH_MODULE(InvertedResidual);

class MobileNetV2Impl : public ModelImpl {
 public:
  explicit MobileNetV2Impl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& x) override;
  /// The features before pooling: N×1280×H/32×W/32 (H/8 with stem=cifar).
  torch::Tensor forward_features(const torch::Tensor& x);
  const ModelConfig& config() const override { return cfg_; }

  torch::nn::Sequential features{nullptr};
  Attention global_pool;
  torch::nn::Sequential classifier{nullptr};

 private:
  ModelConfig cfg_;
};
TORCH_MODULE(MobileNetV2);

}  // namespace attncnn
