#pragma once
/// Stochastic depth (Huang et al. 2016) as timm implements it (timm/layers/drop.py `drop_path`, `DropPath`): in
/// training, each sample's residual branch is zeroed with probability `drop_prob` and the kept samples are scaled by
/// 1 / (1 − drop_prob), so the expected output equals the input; in eval mode, or at drop_prob 0, the input passes
/// unchanged (and no random numbers are drawn).
///
///   attncnn::DropPath dp(0.1);
///   auto y = shortcut + dp->forward(branch);   // branch N×…, the same mask value over all of a sample
///
/// DropPath has no parameters or buffers, so adding one to a block changes no state_dict name.
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace attncnn {

/// timm's drop_path: x · m / keep_prob with m ~ Bernoulli(keep_prob) of shape N×1×…×1 (one draw per sample, on x's
/// device and dtype), keep_prob = 1 − drop_prob; x itself when !training or drop_prob == 0. With
/// scale_by_keep = false the kept samples are not rescaled. x must have at least one dimension; drop_prob must be in
/// [0, 1] (throws c10::Error otherwise). drop_prob 1 drops every sample (output zeros).
torch::Tensor drop_path(const torch::Tensor& x, double drop_prob, bool training, bool scale_by_keep = true);

/// The module form: forward(x) = drop_path(x, drop_prob, is_training()).
class DropPathImpl : public torch::nn::Module {
 public:
  /// drop_prob in [0, 1); throws c10::Error otherwise.
  explicit DropPathImpl(double drop_prob = 0.0);
  torch::Tensor forward(const torch::Tensor& x);
  void pretty_print(std::ostream& stream) const override;

  double drop_prob;
};
TORCH_MODULE(DropPath);

}  // namespace attncnn
