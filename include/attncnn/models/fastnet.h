#pragma once
/// `fastnet`: a small network for time-to-accuracy training on 32×32 and 28×28 images, after the fast CIFAR-10
/// training networks (airbench, hlb-CIFAR10).
///
///   whiten   2×2 conv (in → 2·in·k², bias), weight set from the data's patch covariance and frozen; GELU
///   block1   conv 3×3 (→ widths[0]), max-pool 2, BN, GELU, conv 3×3, BN, GELU [, attn]
///   block2   the same with widths[1]
///   block3   the same with widths[2]
///   head     global max pooling (or attnpool, module `global_pool`) → fc (no bias) → × scale
///
/// The whitening weight holds the eigenvectors V of the k×k patch covariance, scaled by 1/sqrt(λ + 5e-4), as
/// filters, and their negatives: [V/sqrt(λ+ε); −V/sqrt(λ+ε)]. The first half of its outputs has (nearly) identity
/// covariance on the data it was set from; GELU of both signs keeps what a single ReLU-like gate would drop. The
/// weight is set by init_from_data (the trainer calls it once before training), never trained. Every BatchNorm
/// has its weight fixed at 1 and frozen (only the shift is learnt), eps 1e-12 and momentum 0.4 (PyTorch's
/// convention: the weight of the new batch). Frozen tensors are parameters with requires_grad false, so they are
/// saved and moved with the model but get no gradient and no optimizer step.
///
/// Every 3×3 conv starts from the default initialisation with an identity (dirac) kernel on its first
/// min(in, out) output channels, so at initialisation conv1 passes its input channels through.
///
/// model_params:
///   widths=64,256,256   block widths (three positive integers)
///   whiten_kernel=2     k, the whitening patch side
///   bn_momentum=0.4     BatchNorm running-statistics momentum, in (0, 1]
///   scale=0.1111        logit multiplier (1/9)
///   attn_stages=3       blocks that end in cfg.attn (default: the last only)
/// Input N×in_channels×H×W with H, W ≥ whiten_kernel + 7 (32×32 and 28×28 both end in 3×3 maps); output
/// N×num_classes. Throws attncnn::Error (input) naming a bad option.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/base.h>
#include <attncnn/models/model.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace attncnn {

/// One block: conv1 3×3 (in → out), max-pool 2, bn1, GELU, conv2 3×3 (out → out), bn2, GELU, then `attn` when
/// given (its output is the capture point `attn_point`). Input N×in×H×W, output N×out×⌊H/2⌋×⌊W/2⌋.
class FastNetBlockImpl : public torch::nn::Module {
 public:
  /// `attn` may be nullptr; it must reweight an out-channel map.
  FastNetBlockImpl(int64_t in, int64_t out, double bn_momentum, Attention attn, std::string attn_point = "attn");
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr};
  Attention attn;  ///< nullptr for none

 private:
  std::string attn_point_;
};
TORCH_MODULE(FastNetBlock);

class FastNetImpl : public ModelImpl {
 public:
  explicit FastNetImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& x) override;
  /// The features before pooling: N×widths[2]×H'×W' (3×3 for 32×32 and 28×28 inputs).
  torch::Tensor forward_features(const torch::Tensor& x);
  const ModelConfig& config() const override { return cfg_; }
  /// Sets the whitening weight from the k×k patches of `images` (N×in_channels×H×W, H, W ≥ k, normalised, on the
  /// model's device); the covariance is accumulated in float64 in chunks. Throws attncnn::Error (input) on a
  /// wrong shape.
  void init_from_data(const torch::Tensor& images) override;
  bool initialises_from_data() const override { return true; }
  /// The logit multiplier (model_params scale).
  double logit_scale() const { return scale_; }

  torch::nn::Conv2d whiten{nullptr};
  FastNetBlock block1{nullptr}, block2{nullptr}, block3{nullptr};
  Attention pool;  ///< nullptr for global max pooling
  torch::nn::Linear fc{nullptr};

  /// ε added to the eigenvalues before scaling: directions with variance far below it are damped, not amplified.
  static constexpr double kWhitenEps = 5e-4;

 private:
  ModelConfig cfg_;
  int64_t kernel_ = 2;
  double scale_ = 1.0 / 9.0;
};

}  // namespace attncnn
