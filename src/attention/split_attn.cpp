#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/common.h>
#include <attncnn/attention/registry.h>
#include <attncnn/attention/split_attn.h>

#include <torch/torch.h>

#include "builtin.h"
#include "option_checks.h"

namespace attncnn {

SplitAttnImpl::SplitAttnImpl(const SplitAttnOptions& o) : AttentionImpl("splat"), options(o) {
  const int64_t in = o.in_channels();
  TORCH_CHECK(in > 0, "splat: channels must be positive, got ", in);
  TORCH_CHECK(o.radix() >= 1, "splat: radix must be at least 1, got ", o.radix());
  out_channels = o.out_channels() > 0 ? o.out_channels() : in;
  const int64_t radix = o.radix(), groups = o.groups();
  const int64_t mid = out_channels * radix;
  const int64_t attn_chs =
      o.rd_channels() > 0 ? o.rd_channels() * radix : make_divisible(in * radix * o.rd_ratio(), o.rd_divisor(), 32);
  TORCH_CHECK(in % (groups * radix) == 0 && mid % (groups * radix) == 0, "splat: channels ", in, " and out_channels ",
              out_channels, " must divide into groups·radix = ", groups * radix);
  TORCH_CHECK(out_channels % groups == 0 && attn_chs % groups == 0, "splat: out_channels ", out_channels,
              " and attention width ", attn_chs, " must divide into ", groups, " groups");
  const int64_t pad = o.padding() >= 0 ? o.padding() : o.kernel_size() / 2;
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, mid, o.kernel_size())
                                                       .stride(o.stride())
                                                       .padding(pad)
                                                       .dilation(o.dilation())
                                                       .groups(groups * radix)
                                                       .bias(o.bias())));
  if (o.use_bn()) bn0 = register_module("bn0", BatchNorm2d(mid));
  fc1 = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(out_channels, attn_chs, 1).groups(groups)));
  if (o.use_bn()) bn1 = register_module("bn1", BatchNorm2d(attn_chs));
  fc2 = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(attn_chs, mid, 1).groups(groups)));
}

torch::Tensor SplitAttnImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_channels(), "splat: expected input N×", options.in_channels(),
              "×H×W, got ", x.sizes());
  const int64_t radix = options.radix(), groups = options.groups();
  auto u = conv->forward(x);
  if (bn0) u = bn0->forward(u);
  u = torch::relu(u);
  const int64_t n = u.size(0), h = u.size(2), w = u.size(3), c = out_channels;
  auto splits = radix > 1 ? u.reshape({n, radix, c, h, w}) : u.unsqueeze(1);
  auto s = splits.sum(1).mean({2, 3}, /*keepdim=*/true);
  auto z = fc1->forward(s);
  if (bn1) z = bn1->forward(z);
  auto a = fc2->forward(torch::relu(z));  // N×(groups·radix·c/groups)×1×1, ordered (group, radix, channel)
  torch::Tensor weights;                  // N×radix×c
  if (radix > 1) {
    // Softmax over the radix splits within each group; reorder (group, radix, j) to (radix, group·j) = (radix, c).
    weights = torch::softmax(a.view({n, groups, radix, -1}), 2).transpose(1, 2).reshape({n, radix, c});
  } else {
    weights = torch::sigmoid(a.view({n, 1, c}));
  }
  if (recording()) {
    if (radix > 1) {
      for (int64_t r = 0; r < radix; ++r) keep_map("radix" + std::to_string(r), MapKind::Channel, weights.select(1, r));
    } else {
      keep_map("channel", MapKind::Channel, weights.select(1, 0));
    }
  }
  return (splits * weights.view({n, radix, c, 1, 1})).sum(1).contiguous();
}

void register_split_attn() {
  register_attention(
      {"splat", "split attention (ResNeSt): radix-split grouped conv, softmax over splits per channel (replaces a conv)",
       opt::with_reduction({"out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias", "radix",
                            "norm_layer"}),
       AttnOutput::Reweight, [](int64_t channels, const Params& p) -> Attention {
         SplitAttnOptions o(channels);
         const auto r = opt::reduction(p, "splat", 0.25, 8);
         o.rd_ratio(r.rd_ratio).rd_channels(r.rd_channels).rd_divisor(r.rd_divisor);
         o.out_channels(opt::at_least(p, "splat", "out_channels", 0, 0));
         o.kernel_size(opt::at_least(p, "splat", "kernel_size", 3, 1));
         o.stride(opt::at_least(p, "splat", "stride", 1, 1)).padding(opt::at_least(p, "splat", "padding", -1, -1));
         o.dilation(opt::at_least(p, "splat", "dilation", 1, 1)).groups(opt::at_least(p, "splat", "groups", 1, 1));
         o.bias(p.get_bool("bias", false)).radix(opt::at_least(p, "splat", "radix", 2, 1));
         const std::string norm = p.get_string("norm_layer", "none");
         if (norm != "none" && norm != "batchnorm")
           input_error("splat: norm_layer=" + norm + ": expected none or batchnorm");
         o.use_bn(norm == "batchnorm");
         const int64_t out = o.out_channels() > 0 ? o.out_channels() : channels;
         if (channels % (o.groups() * o.radix()) != 0 || out % o.groups() != 0)
           input_error("splat: channels=" + std::to_string(channels) + ", out_channels=" + std::to_string(out) +
                       ": expected channels divisible by groups*radix = " + std::to_string(o.groups() * o.radix()) +
                       " and out_channels by groups");
         return std::make_shared<SplitAttnImpl>(o);
       }});
}

}  // namespace attncnn
