#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/common.h>
#include <attncnn/attention/gather_excite.h>
#include <attncnn/attention/registry.h>

#include <torch/torch.h>

#include "builtin.h"
#include "option_checks.h"

namespace attncnn {

namespace {
torch::nn::Conv2d depthwise(int64_t c, int64_t k, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(c, c, k).stride(stride).padding(timm_padding(k, stride)).groups(c).bias(false));
}
}  // namespace

GatherExciteImpl::GatherExciteImpl(const GatherExciteOptions& o) : AttentionImpl("ge"), options(o) {
  const int64_t c = o.channels();
  TORCH_CHECK(c > 0, "ge: channels must be positive, got ", c);
  TORCH_CHECK(o.extent() >= 0 && (o.extent() == 0 || o.extent() % 2 == 0), "ge: extent must be 0 or even, got ",
              o.extent());
  check_gate(o.gate_layer(), "ge");
  if (o.extra_params()) {
    gather = torch::nn::Sequential();
    if (o.extent() == 0) {
      TORCH_CHECK(o.feat_size() > 0, "ge: extent 0 with extra_params needs feat_size (the input's spatial size)");
      gather->push_back("conv1", depthwise(c, o.feat_size(), 1));
      gather->push_back("norm1", BatchNorm2d(c));
    } else {
      int64_t num_conv = 0;
      for (int64_t e = o.extent(); e > 1; e /= 2) ++num_conv;
      for (int64_t i = 1; i <= num_conv; ++i) {
        gather->push_back("conv" + std::to_string(i), depthwise(c, 3, 2));
        gather->push_back("norm" + std::to_string(i), BatchNorm2d(c));
        if (i != num_conv) gather->push_back("act" + std::to_string(i), torch::nn::ReLU());
      }
    }
    register_module("gather", gather);
  }
  if (o.use_mlp()) {
    const int64_t rd = reduced_channels(c, o.rd_ratio(), o.rd_channels(), o.rd_divisor());
    mlp = register_module("mlp", ConvMlp(c, rd, c, /*layer_norm=*/false));
  }
}

torch::Tensor GatherExciteImpl::forward(const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), "ge: expected input N×", options.channels(),
              "×H×W, got ", x.sizes());
  const int64_t h = x.size(2), w = x.size(3);
  torch::Tensor g;
  if (gather) {
    g = gather->forward(x);
  } else if (options.extent() == 0) {
    g = x.mean({2, 3}, /*keepdim=*/true);
    if (options.add_maxpool()) g = 0.5 * g + 0.5 * x.amax({2, 3}, /*keepdim=*/true);
  } else {
    const int64_t k = options.extent() * 2 - 1, s = options.extent();
    g = F::avg_pool2d(x, F::AvgPool2dFuncOptions(k).stride(s).padding(k / 2).count_include_pad(false));
    if (options.add_maxpool())
      g = 0.5 * g + 0.5 * F::max_pool2d(x, F::MaxPool2dFuncOptions(k).stride(s).padding(k / 2));
  }
  if (mlp) g = mlp->forward(g);
  const bool global = g.size(2) == 1 && g.size(3) == 1;
  if (!global)
    g = F::interpolate(g, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kNearest));
  auto a = apply_gate(options.gate_layer(), g);
  if (recording()) {
    if (global) keep_map("channel", MapKind::Channel, a.flatten(1));
    else keep_map("spatial", MapKind::Spatial, a.mean(1, /*keepdim=*/true));
  }
  return x * a;
}

void register_gather_excite() {
  register_attention(
      {"ge", "gather-excite: pool over an extent (global by default), MLP, sigmoid, scale",
       opt::with_reduction({"extent", "extra_params", "use_mlp", "feat_size", "add_maxpool", "gate_layer"}),
       AttnOutput::Reweight, [](int64_t channels, const Params& p) -> Attention {
         GatherExciteOptions o(channels);
         const auto r = opt::reduction(p, "ge", 1.0 / 16, 1);
         o.rd_ratio(r.rd_ratio).rd_channels(r.rd_channels).rd_divisor(r.rd_divisor);
         o.extent(opt::at_least(p, "ge", "extent", 0, 0));
         if (o.extent() % 2 != 0)
           input_error("ge: extent=" + std::to_string(o.extent()) + ": expected 0 (global) or an even number");
         o.extra_params(p.get_bool("extra_params", false)).use_mlp(p.get_bool("use_mlp", true));
         o.feat_size(opt::at_least(p, "ge", "feat_size", 0, 0));
         if (o.extra_params() && o.extent() == 0 && o.feat_size() == 0)
           input_error("ge: extent=0 with extra_params=true needs feat_size (the input's height = width)");
         o.add_maxpool(p.get_bool("add_maxpool", false)).gate_layer(p.get_string("gate_layer", "sigmoid"));
         return std::make_shared<GatherExciteImpl>(o);
       }});
}

}  // namespace attncnn
