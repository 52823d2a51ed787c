#pragma once
/// `eca`, `ecam` and `ceca`: efficient channel attention, as timm's EcaModule and CecaModule.
///
///   s = mean_hw(x), seen as a length-C signal;  a = gate(conv1d_k(s));  y = x ⊙ a
///   k = the adaptive size of the ECA paper: t = int(|log2(C) + beta| / gamma), k = max(t odd ? t : t + 1, 3),
///       unless kernel_size is given explicitly (> 0).
///   eca:  conv1d with zero padding (k-1)/2, no bias.  State: `conv.weight` (1×1×k).
///   ceca: conv1d with circular padding, so the first and last channels are neighbours.  State: `conv.weight`.
///   ecam (use_mlp): conv (1 → rd, kernel 1, bias) → ReLU → conv2 (rd → 1, kernel k, bias); timm's experiment.
///
/// Input N×C×H×W, output N×C×H×W. Recorded map: "channel", N×C, the gate values a.
///
///   attncnn::Eca eca(attncnn::EcaOptions(256));   // k = 5
/// Throws c10::Error (TORCH_CHECK) on an input of the wrong rank or channel count and on invalid options;
/// create_attention() reports bad options as attncnn::Error (input) before building.
#include <attncnn/attention/base.h>
#include <torch/arg.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace attncnn {

struct EcaOptions {
  explicit EcaOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  /// 0: adaptive from channels, gamma and beta (timm always does this, as create_attn passes channels).
  TORCH_ARG(int64_t, kernel_size) = 0;
  TORCH_ARG(double, gamma) = 2.0;
  TORCH_ARG(double, beta) = 1.0;
  /// Circular instead of zero padding (ceca).
  TORCH_ARG(bool, circular) = false;
  /// ecam: a two-layer MLP along the channel signal (eca only).
  TORCH_ARG(bool, use_mlp) = false;
  TORCH_ARG(double, rd_ratio) = 1.0 / 8;
  TORCH_ARG(int64_t, rd_channels) = 0;
  TORCH_ARG(int64_t, rd_divisor) = 8;
  TORCH_ARG(std::string, gate_layer) = "sigmoid";
};

/// The adaptive kernel size of the ECA paper for `channels` (always odd, at least 3).
int64_t eca_kernel_size(int64_t channels, double gamma, double beta);

class EcaImpl : public AttentionImpl {
 public:
  explicit EcaImpl(const EcaOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;

  EcaOptions options;
  int64_t kernel_size;  ///< the size in use
  torch::nn::Conv1d conv{nullptr}, conv2{nullptr};
};
TORCH_MODULE(Eca);

}  // namespace attncnn
