#pragma once
/// `triplet`: triplet attention (Misra et al. 2021). Not in timm; names follow the authors' code (cw, hc, hw).
///
///   each branch b rotates x so that one axis plays the channel role, then
///     z = [max over that axis; mean over that axis]  (Z-pool, 2 maps)
///     s_b = σ(bn(conv_k(z)))                           conv_k: k×k (default 7), 2 → 1, padding k/2, no bias
///     out_b = rotate back(rotated x ⊙ s_b)
///   cw: channel axis ↔ H (gate over C×W);  hc: channel axis ↔ W (gate over H×C);  hw: plain (gate over H×W)
///   y = (out_cw + out_hc + out_hw) / 3           (no_spatial: (out_cw + out_hc) / 2, no hw branch)
///
/// Input N×C×H×W, output N×C×H×W. state_dict: `{cw,hc,hw}.conv.conv.weight`, `{cw,hc,hw}.conv.bn.*`.
/// Recorded maps, all N×1×H×W: "cw", "hc", "hw", each branch's multiplier broadcast to N×C×H×W and averaged over
/// channels (the hw one is exactly that branch's spatial gate); "spatial", the average of the branches' maps.
/// Throws c10::Error (TORCH_CHECK) on an input of the wrong rank or channel count and on invalid options;
/// create_attention() reports bad options as attncnn::Error (input) before building.
#include <attncnn/attention/base.h>
#include <attncnn/attention/layers.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

namespace attncnn {

struct TripletOptions {
  TripletOptions() = default;
  TORCH_ARG(int64_t, kernel_size) = 7;
  TORCH_ARG(bool, no_spatial) = false;
};

/// One branch: Z-pool over dim 1, conv + BN, sigmoid; returns the gate N×1×A×B of its (rotated) input.
class TripletGateImpl : public torch::nn::Module {
 public:
  explicit TripletGateImpl(int64_t kernel_size);
  torch::Tensor forward(const torch::Tensor& x);
  ConvNormAct conv{nullptr};
};
TORCH_MODULE(TripletGate);

class TripletImpl : public AttentionImpl {
 public:
  explicit TripletImpl(const TripletOptions& options = {});
  torch::Tensor forward(const torch::Tensor& x) override;

  TripletOptions options;
  TripletGate cw{nullptr}, hc{nullptr}, hw{nullptr};
};
TORCH_MODULE(Triplet);

}  // namespace attncnn
