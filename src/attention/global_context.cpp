#include <attncnn/attention/common.h>
#include <attncnn/attention/global_context.h>
#include <attncnn/attention/registry.h>

#include <torch/torch.h>

#include "builtin.h"
#include "option_checks.h"

namespace attncnn {

GlobalContextImpl::GlobalContextImpl(const GlobalContextOptions& o, const std::string& name)
    : AttentionImpl(name), options(o) {
  const int64_t c = o.channels();
  TORCH_CHECK(c > 0, name, ": channels must be positive, got ", c);
  check_gate(o.gate_layer(), name);
  if (o.use_attn()) conv_attn = register_module("conv_attn", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, 1, 1)));
  const int64_t rd = reduced_channels(c, o.rd_ratio(), o.rd_channels(), o.rd_divisor());
  if (o.fuse_add()) mlp_add = register_module("mlp_add", ConvMlp(c, rd, c, /*layer_norm=*/true));
  if (o.fuse_scale()) mlp_scale = register_module("mlp_scale", ConvMlp(c, rd, c, /*layer_norm=*/true));
  reset_parameters();
}

void GlobalContextImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  if (conv_attn) torch::nn::init::kaiming_normal_(conv_attn->weight, 0.0, torch::kFanIn, torch::kReLU);
  if (mlp_add) mlp_add->fc2->weight.zero_();
}

torch::Tensor GlobalContextImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), type_name(), ": expected input N×",
              options.channels(), "×H×W, got ", x.sizes());
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  torch::Tensor ctx, alpha;
  if (conv_attn) {
    alpha = torch::softmax(conv_attn->forward(x).reshape({n, 1, h * w}), -1);        // N×1×HW
    ctx = torch::bmm(x.reshape({n, c, h * w}), alpha.transpose(1, 2)).view({n, c, 1, 1});
  } else {
    ctx = x.mean({2, 3}, /*keepdim=*/true);
  }
  auto y = x;
  torch::Tensor gate;
  if (mlp_scale) {
    gate = apply_gate(options.gate_layer(), mlp_scale->forward(ctx));
    y = y * gate;
  }
  if (mlp_add) y = y + mlp_add->forward(ctx);
  if (recording()) {
    if (alpha.defined()) keep_map("spatial", MapKind::Spatial, alpha.view({n, 1, h, w}));
    if (gate.defined()) keep_map("channel", MapKind::Channel, gate.flatten(1));
  }
  return y;
}

namespace {
Attention make_gc(int64_t channels, const Params& p, const std::string& name, bool add, bool scale) {
  GlobalContextOptions o(channels);
  const auto r = opt::reduction(p, name, 1.0 / 8, 1);
  o.rd_ratio(r.rd_ratio).rd_channels(r.rd_channels).rd_divisor(r.rd_divisor);
  o.use_attn(p.get_bool("use_attn", true));
  o.fuse_add(p.get_bool("fuse_add", add)).fuse_scale(p.get_bool("fuse_scale", scale));
  if (!o.fuse_add() && !o.fuse_scale()) input_error(name + ": fuse_add and fuse_scale are both false: nothing to do");
  o.gate_layer(p.get_string("gate_layer", "sigmoid"));
  return std::make_shared<GlobalContextImpl>(o, name);
}
}  // namespace

void register_global_context() {
  const std::vector<std::string> keys = opt::with_reduction({"use_attn", "fuse_add", "fuse_scale", "gate_layer"});
  register_attention({"gc", "global context: softmax-pooled context, LayerNorm MLP, sigmoid scale of channels", keys,
                      AttnOutput::Reweight,
                      [](int64_t c, const Params& p) { return make_gc(c, p, "gc", false, true); }});
  register_attention({"gca", "global context, additive fusion: x + MLP(softmax-pooled context)", keys,
                      AttnOutput::Reweight,
                      [](int64_t c, const Params& p) { return make_gc(c, p, "gca", true, false); }});
}

}  // namespace attncnn
