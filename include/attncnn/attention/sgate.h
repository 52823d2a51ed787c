#pragma once
/// `sgate`: the spatial attention gate of attncnn's origin network.
///
///   a = sigmoid(conv2(relu(conv1(x))))      conv1: 1×1, C → rd_channels; conv2: 1×1, rd_channels → 1
///   y = x ⊙ a                               a is N×1×H×W, broadcast over the C channels
///
/// Input N×C×H×W, output N×C×H×W. rd_channels defaults to C·rd_ratio (rd_ratio = 1/r; r = 1 as in the origin).
/// Recorded map: "spatial", N×1×H×W, the gate values in (0, 1).
///
///   attncnn::SGate gate(attncnn::SGateOptions(64).rd_ratio(0.25));
///   auto y = gate->forward(x);
#include <attncnn/attention/base.h>
#include <torch/arg.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attncnn {

struct SGateOptions {
  explicit SGateOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  /// Hidden width as a share of `channels` (timm's rd_ratio); the origin uses 1.
  TORCH_ARG(double, rd_ratio) = 1.0;
  /// Explicit hidden width; 0 means channels·rd_ratio rounded to rd_divisor.
  TORCH_ARG(int64_t, rd_channels) = 0;
  TORCH_ARG(int64_t, rd_divisor) = 1;
};

class SGateImpl : public AttentionImpl {
 public:
  explicit SGateImpl(const SGateOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;

  SGateOptions options;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(SGate);

}  // namespace attncnn
