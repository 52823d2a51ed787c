#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/bam.h>
#include <attncnn/attention/common.h>
#include <attncnn/attention/registry.h>

#include <torch/torch.h>

#include "builtin.h"
#include "option_checks.h"

namespace attncnn {

BamChannelImpl::BamChannelImpl(int64_t c, int64_t rd) {
  fc1 = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, rd, 1)));
  bn = register_module("bn", BatchNorm2d(rd));
  fc2 = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(rd, c, 1)));
}

torch::Tensor BamChannelImpl::forward(const torch::Tensor& x) {
  return fc2->forward(torch::relu(bn->forward(fc1->forward(x.mean({2, 3}, /*keepdim=*/true)))));
}

BamSpatialImpl::BamSpatialImpl(int64_t c, int64_t rd, int64_t d) {
  reduce = register_module("reduce", ConvNormAct(ConvNormActOptions(c, rd, 1)));
  conv1 = register_module("conv1", ConvNormAct(ConvNormActOptions(rd, rd, 3).dilation(d)));
  conv2 = register_module("conv2", ConvNormAct(ConvNormActOptions(rd, rd, 3).dilation(d)));
  proj = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(rd, 1, 1)));
  bn = register_module("bn", BatchNorm2d(1));
}

torch::Tensor BamSpatialImpl::forward(const torch::Tensor& x) {
  return bn->forward(proj->forward(conv2->forward(conv1->forward(reduce->forward(x)))));
}

BamImpl::BamImpl(const BamOptions& o) : AttentionImpl("bam"), options(o) {
  TORCH_CHECK(o.channels() > 0, "bam: channels must be positive, got ", o.channels());
  TORCH_CHECK(o.dilation() > 0, "bam: dilation must be positive, got ", o.dilation());
  const int64_t rd = reduced_channels(o.channels(), o.rd_ratio(), o.rd_channels(), o.rd_divisor());
  channel = register_module("channel", BamChannel(o.channels(), rd));
  spatial = register_module("spatial", BamSpatial(o.channels(), rd, o.dilation()));
}

torch::Tensor BamImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), "bam: expected input N×", options.channels(),
              "×H×W, got ", x.sizes());
  auto a = torch::sigmoid(channel->forward(x) + spatial->forward(x));  // N×C×H×W
  if (recording()) {
    keep_map("spatial", MapKind::Spatial, a.mean(1, /*keepdim=*/true));
    keep_map("channel", MapKind::Channel, a.mean({2, 3}));
  }
  return x + x * a;
}

void register_bam() {
  register_attention({"bam", "BAM: sigmoid(channel MLP + dilated spatial branch), y = x + x*a",
                      opt::with_reduction({"dilation"}), AttnOutput::Reweight,
                      [](int64_t channels, const Params& p) -> Attention {
                        BamOptions o(channels);
                        const auto r = opt::reduction(p, "bam", 1.0 / 16, 1);
                        o.rd_ratio(r.rd_ratio).rd_channels(r.rd_channels).rd_divisor(r.rd_divisor);
                        o.dilation(opt::at_least(p, "bam", "dilation", 4, 1));
                        return std::make_shared<BamImpl>(o);
                      }});
}

}  // namespace attncnn
