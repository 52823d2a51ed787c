#include <attncnn/attention/common.h>
#include <attncnn/attention/layers.h>
#include <attncnn/attention/registry.h>
#include <attncnn/attention/squeeze_excite.h>

#include <torch/torch.h>

#include "builtin.h"
#include "option_checks.h"

namespace attncnn {

namespace {
torch::Tensor squeeze(const torch::Tensor& x, bool add_maxpool) {
  auto s = x.mean({2, 3}, /*keepdim=*/true);
  if (add_maxpool) s = 0.5 * s + 0.5 * x.amax({2, 3}, /*keepdim=*/true);
  return s;
}
void check_input(const torch::Tensor& x, int64_t channels, const char* name) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == channels, name, ": expected input N×", channels, "×H×W, got ", x.sizes());
}
}  // namespace

SqueezeExciteImpl::SqueezeExciteImpl(const SqueezeExciteOptions& o) : AttentionImpl("se"), options(o) {
  TORCH_CHECK(o.channels() > 0, "se: channels must be positive, got ", o.channels());
  check_gate(o.gate_layer(), "se");
  const int64_t rd = reduced_channels(o.channels(), o.rd_ratio(), o.rd_channels(), o.rd_divisor());
  fc1 = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.channels(), rd, 1).bias(o.bias())));
  fc2 = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(rd, o.channels(), 1).bias(o.bias())));
}

torch::Tensor SqueezeExciteImpl::forward(const torch::Tensor& x) {
  check_input(x, options.channels(), "se");
  auto a = apply_gate(options.gate_layer(),
                      fc2->forward(torch::relu(fc1->forward(squeeze(x, options.add_maxpool())))));
  if (recording()) keep_map("channel", MapKind::Channel, a.flatten(1));
  return x * a;
}

EffectiveSEImpl::EffectiveSEImpl(const EffectiveSEOptions& o) : AttentionImpl("ese"), options(o) {
  TORCH_CHECK(o.channels() > 0, "ese: channels must be positive, got ", o.channels());
  check_gate(o.gate_layer(), "ese");
  fc = register_module("fc", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.channels(), o.channels(), 1)));
}

torch::Tensor EffectiveSEImpl::forward(const torch::Tensor& x) {
  check_input(x, options.channels(), "ese");
  auto a = apply_gate(options.gate_layer(), fc->forward(squeeze(x, options.add_maxpool())));
  if (recording()) keep_map("channel", MapKind::Channel, a.flatten(1));
  return x * a;
}

void register_squeeze_excite() {
  register_attention(
      {"se", "squeeze-excite: global mean, 1x1 MLP C->C*rd_ratio->C, sigmoid, scale channels",
       opt::with_reduction({"add_maxpool", "bias", "gate_layer"}), AttnOutput::Reweight,
       [](int64_t channels, const Params& p) -> Attention {
         const auto r = opt::reduction(p, "se", 1.0 / 16, 8);
         SqueezeExciteOptions o(channels);
         o.rd_ratio(r.rd_ratio).rd_channels(r.rd_channels).rd_divisor(r.rd_divisor);
         o.add_maxpool(p.get_bool("add_maxpool", false)).bias(p.get_bool("bias", true));
         o.gate_layer(p.get_string("gate_layer", "sigmoid"));
         return std::make_shared<SqueezeExciteImpl>(o);
       }});
  register_attention({"ese", "effective squeeze-excite: global mean, one 1x1 conv C->C, hard sigmoid, scale channels",
                      {"add_maxpool", "gate_layer"}, AttnOutput::Reweight,
                      [](int64_t channels, const Params& p) -> Attention {
                        EffectiveSEOptions o(channels);
                        o.add_maxpool(p.get_bool("add_maxpool", false));
                        o.gate_layer(p.get_string("gate_layer", "hard_sigmoid"));
                        return std::make_shared<EffectiveSEImpl>(o);
                      }});
}

}  // namespace attncnn
