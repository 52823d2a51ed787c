#pragma once
/// `sk`: selective kernel convolution (Li et al. 2019), as timm's SelectiveKernel. It replaces a convolution.
///
///   paths: P = len(kernel_size) conv paths (default kernels 3 and 5; with keep_3x3 each is a 3×3 conv with dilation
///          (k-1)/2·dilation), each conv + BN + ReLU (`paths.{i}.conv`, `paths.{i}.bn`), stride `stride`; with
///          split_input path i sees only the i-th of P equal slices of the input channels
///   attn:  u = Σ_i path_i;  s = mean_hw(u);  z = relu(bn(fc_reduce(s)))       fc_reduce: 1×1 out → rd, no bias
///          w = softmax over paths of fc_select(z) (N×P×out)                    fc_select: 1×1 rd → out·P, no bias
///   y = Σ_i w_i ⊙ path_i
///
/// Input N×C×H×W, output N×out_channels×H'×W' (H' = ceil(H / stride)): unlike the other modules it may change the
/// channel count and the resolution. rd = make_divisible(out·rd_ratio, rd_divisor) (1/16, 8; timm's round_limit 0.9).
/// Recorded maps: "path0" … "path{P-1}", N×out each (kind Channel), the selection weights (they sum to 1 per channel).
/// Throws c10::Error (TORCH_CHECK) on an input of the wrong rank or channel count and on invalid options;
/// create_attention() reports bad options as attncnn::Error (input) before building.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/base.h>
#include <attncnn/attention/layers.h>
#include <torch/arg.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace attncnn {

struct SelectiveKernelOptions {
  explicit SelectiveKernelOptions(int64_t in_channels) : in_channels_(in_channels) {}
  TORCH_ARG(int64_t, in_channels);
  /// 0 means in_channels.
  TORCH_ARG(int64_t, out_channels) = 0;
  /// One kernel size per path, odd and at least 3.
  TORCH_ARG(std::vector<int64_t>, kernel_size) = std::vector<int64_t>{3, 5};
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(double, rd_ratio) = 1.0 / 16;
  TORCH_ARG(int64_t, rd_channels) = 0;
  TORCH_ARG(int64_t, rd_divisor) = 8;
  TORCH_ARG(bool, keep_3x3) = true;
  TORCH_ARG(bool, split_input) = true;
};

/// timm's SelectiveKernelAttn: returns the selection weights N×P×out×1×1 of a stack N×P×out×H×W.
class SelectiveKernelAttnImpl : public torch::nn::Module {
 public:
  SelectiveKernelAttnImpl(int64_t channels, int64_t num_paths, int64_t attn_channels);
  torch::Tensor forward(const torch::Tensor& stacked);
  int64_t num_paths;
  torch::nn::Conv2d fc_reduce{nullptr}, fc_select{nullptr};
  BatchNorm2d bn{nullptr};
};
TORCH_MODULE(SelectiveKernelAttn);

class SelectiveKernelImpl : public AttentionImpl {
 public:
  explicit SelectiveKernelImpl(const SelectiveKernelOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;

  SelectiveKernelOptions options;
  int64_t out_channels;
  torch::nn::ModuleList paths{nullptr};  ///< ConvNormAct each
  SelectiveKernelAttn attn{nullptr};
};
TORCH_MODULE(SelectiveKernel);

}  // namespace attncnn
