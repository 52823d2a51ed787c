#include <attncnn/attention/common.h>
#include <attncnn/attention/eca.h>
#include <attncnn/attention/layers.h>
#include <attncnn/attention/registry.h>

#include <torch/torch.h>

#include <cmath>

#include "builtin.h"
#include "option_checks.h"

namespace attncnn {

int64_t eca_kernel_size(int64_t channels, double gamma, double beta) {
  const auto t = static_cast<int64_t>(std::abs(std::log2(static_cast<double>(channels)) + beta) / gamma);
  return std::max<int64_t>(t % 2 ? t : t + 1, 3);
}

EcaImpl::EcaImpl(const EcaOptions& o)
    : AttentionImpl(o.circular() ? "ceca" : (o.use_mlp() ? "ecam" : "eca")), options(o) {
  TORCH_CHECK(o.channels() > 0, type_name(), ": channels must be positive, got ", o.channels());
  TORCH_CHECK(!(o.circular() && o.use_mlp()), "ceca: use_mlp is not supported with circular padding");
  check_gate(o.gate_layer(), type_name());
  kernel_size = o.kernel_size() > 0 ? o.kernel_size() : eca_kernel_size(o.channels(), o.gamma(), o.beta());
  TORCH_CHECK(kernel_size % 2 == 1, type_name(), ": kernel_size must be odd, got ", kernel_size);
  const int64_t pad = (kernel_size - 1) / 2;
  if (o.circular()) {
    TORCH_CHECK(pad <= o.channels(), "ceca: kernel_size ", kernel_size, " too large for ", o.channels(), " channels");
    conv = register_module("conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(1, 1, kernel_size).bias(false)));
  } else if (o.use_mlp()) {
    const int64_t rd = o.rd_channels() > 0 ? o.rd_channels() : make_divisible(o.channels() * o.rd_ratio(), o.rd_divisor());
    conv = register_module("conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(1, rd, 1)));
    conv2 = register_module("conv2", torch::nn::Conv1d(torch::nn::Conv1dOptions(rd, 1, kernel_size).padding(pad)));
  } else {
    conv = register_module("conv",
                           torch::nn::Conv1d(torch::nn::Conv1dOptions(1, 1, kernel_size).padding(pad).bias(false)));
  }
}

torch::Tensor EcaImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), type_name(), ": expected input N×", options.channels(),
              "×H×W, got ", x.sizes());
  const int64_t n = x.size(0), c = x.size(1);
  auto s = x.mean({2, 3}).view({n, 1, c});
  if (options.circular()) {
    // Circular padding by hand: the wrap-around is the point of ceca, and cat keeps both libtorch versions equal.
    const int64_t pad = (kernel_size - 1) / 2;
    if (pad > 0) s = torch::cat({s.slice(2, c - pad, c), s, s.slice(2, 0, pad)}, 2);
  }
  auto z = conv->forward(s);
  if (conv2) z = conv2->forward(torch::relu(z));
  auto a = apply_gate(options.gate_layer(), z).view({n, c, 1, 1});
  if (recording()) keep_map("channel", MapKind::Channel, a.flatten(1));
  return x * a;
}

namespace {
Attention make_eca(int64_t channels, const Params& p, bool circular, bool mlp, const std::string& ctx) {
  EcaOptions o(channels);
  o.circular(circular).use_mlp(mlp || p.get_bool("use_mlp", false));
  o.kernel_size(opt::at_least(p, ctx, "kernel_size", 0, 0));
  if (o.kernel_size() > 0 && o.kernel_size() % 2 == 0)
    input_error(ctx + ": kernel_size=" + std::to_string(o.kernel_size()) + ": expected an odd size");
  o.gamma(opt::positive(p, ctx, "gamma", 2.0)).beta(p.get_double("beta", 1.0));
  o.gate_layer(p.get_string("gate_layer", "sigmoid"));
  if (!circular) {
    const auto r = opt::reduction(p, ctx, 1.0 / 8, 8);
    o.rd_ratio(r.rd_ratio).rd_channels(r.rd_channels).rd_divisor(r.rd_divisor);
  }
  return std::make_shared<EcaImpl>(o);
}
}  // namespace

void register_eca() {
  register_attention({"eca", "efficient channel attention: global mean, 1-D conv across channels, sigmoid",
                      opt::with_reduction({"kernel_size", "gamma", "beta", "use_mlp", "gate_layer"}),
                      AttnOutput::Reweight,
                      [](int64_t c, const Params& p) { return make_eca(c, p, false, false, "eca"); }});
  register_attention({"ecam", "eca with a two-layer 1-D MLP across channels (timm's ecam)",
                      opt::with_reduction({"kernel_size", "gamma", "beta", "gate_layer"}), AttnOutput::Reweight,
                      [](int64_t c, const Params& p) { return make_eca(c, p, false, true, "ecam"); }});
  register_attention({"ceca", "circular eca: the 1-D channel conv wraps around (circular padding)",
                      {"kernel_size", "gamma", "beta", "gate_layer"}, AttnOutput::Reweight,
                      [](int64_t c, const Params& p) { return make_eca(c, p, true, false, "ceca"); }});
}

}  // namespace attncnn
