#pragma once
/// `splat`: split attention (ResNeSt, Zhang et al. 2020), as timm's SplitAttn. It replaces a convolution.
///
///   u = relu(bn0(conv(x)))      conv: k×k (default 3), stride, groups·radix groups, out·radix channels, no bias;
///                               viewed as radix splits u_r, each N×out×H'×W'
///   s = mean_hw(Σ_r u_r);  z = relu(bn1(fc1(s)))                fc1: 1×1 out → attn (groups, bias)
///   a = fc2(z)                                                   fc2: 1×1 attn → out·radix (groups, bias)
///   w = softmax over the radix splits (per group) of a, or sigmoid(a) when radix = 1
///   y = Σ_r w_r ⊙ u_r
///
/// attn = make_divisible(in·radix·rd_ratio, rd_divisor, min 32) (timm: rd_ratio 0.25, divisor 8), or rd_channels·radix.
/// timm's default norm_layer is None, so bn0 and bn1 are absent (no state) unless norm_layer=batchnorm, as ResNeSt
/// builds it. Input N×in×H×W, output N×out×H'×W' (H' as a k×k conv with padding k/2 and the stride gives):
/// it may change the channel count and the resolution.
/// Recorded maps: radix > 1: "radix0" … "radix{R-1}", N×out each (kind Channel), the softmax weights of each split;
/// radix 1: "channel", N×out, the sigmoid gate.
/// Throws c10::Error (TORCH_CHECK) on an input of the wrong rank or channel count and on invalid options;
/// create_attention() reports bad options as attncnn::Error (input) before building.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/base.h>
#include <torch/arg.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attncnn {

struct SplitAttnOptions {
  explicit SplitAttnOptions(int64_t in_channels) : in_channels_(in_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels) = 0;  ///< 0 means in_channels
  TORCH_ARG(int64_t, kernel_size) = 3;
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, padding) = -1;      ///< -1 means kernel_size / 2
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(bool, bias) = false;
  TORCH_ARG(int64_t, radix) = 2;
  TORCH_ARG(double, rd_ratio) = 0.25;
  TORCH_ARG(int64_t, rd_channels) = 0;
  TORCH_ARG(int64_t, rd_divisor) = 8;
  /// BatchNorm after the conv and after fc1 (timm's norm_layer=nn.BatchNorm2d); off by default as in timm.
  TORCH_ARG(bool, use_bn) = false;
};

class SplitAttnImpl : public AttentionImpl {
 public:
  explicit SplitAttnImpl(const SplitAttnOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;

  SplitAttnOptions options;
  int64_t out_channels;
  torch::nn::Conv2d conv{nullptr}, fc1{nullptr}, fc2{nullptr};
  BatchNorm2d bn0{nullptr}, bn1{nullptr};  ///< null unless use_bn
};
TORCH_MODULE(SplitAttn);

}  // namespace attncnn
