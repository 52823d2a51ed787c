#include <attncnn/attention/cbam.h>
#include <attncnn/attention/common.h>
#include <attncnn/attention/registry.h>

#include <torch/torch.h>

#include "builtin.h"
#include "option_checks.h"

namespace attncnn {

CbamChannelImpl::CbamChannelImpl(int64_t c, int64_t rd, bool bias, bool l) : light(l) {
  fc1 = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, rd, 1).bias(bias)));
  fc2 = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(rd, c, 1).bias(bias)));
}

torch::Tensor CbamChannelImpl::gate(const torch::Tensor& x) {
  auto avg = x.mean({2, 3}, /*keepdim=*/true);
  auto mx = x.amax({2, 3}, /*keepdim=*/true);
  if (light) return torch::sigmoid(fc2->forward(torch::relu(fc1->forward(0.5 * avg + 0.5 * mx))));
  return torch::sigmoid(fc2->forward(torch::relu(fc1->forward(avg))) + fc2->forward(torch::relu(fc1->forward(mx))));
}

CbamSpatialImpl::CbamSpatialImpl(int64_t k, bool l) : light(l) {
  conv = register_module("conv", ConvNormAct(ConvNormActOptions(light ? 1 : 2, 1, k).apply_act(false)));
}

torch::Tensor CbamSpatialImpl::gate(const torch::Tensor& x) {
  auto avg = x.mean(1, /*keepdim=*/true);
  auto mx = x.amax(1, /*keepdim=*/true);
  auto in = light ? 0.5 * avg + 0.5 * mx : torch::cat({avg, mx}, 1);
  return torch::sigmoid(conv->forward(in));
}

CbamImpl::CbamImpl(const CbamOptions& o) : AttentionImpl(o.light() ? "lcbam" : "cbam"), options(o) {
  TORCH_CHECK(o.channels() > 0, type_name(), ": channels must be positive, got ", o.channels());
  TORCH_CHECK(o.spatial_kernel_size() > 0 && o.spatial_kernel_size() % 2 == 1, type_name(),
              ": spatial_kernel_size must be odd, got ", o.spatial_kernel_size());
  const int64_t rd = reduced_channels(o.channels(), o.rd_ratio(), o.rd_channels(), o.rd_divisor());
  channel = register_module("channel", CbamChannel(o.channels(), rd, o.mlp_bias(), o.light()));
  spatial = register_module("spatial", CbamSpatial(o.spatial_kernel_size(), o.light()));
}

torch::Tensor CbamImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), type_name(), ": expected input N×",
              options.channels(), "×H×W, got ", x.sizes());
  auto ac = channel->gate(x);
  auto xc = x * ac;
  auto as = spatial->gate(xc);
  if (recording()) {
    keep_map("channel", MapKind::Channel, ac.flatten(1));
    keep_map("spatial", MapKind::Spatial, as);
  }
  return xc * as;
}

namespace {
Attention make_cbam(int64_t channels, const Params& p, bool light) {
  const std::string name = light ? "lcbam" : "cbam";
  CbamOptions o(channels);
  const auto r = opt::reduction(p, name, 1.0 / 16, 1);
  o.rd_ratio(r.rd_ratio).rd_channels(r.rd_channels).rd_divisor(r.rd_divisor).light(light);
  o.spatial_kernel_size(opt::at_least(p, name, "spatial_kernel_size", 7, 1));
  if (o.spatial_kernel_size() % 2 == 0)
    input_error(name + ": spatial_kernel_size=" + std::to_string(o.spatial_kernel_size()) + ": expected an odd size");
  o.mlp_bias(p.get_bool("mlp_bias", false));
  return std::make_shared<CbamImpl>(o);
}
}  // namespace

void register_cbam() {
  const auto keys = opt::with_reduction({"spatial_kernel_size", "mlp_bias"});
  register_attention({"cbam", "CBAM: channel MLP on avg and max pools, then 7x7 conv + BN spatial gate", keys,
                      AttnOutput::Reweight, [](int64_t c, const Params& p) { return make_cbam(c, p, false); }});
  register_attention({"lcbam", "light CBAM: avg and max summed before the channel MLP and the spatial conv", keys,
                      AttnOutput::Reweight, [](int64_t c, const Params& p) { return make_cbam(c, p, true); }});
}

}  // namespace attncnn
