#pragma once
/// `coord`: coordinate attention (Hou et al. 2021), as timm's CoordAttn.
///
///   z_h = mean over W (N×C×H×1),  z_w = mean over H (N×C×W×1 after transposing)
///   [f_h; f_w] = h_swish(bn1(conv1([z_h; z_w])))     conv1: 1×1 C → rd, shared by both strips (bias: `bias`)
///   a_h = σ(conv_h(f_h)) (N×C×H×1),  a_w = σ(conv_w(f_w)) (N×C×1×W)     conv_h, conv_w: 1×1 rd → C
///   y = x ⊙ a_h ⊙ a_w  (+ x with has_skip)
///
/// rd = make_divisible(C·rd_ratio·se_factor, rd_divisor, round_limit 0) with timm's defaults rd_ratio 1/16,
/// se_factor 2/3, divisor 8 (the paper: C/32, at least 8; see docs/attention.md).
/// Input N×C×H×W, output N×C×H×W. state_dict: `conv1.weight`, `bn1.*`, `conv_h.weight`, `conv_w.weight`.
/// Recorded map: "spatial", N×1×H×W, the product a_h ⊗ a_w averaged over channels.
/// Throws c10::Error (TORCH_CHECK) on an input of the wrong rank or channel count and on invalid options;
/// create_attention() reports bad options as attncnn::Error (input) before building.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/base.h>
#include <torch/arg.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace attncnn {

struct CoordOptions {
  explicit CoordOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(double, rd_ratio) = 1.0 / 16;
  TORCH_ARG(int64_t, rd_channels) = 0;
  TORCH_ARG(int64_t, rd_divisor) = 8;
  TORCH_ARG(double, se_factor) = 2.0 / 3;
  TORCH_ARG(bool, bias) = false;
  TORCH_ARG(bool, has_skip) = false;
};

class CoordImpl : public AttentionImpl {
 public:
  explicit CoordImpl(const CoordOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;

  CoordOptions options;
  torch::nn::Conv2d conv1{nullptr}, conv_h{nullptr}, conv_w{nullptr};
  BatchNorm2d bn1{nullptr};
};
TORCH_MODULE(Coord);

}  // namespace attncnn
