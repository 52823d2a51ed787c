#pragma once
/// `gc` and `gca`: global context attention (GCNet, Cao et al. 2019), as timm's GlobalContext.
///
///   α = softmax over the H·W positions of conv_attn(x)     conv_attn: 1×1 conv C → 1 with bias (use_attn)
///   ctx = Σ_i α_i x_i                                       (N×C×1×1; the mean over positions when use_attn=false)
///   gc  (fuse_scale):  y = x ⊙ sigmoid(mlp_scale(ctx))
///   gca (fuse_add):    y = x + mlp_add(ctx)
///   mlp_* = timm's ConvMlp with LayerNorm2d: fc1 (C → rd) → norm → ReLU → fc2 (rd → C); rd = C·rd_ratio (1/8)
///
/// Input N×C×H×W, output N×C×H×W. timm initialises conv_attn with Kaiming-normal (fan_in) and mlp_add.fc2's
/// weight with zeros (so gca starts as the identity); so do we.
/// Recorded maps: "spatial", N×1×H×W, the softmax weights α (sum to 1 per image; with use_attn); with fuse_scale
/// also "channel", N×C, the sigmoid gate.
/// Throws c10::Error (TORCH_CHECK) on an input of the wrong rank or channel count and on invalid options;
/// create_attention() reports bad options as attncnn::Error (input) before building.
#include <attncnn/attention/base.h>
#include <attncnn/attention/layers.h>
#include <torch/arg.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace attncnn {

struct GlobalContextOptions {
  explicit GlobalContextOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(bool, use_attn) = true;
  TORCH_ARG(bool, fuse_add) = false;
  TORCH_ARG(bool, fuse_scale) = true;
  TORCH_ARG(double, rd_ratio) = 1.0 / 8;
  TORCH_ARG(int64_t, rd_channels) = 0;
  TORCH_ARG(int64_t, rd_divisor) = 1;
  TORCH_ARG(std::string, gate_layer) = "sigmoid";
};

class GlobalContextImpl : public AttentionImpl {
 public:
  /// `type_name` is the registry name ("gc" or "gca").
  explicit GlobalContextImpl(const GlobalContextOptions& options, const std::string& type_name = "gc");
  torch::Tensor forward(const torch::Tensor& x) override;
  void reset_parameters();

  GlobalContextOptions options;
  torch::nn::Conv2d conv_attn{nullptr};
  ConvMlp mlp_add{nullptr}, mlp_scale{nullptr};
};
TORCH_MODULE(GlobalContext);

}  // namespace attncnn
