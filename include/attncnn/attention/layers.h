#pragma once
/// Small building blocks shared by the attention zoo, named as timm names them so that timm state_dicts load by
/// name: ConvMlp (`fc1`, `norm`, `fc2`), LayerNorm2d (`weight`, `bias`), ConvNormAct (`conv`, `bn`).
#include <attncnn/attention/batch_norm.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <string>

namespace attncnn {

/// timm's LayerNorm2d: layer norm over the channels of an N×C×H×W tensor at each position (eps 1e-6).
class LayerNorm2dImpl : public torch::nn::Module {
 public:
  explicit LayerNorm2dImpl(int64_t channels, double eps = 1e-6);
  torch::Tensor forward(const torch::Tensor& x);

  int64_t channels;
  double eps;
  torch::Tensor weight, bias;
};
TORCH_MODULE(LayerNorm2d);

/// timm's ConvMlp with ReLU: fc1 (1×1 conv, bias) → norm (optional LayerNorm2d) → ReLU → fc2 (1×1 conv, bias).
/// Input N×in×H×W, output N×out×H×W.
class ConvMlpImpl : public torch::nn::Module {
 public:
  ConvMlpImpl(int64_t in_channels, int64_t hidden, int64_t out_channels, bool layer_norm);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
  LayerNorm2d norm{nullptr};  ///< null when built without a norm (timm's nn.Identity)
};
TORCH_MODULE(ConvMlp);

struct ConvNormActOptions {
  ConvNormActOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(bool, bias) = false;
  /// ReLU after the norm (timm's apply_act).
  TORCH_ARG(bool, apply_act) = true;
};

/// timm's ConvNormAct with BatchNorm2d and ReLU: conv (symmetric padding ((stride-1) + dilation·(k-1)) / 2, as timm's
/// get_padding) → bn → optional ReLU.
class ConvNormActImpl : public torch::nn::Module {
 public:
  explicit ConvNormActImpl(const ConvNormActOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  ConvNormActOptions options;
  torch::nn::Conv2d conv{nullptr};
  BatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvNormAct);

/// timm's padding for a symmetric convolution: ((stride - 1) + dilation·(kernel - 1)) / 2.
int64_t timm_padding(int64_t kernel_size, int64_t stride = 1, int64_t dilation = 1);

/// Gate functions by timm's names: "sigmoid" or "hard_sigmoid" (relu6(x + 3) / 6).
torch::Tensor apply_gate(const std::string& gate, const torch::Tensor& x);
/// Throws attncnn::Error (input) unless `gate` is a gate apply_gate knows; `context` names the module.
void check_gate(const std::string& gate, const std::string& context);

}  // namespace attncnn
