#pragma once
/// Pre-activation ResNets (He et al. 2016, "Identity Mappings in Deep Residual Networks"), CIFAR layout:
/// `preact_resnet18`, and the pre-activation block that the wide ResNets (wide_resnet.h) share.
///
///   conv1 3×3 (in → 64)
///   layer1..layer4: 2 PreActBlocks each, 64/128/256/512 channels, strides 1/2/2/2
///   bn, ReLU (the final activation of the paper's full pre-activation design), global average pooling
///   (or attnpool, `global_pool`), fc
///
/// The attention module of a block (cfg.attn) sits after the block's last conv, before the addition, as
/// `layerX.Y.attn`. model_params: attn_stages=1,2,3,4 (default all), drop_path_rate=0 (stochastic depth on each
/// block's residual branch, after attn and before the addition, growing linearly over the blocks from 0 to the rate,
/// as timm's ResNet).
/// Input N×in_channels×H×W, any H, W ≥ 1 (designed for 32×32); output N×num_classes.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/base.h>
#include <attncnn/models/drop_path.h>
#include <attncnn/models/model.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

namespace attncnn {

/// bn1, ReLU, conv1 3×3/stride, bn2, ReLU, [dropout], conv2 3×3, attn, drop_path, + shortcut. Where the shape
/// changes the shortcut is a 1×1/stride conv (`shortcut`, no bias, no BN) applied to the pre-activated input
/// relu(bn1(x)), as in the papers' code. Input N×in×H×W, output N×out×⌈H/stride⌉×⌈W/stride⌉.
class PreActBlockImpl : public torch::nn::Module {
 public:
  /// `drop_path` in [0, 1): stochastic-depth rate of the residual branch (0: no DropPath module).
  PreActBlockImpl(int64_t in, int64_t out, int64_t stride, double dropout, Attention attn, double drop_path = 0.0);
  torch::Tensor forward(const torch::Tensor& x);

  BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  Attention attn;                           ///< nullptr for none
  torch::nn::Conv2d shortcut{nullptr};      ///< nullptr for the identity
  DropPath drop_path{nullptr};              ///< nullptr at rate 0

 private:
  double dropout_ = 0;
};
TORCH_MODULE(PreActBlock);

/// A pre-activation ResNet: stem conv, stages of PreActBlocks, final BN-ReLU, pooling, fc. Shared by
/// preact_resnet18 and the wide ResNets.
class PreActResNetImpl : public ModelImpl {
 public:
  /// `widths` and `blocks` per stage; the first stage has stride 1, the others 2. `stem` is the stem conv's width.
  PreActResNetImpl(const ModelConfig& cfg, int64_t stem, std::vector<int64_t> widths, std::vector<int64_t> blocks,
                   double dropout);
  torch::Tensor forward(const torch::Tensor& x) override;
  /// The features before pooling (after the final BN-ReLU).
  torch::Tensor forward_features(const torch::Tensor& x);
  const ModelConfig& config() const override { return cfg_; }

  torch::nn::Conv2d conv1{nullptr};
  std::vector<torch::nn::Sequential> layers;  ///< registered as layer1, layer2, …
  BatchNorm2d bn{nullptr};
  Attention global_pool;
  torch::nn::Linear fc{nullptr};

 private:
  ModelConfig cfg_;
};
TORCH_MODULE(PreActResNet);

}  // namespace attncnn
