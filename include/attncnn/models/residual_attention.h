#pragma once
/// Residual Attention Networks (Wang et al. 2017): `attention56`, `attention92`.
///
///   conv1 7×7/2 (in → 64), bn1, ReLU, max-pool 3×3/2             (stem=cifar: conv1 3×3/1, no max-pool)
///   stage1: residual unit 64 → 256, then 1 (56) or 1 (92) attention modules            at H/4
///   stage2: residual unit 256 → 512 /2, then 1 (56) or 2 (92) attention modules        at H/8
///   stage3: residual unit 512 → 1024 /2, then 1 (56) or 3 (92) attention modules       at H/16
///   stage4: 3 residual units 1024 → 2048 (the first /2)                                 at H/32
///   bn, ReLU, global average pooling (or attnpool, `global_pool`), fc
///
/// A residual unit is a pre-activation bottleneck (BN-ReLU-conv1×1, BN-ReLU-conv3×3, BN-ReLU-conv1×1 to 4× the
/// bottleneck width; 1×1 projection `shortcut` on the pre-activated input where the shape changes).
/// An attention module (p = 1, t = 2, r = 1 of the paper): `first` unit, then the trunk branch T (`trunk`, 2 units)
/// and the soft mask branch M (`mask`, a SoftMaskBranch) side by side, output (1 + M) ⊙ T, then the `last` unit.
/// The mask branch is an hourglass: max-pool 3×3/2 and one unit per level, 3/2/1 levels in stages 1/2/3 (56×56 →
/// 7×7 in stage 1 at 224×224), two units at the bottom, a skip unit between levels, bilinear up-sampling with the
/// skip added, then BN-ReLU-conv1×1-BN-ReLU-conv1×1-sigmoid.
///
/// cfg.attn (any Reweight module, default in most commands `sgate`; "none" for the paper's network) sits in the
/// trunk-path residual units (not in the mask branch) after their last conv, as `...attn`. model_params:
///   stem=default|cifar, mask=1|0 (0 drops every mask branch: the trunk-only baseline of the paper's ablation),
///   attn_stages=1,2,3,4 (units of those stages get cfg.attn; default all),
///   drop_path_rate=0 (stochastic depth on the residual branch of the trunk-path units, after attn and before the
///   addition, growing linearly over those units in forward order from 0 to the rate, as timm's ResNet; the mask
///   branch's units are left alone).
/// Input N×in_channels×H×W (H, W ≥ 32 with the default stem); output N×num_classes.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/base.h>
#include <attncnn/models/drop_path.h>
#include <attncnn/models/model.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <functional>

namespace attncnn {

/// The pre-activation bottleneck residual unit. Input N×in×H×W, output N×out×⌈H/stride⌉×⌈W/stride⌉.
class ResidualUnitImpl : public torch::nn::Module {
 public:
  /// `drop_path` in [0, 1): stochastic-depth rate of the residual branch (0: no DropPath module).
  ResidualUnitImpl(int64_t in, int64_t out, int64_t stride = 1, Attention attn = nullptr, double drop_path = 0.0);
  torch::Tensor forward(const torch::Tensor& x);

  BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  Attention attn;
  torch::nn::Conv2d shortcut{nullptr};
  DropPath drop_path{nullptr};  ///< nullptr at rate 0
};
TORCH_MODULE(ResidualUnit);

/// The soft mask branch as an attention module (type name "softmask"), so set_record_maps / collect_maps find it.
/// mask(x) is M in (0, 1), N×C×H×W; forward(x) = (1 + M(x)) ⊙ x (the residual-attention form with the identity as
/// trunk). Recorded maps: "spatial" (N×1×H×W, the mask averaged over channels) and "channel" (N×C, averaged over
/// positions).
class SoftMaskBranchImpl : public AttentionImpl {
 public:
  /// `levels` ≥ 1 down-sampling steps.
  SoftMaskBranchImpl(int64_t channels, int64_t levels);
  torch::Tensor mask(const torch::Tensor& x);
  torch::Tensor forward(const torch::Tensor& x) override;

  std::vector<torch::nn::Sequential> down;  ///< down0 … : units after each max-pool (2 at the bottom)
  std::vector<ResidualUnit> skip;           ///< skip0 … : levels − 1 skip units
  std::vector<ResidualUnit> up;             ///< up0 … : levels − 1 units after each up-sampling
  torch::nn::Sequential head{nullptr};      ///< BN, ReLU, conv1×1, BN, ReLU, conv1×1 (then sigmoid)

 private:
  int64_t levels_;
};
TORCH_MODULE(SoftMaskBranch);

/// first → (trunk, mask) → (1 + M) ⊙ T → last. Input and output N×C×H×W.
class AttentionModuleImpl : public torch::nn::Module {
 public:
  /// `mask_levels` = 0 drops the mask branch (output T). `attn` factory gives the trunk units' attention; `drop_path`
  /// (when set) gives the stochastic-depth rate of first, trunk.0, trunk.1 and last, called once each in that order.
  AttentionModuleImpl(int64_t channels, int64_t mask_levels, const std::function<Attention()>& attn,
                      const std::function<double()>& drop_path = nullptr);
  torch::Tensor forward(const torch::Tensor& x);

  ResidualUnit first{nullptr};
  torch::nn::Sequential trunk{nullptr};
  SoftMaskBranch mask{nullptr};
  ResidualUnit last{nullptr};
};
TORCH_MODULE(AttentionModule);

class ResidualAttentionNetImpl : public ModelImpl {
 public:
  /// `modules_per_stage`: attention modules in stages 1..3 ({1,1,1} for attention56, {1,2,3} for attention92).
  ResidualAttentionNetImpl(const ModelConfig& cfg, std::vector<int64_t> modules_per_stage);
  torch::Tensor forward(const torch::Tensor& x) override;
  torch::Tensor forward_features(const torch::Tensor& x);
  const ModelConfig& config() const override { return cfg_; }
  /// Whether the stem ends in the 3×3/2 max-pool (not with stem=cifar).
  bool has_maxpool() const { return maxpool_; }

  torch::nn::Conv2d conv1{nullptr};
  BatchNorm2d bn1{nullptr};
  torch::nn::Sequential stage1{nullptr}, stage2{nullptr}, stage3{nullptr}, stage4{nullptr};
  BatchNorm2d bn{nullptr};
  Attention global_pool;
  torch::nn::Linear fc{nullptr};

 private:
  ModelConfig cfg_;
  bool maxpool_ = true;
};
TORCH_MODULE(ResidualAttentionNet);

}  // namespace attncnn
