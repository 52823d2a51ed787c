#pragma once
/// `se` and `ese`: squeeze-and-excitation channel attention, as timm's SEModule and EffectiveSEModule.
///
///   se:   s = mean_hw(x) (½·mean + ½·max with add_maxpool);  a = gate(fc2(relu(fc1(s))));  y = x ⊙ a
///         fc1: 1×1 conv C → rd, fc2: 1×1 conv rd → C, both with bias; rd = make_divisible(C·rd_ratio, rd_divisor)
///   ese:  s as above;  a = hard_sigmoid(fc(s));  y = x ⊙ a          fc: 1×1 conv C → C with bias
///
/// Input N×C×H×W, output N×C×H×W. state_dict keys as timm: `fc1.weight`, `fc1.bias`, `fc2.*` (se), `fc.*` (ese).
/// Recorded map: "channel", N×C, the gate values a.
///
///   attncnn::SqueezeExcite se(attncnn::SqueezeExciteOptions(64).rd_ratio(0.25));
///   auto y = se->forward(x);
/// Throws c10::Error (TORCH_CHECK) on an input of the wrong rank or channel count and on invalid options;
/// create_attention() reports bad options as attncnn::Error (input) before building.
#include <attncnn/attention/base.h>
#include <torch/arg.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace attncnn {

struct SqueezeExciteOptions {
  explicit SqueezeExciteOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(double, rd_ratio) = 1.0 / 16;
  /// Explicit hidden width; 0 means make_divisible(channels·rd_ratio, rd_divisor) (timm's round_limit 0).
  TORCH_ARG(int64_t, rd_channels) = 0;
  TORCH_ARG(int64_t, rd_divisor) = 8;
  /// Squeeze with ½·mean + ½·max instead of the mean (timm's experimental add_maxpool).
  TORCH_ARG(bool, add_maxpool) = false;
  TORCH_ARG(bool, bias) = true;
  /// "sigmoid" or "hard_sigmoid".
  TORCH_ARG(std::string, gate_layer) = "sigmoid";
};

class SqueezeExciteImpl : public AttentionImpl {
 public:
  explicit SqueezeExciteImpl(const SqueezeExciteOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;

  SqueezeExciteOptions options;
  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(SqueezeExcite);

struct EffectiveSEOptions {
  explicit EffectiveSEOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(bool, add_maxpool) = false;
  TORCH_ARG(std::string, gate_layer) = "hard_sigmoid";
};

class EffectiveSEImpl : public AttentionImpl {
 public:
  explicit EffectiveSEImpl(const EffectiveSEOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;

  EffectiveSEOptions options;
  torch::nn::Conv2d fc{nullptr};
};
TORCH_MODULE(EffectiveSE);

}  // namespace attncnn
