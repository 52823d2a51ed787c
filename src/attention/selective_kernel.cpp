#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/common.h>
#include <attncnn/attention/registry.h>
#include <attncnn/attention/selective_kernel.h>

#include <torch/torch.h>

#include <sstream>

#include "builtin.h"
#include "option_checks.h"

namespace attncnn {

SelectiveKernelAttnImpl::SelectiveKernelAttnImpl(int64_t c, int64_t p, int64_t rd) : num_paths(p) {
  fc_reduce = register_module("fc_reduce", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, rd, 1).bias(false)));
  bn = register_module("bn", BatchNorm2d(rd));
  fc_select = register_module("fc_select", torch::nn::Conv2d(torch::nn::Conv2dOptions(rd, c * p, 1).bias(false)));
}

torch::Tensor SelectiveKernelAttnImpl::forward(const torch::Tensor& stacked) {
  TORCH_CHECK(stacked.size(1) == num_paths, "sk: expected ", num_paths, " paths, got ", stacked.size(1));
  auto s = stacked.sum(1).mean({2, 3}, /*keepdim=*/true);
  auto z = fc_select->forward(torch::relu(bn->forward(fc_reduce->forward(s))));
  const int64_t n = z.size(0);
  return torch::softmax(z.view({n, num_paths, z.size(1) / num_paths, 1, 1}), 1);
}

SelectiveKernelImpl::SelectiveKernelImpl(const SelectiveKernelOptions& o) : AttentionImpl("sk"), options(o) {
  const int64_t in = o.in_channels();
  TORCH_CHECK(in > 0, "sk: channels must be positive, got ", in);
  out_channels = o.out_channels() > 0 ? o.out_channels() : in;
  TORCH_CHECK(o.kernel_size().size() >= 2, "sk: needs at least two kernel sizes");
  for (auto k : o.kernel_size()) TORCH_CHECK(k >= 3 && k % 2 == 1, "sk: kernel sizes must be odd and >= 3, got ", k);
  const int64_t p = static_cast<int64_t>(o.kernel_size().size());
  std::vector<int64_t> kernels, dilations;
  for (auto k : o.kernel_size()) {
    kernels.push_back(o.keep_3x3() ? 3 : k);
    dilations.push_back(o.keep_3x3() ? o.dilation() * (k - 1) / 2 : o.dilation());
  }
  int64_t path_in = in;
  if (o.split_input()) {
    TORCH_CHECK(in % p == 0, "sk: split_input needs channels (", in, ") divisible by the number of paths (", p, ")");
    path_in = in / p;
  }
  const int64_t groups = std::min(out_channels, o.groups());
  paths = register_module("paths", torch::nn::ModuleList());
  for (int64_t i = 0; i < p; ++i)
    paths->push_back(ConvNormAct(ConvNormActOptions(path_in, out_channels, kernels[i])
                                     .stride(o.stride())
                                     .dilation(dilations[i])
                                     .groups(groups)));
  const int64_t rd = o.rd_channels() > 0 ? o.rd_channels() : make_divisible(out_channels * o.rd_ratio(), o.rd_divisor());
  attn = register_module("attn", SelectiveKernelAttn(out_channels, p, rd));
}

torch::Tensor SelectiveKernelImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_channels(), "sk: expected input N×", options.in_channels(),
              "×H×W, got ", x.sizes());
  const int64_t p = static_cast<int64_t>(paths->size());
  std::vector<torch::Tensor> outs;
  for (int64_t i = 0; i < p; ++i) {
    auto in = options.split_input() ? x.chunk(p, 1)[i] : x;
    outs.push_back(paths[i]->as<ConvNormActImpl>()->forward(in));
  }
  auto stacked = torch::stack(outs, 1);  // N×P×out×H'×W'
  auto w = attn->forward(stacked);       // N×P×out×1×1
  if (recording())
    for (int64_t i = 0; i < p; ++i) keep_map("path" + std::to_string(i), MapKind::Channel, w.select(1, i).flatten(1));
  return (stacked * w).sum(1);
}

namespace {
// Kernel sizes are given as "3:5" (a comma would end the option); one size means two paths of it, as timm.
std::vector<int64_t> parse_kernels(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ':')) {
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 3 || v % 2 == 0)
      input_error("sk: kernel_size=" + s + ": expected odd sizes >= 3 separated by ':' (e.g. 3:5)");
    out.push_back(v);
  }
  if (out.size() == 1) out.push_back(out[0]);
  return out;
}
}  // namespace

void register_selective_kernel() {
  register_attention(
      {"sk", "selective kernel conv: 3x3 paths of growing dilation, softmax selection per channel (replaces a conv)",
       opt::with_reduction({"out_channels", "kernel_size", "stride", "dilation", "groups", "keep_3x3", "split_input"}),
       AttnOutput::Reweight, [](int64_t channels, const Params& p) -> Attention {
         SelectiveKernelOptions o(channels);
         const auto r = opt::reduction(p, "sk", 1.0 / 16, 8);
         o.rd_ratio(r.rd_ratio).rd_channels(r.rd_channels).rd_divisor(r.rd_divisor);
         o.out_channels(opt::at_least(p, "sk", "out_channels", 0, 0));
         if (p.has("kernel_size")) o.kernel_size(parse_kernels(p.get_string("kernel_size", "")));
         o.stride(opt::at_least(p, "sk", "stride", 1, 1)).dilation(opt::at_least(p, "sk", "dilation", 1, 1));
         o.groups(opt::at_least(p, "sk", "groups", 1, 1));
         o.keep_3x3(p.get_bool("keep_3x3", true)).split_input(p.get_bool("split_input", true));
         const auto paths = static_cast<int64_t>(o.kernel_size().size());
         if (o.split_input() && channels % paths != 0)
           input_error("sk: split_input needs channels=" + std::to_string(channels) + " divisible by the " +
                       std::to_string(paths) + " paths");
         return std::make_shared<SelectiveKernelImpl>(o);
       }});
}

}  // namespace attncnn
