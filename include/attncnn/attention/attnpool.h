#pragma once
/// `attnpool`: softmax attention pooling, a classifier head in place of global average pooling.
///
///   s = conv(x)                       1×1 conv C → num_heads, with bias: s_i = w·f_i + b
///   a = softmax(s) over the H·W positions, per image and head
///   y[h] = Σ_i a[h]_i f_i             output N×(C·num_heads), head-major (head 0's C values first)
///
/// Recorded map: "spatial", N×1×H×W, the weights averaged over heads (each head's weights sum to 1 per image,
/// so the average does too); with several heads also "heads", N×num_heads×H×W.
///
///   attncnn::AttnPool pool(attncnn::AttnPoolOptions(128).num_heads(2));
///   auto v = pool->forward(x);        // N×256
#include <attncnn/attention/base.h>
#include <torch/arg.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attncnn {

struct AttnPoolOptions {
  explicit AttnPoolOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, num_heads) = 1;
};

class AttnPoolImpl : public AttentionImpl {
 public:
  explicit AttnPoolImpl(const AttnPoolOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;
  AttnOutput output() const override { return AttnOutput::Pool; }
  int64_t pooled_features() const override { return options.channels() * options.num_heads(); }

  AttnPoolOptions options;
  torch::nn::Conv2d score{nullptr};
};
TORCH_MODULE(AttnPool);

}  // namespace attncnn
