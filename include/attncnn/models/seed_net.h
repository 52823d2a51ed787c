#pragma once
/// `seed_net`: attncnn's origin network.
///
///   conv1 3×3 (in→64), bn1, ReLU
///   conv2 3×3 (64→64), bn2, ReLU
///   attn  (default sgate; any registered Reweight module, or none)
///   conv3 3×3 (64→128), bn3, ReLU
///   head  global average pooling (or attnpool) → fc (128·heads → num_classes)
///
/// The origin ends in a 1×1 conv (128→10) and no pooling; a 1×1 conv followed by global average pooling equals
/// pooling followed by a linear layer, so `fc` holds that conv's weights as a linear layer and the network ends
/// in logits. Input N×in_channels×H×W (any H, W ≥ 1); output N×num_classes.
/// model_params: width (64), width3 (128), norm (batchnorm, or none: no normalisation layers, e.g. to compare
/// data-parallel runs exactly with one-process runs).
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/base.h>
#include <attncnn/models/model.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

namespace attncnn {

class SeedNetImpl : public ModelImpl {
 public:
  explicit SeedNetImpl(const ModelConfig& cfg);
  torch::Tensor forward(const torch::Tensor& x) override;
  /// The features before pooling: N×width3×H×W.
  torch::Tensor forward_features(const torch::Tensor& x);
  const ModelConfig& config() const override { return cfg_; }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};  ///< nullptr with norm=none
  Attention attn;  ///< nullptr for none
  Attention pool;  ///< nullptr for average pooling
  torch::nn::Linear fc{nullptr};

 private:
  ModelConfig cfg_;
};

}  // namespace attncnn
