#pragma once
/// ResNets in torchvision/timm layout: `resnet18`, `resnet26`, `resnet34`, `resnet50`, `resnet101`, and the residual
/// blocks that the CIFAR ResNets (cifar_resnet.h) share with them.
///
///   conv1 7×7/2 (64), bn1, ReLU, max-pool 3×3/2        stem (model_params stem=default)
///   layer1..layer4: BasicBlock (18, 34) or Bottleneck (26, 50, 101), widths 64/128/256/512 (×4 for Bottleneck)
///   global average pooling (or attnpool, module `global_pool`), fc
///
/// Parameter names follow torchvision and timm (`conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, `fc`), so
/// state_dicts saved by either load by name. The attention module of a block sits where timm puts it: after the
/// block's last BatchNorm, before the residual addition, under timm's attribute name `se` (`layer3.1.se.fc1.weight`
/// for timm's seresnet). Bottleneck strides in its 3×3 conv (ResNet v1.5, as torchvision and timm).
///
/// model_params:
///   stem=default|cifar|deep  cifar: conv1 3×3/1 and no max-pool, for 32×32 images; deep: timm's `stem_type='deep'`
///                            (conv1.0 3×3/2 → stem_width, conv1.1 BN, conv1.3 3×3 → stem_width, conv1.4 BN,
///                            conv1.6 3×3 → 2·stem_width; then bn1 and max-pool)
///   stem_width=32            width of the deep stem's first two convs
///   avg_down=0|1             timm's avg_down: the projection shortcut is 2×2 average pooling (stride 2, ceil mode,
///                            padding not counted) then a 1×1/1 conv (`downsample.1`) and BN (`downsample.2`)
///   layers=3,4,6,3           blocks per stage (e.g. 1,1,1,1 for a small test network)
///   channels=64,128,256,512  block widths per stage (timm's `channels`; Bottleneck outputs 4× these); the stem
///                            stays 64 wide (2·stem_width for the deep stem), as in timm
///   attn_stages=1,2,3,4      stages whose blocks get cfg.attn (default: all)
///   drop_path_rate=0         stochastic depth (drop_path.h) on each block's residual branch, after `se` and before
///                            the addition, at a rate growing linearly over the blocks from 0 to drop_path_rate (timm)
/// Input N×in_channels×H×W (H, W ≥ 32 with the default stem; any size ≥ 1 with stem=cifar), output N×num_classes.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/base.h>
#include <attncnn/models/drop_path.h>
#include <attncnn/models/model.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

namespace attncnn {

/// How a block's shortcut matches a change of shape (stride or width). Blocks whose shape does not change always
/// use the identity.
enum class ShortcutKind {
  Projection,     ///< 1×1 conv with the block's stride + BN (`downsample.0`, `downsample.1`)
  AvgProjection,  ///< timm's avg_down: 2×2 average pooling + 1×1 conv + BN (`downsample.1`, `downsample.2`)
  Pad,            ///< He et al. option A: take every stride-th pixel, pad the new channels with zeros; no parameters
};

/// The two-conv residual block: conv1 3×3/stride, bn1, ReLU, conv2 3×3, bn2, se, drop_path, + shortcut, ReLU.
/// Input N×inplanes×H×W, output N×planes×⌈H/stride⌉×⌈W/stride⌉.
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t expansion = 1;
  /// `attn` may be nullptr (no attention); it must reweight a planes-channel map. `drop_path` in [0, 1) is the
  /// stochastic-depth rate of the residual branch (0: no DropPath module).
  BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride, ShortcutKind shortcut, Attention attn,
                 double drop_path = 0.0);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr};
  Attention se;                                ///< nullptr for none
  torch::nn::Sequential downsample{nullptr};   ///< nullptr for identity and Pad shortcuts
  DropPath drop_path{nullptr};                 ///< nullptr at rate 0

 private:
  int64_t pad_stride_ = 0, pad_before_ = 0, pad_after_ = 0;  // option A shortcut, when pad_stride_ > 0
};
TORCH_MODULE(BasicBlock);

/// The bottleneck block: conv1 1×1 (width), bn1, ReLU, conv2 3×3/stride, bn2, ReLU, conv3 1×1 (4·planes), bn3,
/// se, drop_path, + shortcut, ReLU. Input N×inplanes×H×W, output N×4·planes×⌈H/stride⌉×⌈W/stride⌉.
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t expansion = 4;
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride, ShortcutKind shortcut, Attention attn,
                 double drop_path = 0.0);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  Attention se;
  torch::nn::Sequential downsample{nullptr};
  DropPath drop_path{nullptr};  ///< nullptr at rate 0
};
TORCH_MODULE(Bottleneck);

class ResNetImpl : public ModelImpl {
 public:
  /// `bottleneck` picks the block; `layers` the default blocks per stage (model_params `layers` overrides it).
  ResNetImpl(const ModelConfig& cfg, bool bottleneck, std::vector<int64_t> layers);
  torch::Tensor forward(const torch::Tensor& x) override;
  /// The features before pooling: N×(channels[3]·expansion)×H/32×W/32 (H/8 with stem=cifar).
  torch::Tensor forward_features(const torch::Tensor& x);
  const ModelConfig& config() const override { return cfg_; }
  /// Whether the stem ends in the 3×3/2 max-pool (not with stem=cifar).
  bool has_maxpool() const { return maxpool_; }

  torch::nn::Conv2d conv1{nullptr};          ///< default and cifar stems
  torch::nn::Sequential conv1_deep{nullptr}; ///< deep stem, registered as `conv1`
  BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  Attention global_pool;                     ///< nullptr for average pooling
  torch::nn::Linear fc{nullptr};

 private:
  ModelConfig cfg_;
  bool maxpool_ = true;
};
TORCH_MODULE(ResNet);

namespace detail {
/// The projection shortcut of timm's make_blocks: `downsample.0` conv + `.1` BN, or (avg) `.0` pool + `.1` conv +
/// `.2` BN.
torch::nn::Sequential make_downsample(int64_t in, int64_t out, int64_t stride, bool avg);
/// Kaiming-normal (fan_out, ReLU) conv weights, BN weight 1 and bias 0, as torchvision and timm initialise ResNets.
void init_resnet_weights(torch::nn::Module& m);
}  // namespace detail

}  // namespace attncnn
