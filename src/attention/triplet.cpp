#include <attncnn/attention/registry.h>
#include <attncnn/attention/triplet.h>

#include <torch/torch.h>

#include "builtin.h"
#include "option_checks.h"

namespace attncnn {

TripletGateImpl::TripletGateImpl(int64_t k) {
  conv = register_module("conv", ConvNormAct(ConvNormActOptions(2, 1, k).apply_act(false)));
}

torch::Tensor TripletGateImpl::forward(const torch::Tensor& x) {
  auto z = torch::cat({x.amax(1, /*keepdim=*/true), x.mean(1, /*keepdim=*/true)}, 1);
  return torch::sigmoid(conv->forward(z));
}

TripletImpl::TripletImpl(const TripletOptions& o) : AttentionImpl("triplet"), options(o) {
  TORCH_CHECK(o.kernel_size() > 0 && o.kernel_size() % 2 == 1, "triplet: kernel_size must be odd, got ",
              o.kernel_size());
  cw = register_module("cw", TripletGate(o.kernel_size()));
  hc = register_module("hc", TripletGate(o.kernel_size()));
  if (!o.no_spatial()) hw = register_module("hw", TripletGate(o.kernel_size()));
}

torch::Tensor TripletImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "triplet: expected input N×C×H×W, got ", x.sizes());
  // cw: swap C and H, so the gate spans (C, W); its transpose back is an N×C×1×W multiplier.
  auto s_cw = cw->forward(x.transpose(1, 2)).transpose(1, 2);  // N×C×1×W
  // hc: swap C and W, so the gate spans (H, C); back it is N×C×H×1.
  auto s_hc = hc->forward(x.transpose(1, 3)).transpose(1, 3);  // N×C×H×1
  torch::Tensor s_hw;
  if (hw) s_hw = hw->forward(x);                                // N×1×H×W
  const double branches = hw ? 3.0 : 2.0;
  auto y = x * s_cw + x * s_hc;
  if (hw) y = y + x * s_hw;
  y = y / branches;
  if (recording()) {
    const int64_t h = x.size(2), w = x.size(3);
    auto m_cw = s_cw.mean(1, /*keepdim=*/true).expand({-1, 1, h, w});
    auto m_hc = s_hc.mean(1, /*keepdim=*/true).expand({-1, 1, h, w});
    auto total = m_cw + m_hc;
    keep_map("cw", MapKind::Spatial, m_cw.contiguous());
    keep_map("hc", MapKind::Spatial, m_hc.contiguous());
    if (hw) {
      keep_map("hw", MapKind::Spatial, s_hw);
      total = total + s_hw;
    }
    keep_map("spatial", MapKind::Spatial, total / branches);
  }
  return y;
}

void register_triplet() {
  register_attention({"triplet", "triplet attention: Z-pool + 7x7 conv + BN gates over (C,W), (H,C), (H,W), averaged",
                      {"kernel_size", "no_spatial"}, AttnOutput::Reweight,
                      [](int64_t, const Params& p) -> Attention {
                        TripletOptions o;
                        o.kernel_size(opt::at_least(p, "triplet", "kernel_size", 7, 1));
                        if (o.kernel_size() % 2 == 0)
                          input_error("triplet: kernel_size=" + std::to_string(o.kernel_size()) +
                                      ": expected an odd size");
                        o.no_spatial(p.get_bool("no_spatial", false));
                        return std::make_shared<TripletImpl>(o);
                      }});
}

}  // namespace attncnn
