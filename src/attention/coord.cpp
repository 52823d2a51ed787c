#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/common.h>
#include <attncnn/attention/coord.h>
#include <attncnn/attention/registry.h>

#include <torch/torch.h>

#include "builtin.h"
#include "option_checks.h"

namespace attncnn {

CoordImpl::CoordImpl(const CoordOptions& o) : AttentionImpl("coord"), options(o) {
  const int64_t c = o.channels();
  TORCH_CHECK(c > 0, "coord: channels must be positive, got ", c);
  const int64_t rd =
      o.rd_channels() > 0 ? o.rd_channels() : make_divisible(c * o.rd_ratio() * o.se_factor(), o.rd_divisor(), 0, 0.0);
  conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, rd, 1).bias(o.bias())));
  bn1 = register_module("bn1", BatchNorm2d(rd));
  conv_h = register_module("conv_h", torch::nn::Conv2d(torch::nn::Conv2dOptions(rd, c, 1).bias(o.bias())));
  conv_w = register_module("conv_w", torch::nn::Conv2d(torch::nn::Conv2dOptions(rd, c, 1).bias(o.bias())));
}

torch::Tensor CoordImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), "coord: expected input N×", options.channels(),
              "×H×W, got ", x.sizes());
  const int64_t h = x.size(2), w = x.size(3);
  auto zh = x.mean(3, /*keepdim=*/true);                     // N×C×H×1
  auto zw = x.mean(2, /*keepdim=*/true).transpose(2, 3);     // N×C×W×1
  // One conv over both strips so that bn1 normalises them together, as timm does.
  auto f = torch::hardswish(bn1->forward(conv1->forward(torch::cat({zh, zw}, 2))));
  auto parts = torch::split(f, {h, w}, 2);
  auto ah = torch::sigmoid(conv_h->forward(parts[0]));                   // N×C×H×1
  auto aw = torch::sigmoid(conv_w->forward(parts[1].transpose(2, 3)));   // N×C×1×W
  if (recording()) keep_map("spatial", MapKind::Spatial, (ah * aw).mean(1, /*keepdim=*/true));
  auto y = x * aw * ah;
  return options.has_skip() ? y + x : y;
}

void register_coord() {
  register_attention({"coord", "coordinate attention: strip pooling along H and W, shared 1x1 conv, two gates",
                      opt::with_reduction({"se_factor", "bias", "has_skip"}), AttnOutput::Reweight,
                      [](int64_t channels, const Params& p) -> Attention {
                        CoordOptions o(channels);
                        const auto r = opt::reduction(p, "coord", 1.0 / 16, 8);
                        o.rd_ratio(r.rd_ratio).rd_channels(r.rd_channels).rd_divisor(r.rd_divisor);
                        o.se_factor(opt::positive(p, "coord", "se_factor", 2.0 / 3));
                        o.bias(p.get_bool("bias", false)).has_skip(p.get_bool("has_skip", false));
                        return std::make_shared<CoordImpl>(o);
                      }});
}

}  // namespace attncnn
