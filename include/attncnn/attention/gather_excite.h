#pragma once
/// `ge`: gather-excite, as timm's GatherExcite (Hu et al. 2018).
///
///   gather g:  extent 0, no params:    g = mean_hw(x)                                   (N×C×1×1)
///              extent e > 0, no params: g = avg_pool(x, kernel 2e-1, stride e, pad e-1, padding not counted)
///              extra_params, extent e:  log2(e) depthwise 3×3 stride-2 convs (`gather.conv{i}`), each followed by
///                                       BatchNorm (`gather.norm{i}`) and, except the last, ReLU
///              extra_params, extent 0:  one depthwise conv of kernel feat_size (`gather.conv1`, padding
///                                       (feat_size-1)/2 as timm) + BatchNorm (`gather.norm1`)
///   excite:    a = sigmoid(mlp(g)), mlp = timm's ConvMlp (`mlp.fc1`, `mlp.fc2`, ReLU; skipped when use_mlp=false),
///              resized to H×W with nearest interpolation when g is not 1×1;  y = x ⊙ a
///
/// Input N×C×H×W, output N×C×H×W. rd = make_divisible(C·rd_ratio, rd_divisor) (timm: rd_ratio 1/16, divisor 1).
/// Recorded map: "channel", N×C, when the gate is one value per channel (global extent); otherwise "spatial",
/// N×1×H×W, the gate averaged over channels.
/// Throws c10::Error (TORCH_CHECK) on an input of the wrong rank or channel count and on invalid options;
/// create_attention() reports bad options as attncnn::Error (input) before building.
#include <attncnn/attention/base.h>
#include <attncnn/attention/layers.h>
#include <torch/arg.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace attncnn {

struct GatherExciteOptions {
  explicit GatherExciteOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  /// Spatial size of the input; needed only for extent 0 with extra_params.
  TORCH_ARG(int64_t, feat_size) = 0;
  TORCH_ARG(bool, extra_params) = false;
  /// 0 = global; otherwise an even gather extent (2, 4, 8, …).
  TORCH_ARG(int64_t, extent) = 0;
  TORCH_ARG(bool, use_mlp) = true;
  TORCH_ARG(double, rd_ratio) = 1.0 / 16;
  TORCH_ARG(int64_t, rd_channels) = 0;
  TORCH_ARG(int64_t, rd_divisor) = 1;
  TORCH_ARG(bool, add_maxpool) = false;
  TORCH_ARG(std::string, gate_layer) = "sigmoid";
};

class GatherExciteImpl : public AttentionImpl {
 public:
  explicit GatherExciteImpl(const GatherExciteOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;

  GatherExciteOptions options;
  torch::nn::Sequential gather{nullptr};  ///< null without extra_params
  ConvMlp mlp{nullptr};                   ///< null with use_mlp=false
};
TORCH_MODULE(GatherExcite);

}  // namespace attncnn
