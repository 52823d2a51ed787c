#pragma once
/// The CIFAR ResNets of He et al. 2016 (section 4.2): `resnet20`, `resnet32`, `resnet44`, `resnet56`, `resnet110`.
///
///   conv1 3×3 (in → 16), bn1, ReLU
///   layer1: n BasicBlocks, 16 channels; layer2: n blocks, 32 channels, stride 2; layer3: n blocks, 64, stride 2
///   global average pooling (or attnpool, `global_pool`), fc          depth = 6n + 2
///
/// Shortcuts are identities; where the shape changes, option A of the paper (model_params shortcut=A, default):
/// take every second pixel and pad the new channels with zeros (half before, half after the old ones), which adds
/// no parameters; shortcut=B uses a 1×1 conv + BN projection (`downsample.0`, `downsample.1`) instead.
/// Parameters with 10 classes and option A: resnet20 269,722; resnet32 464,154; resnet44 658,586;
/// resnet56 853,018; resnet110 1,727,962.
/// The attention module of each block (cfg.attn) sits after bn2, before the addition, as `layerX.Y.se` (timm's
/// name; see resnet.h). model_params: shortcut=A|B, attn_stages=1,2,3 (default all), drop_path_rate=0 (stochastic
/// depth on each block's residual branch, growing linearly over the blocks from 0 to the rate; see resnet.h).
/// Input N×in_channels×H×W, any H, W ≥ 1 (32×32 CIFAR, 28×28 MNIST); output N×num_classes.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/models/resnet.h>

namespace attncnn {

class CifarResNetImpl : public ModelImpl {
 public:
  /// depth = 6n + 2 (20, 32, 44, 56, 110, …); throws (input error) otherwise.
  CifarResNetImpl(const ModelConfig& cfg, int64_t depth);
  torch::Tensor forward(const torch::Tensor& x) override;
  /// The features before pooling: N×64×H/4×W/4.
  torch::Tensor forward_features(const torch::Tensor& x);
  const ModelConfig& config() const override { return cfg_; }

  torch::nn::Conv2d conv1{nullptr};
  BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr};
  Attention global_pool;
  torch::nn::Linear fc{nullptr};

 private:
  ModelConfig cfg_;
};
TORCH_MODULE(CifarResNet);

}  // namespace attncnn
