#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/common.h>
#include <attncnn/attention/non_local.h>
#include <attncnn/attention/registry.h>

#include <torch/torch.h>

#include <cmath>

#include "builtin.h"
#include "option_checks.h"

namespace attncnn {

NonLocalImpl::NonLocalImpl(const NonLocalOptions& o) : AttentionImpl("nl"), options(o) {
  const int64_t c = o.channels();
  TORCH_CHECK(c > 0, "nl: channels must be positive, got ", c);
  const int64_t rd = o.rd_channels() > 0 ? o.rd_channels() : make_divisible(c * o.rd_ratio(), o.rd_divisor());
  scale = o.use_scale() ? 1.0 / std::sqrt(static_cast<double>(c)) : 1.0;
  t = register_module("t", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, rd, 1)));
  p = register_module("p", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, rd, 1)));
  g = register_module("g", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, rd, 1)));
  z = register_module("z", torch::nn::Conv2d(torch::nn::Conv2dOptions(rd, c, 1)));
  norm = register_module("norm", BatchNorm2d(c));
  reset_parameters();
}

void NonLocalImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  for (auto* conv : {&t, &p, &g, &z}) {
    torch::nn::init::kaiming_normal_((*conv)->weight, 0.0, torch::kFanOut, torch::kReLU);
    (*conv)->bias.zero_();
  }
  norm->weight.zero_();
  norm->bias.zero_();
}

torch::Tensor NonLocalImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), "nl: expected input N×", options.channels(),
              "×H×W, got ", x.sizes());
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  auto th = t->forward(x).flatten(2).transpose(1, 2);  // N×HW×rd
  auto ph = p->forward(x).flatten(2);                  // N×rd×HW
  auto gv = g->forward(x).flatten(2).transpose(1, 2);  // N×HW×rd
  auto att = torch::softmax(torch::bmm(th, ph) * scale, 2);  // N×HW(query)×HW(key)
  auto y = torch::bmm(att, gv).transpose(1, 2).reshape({n, -1, h, w});
  if (recording()) {
    const std::vector<int64_t> qs = {(h / 2) * w + w / 2, (h / 4) * w + w / 4, (h / 4) * w + (3 * w) / 4,
                                     ((3 * h) / 4) * w + w / 4, ((3 * h) / 4) * w + (3 * w) / 4};
    auto rows = att.index_select(1, torch::tensor(qs, torch::kLong).to(x.device()));  // N×5×HW
    auto maps = rows.reshape({n, 5, h, w});
    keep_map("spatial", MapKind::Spatial, maps.slice(1, 0, 1));
    keep_map("queries", MapKind::Spatial, maps);
  }
  return norm->forward(z->forward(y)) + x;
}

void register_non_local() {
  register_attention({"nl", "non-local block (embedded Gaussian): softmax(theta^T phi) g, 1x1 conv, BN, residual",
                      opt::with_reduction({"use_scale"}), AttnOutput::Reweight,
                      [](int64_t channels, const Params& p) -> Attention {
                        NonLocalOptions o(channels);
                        const auto r = opt::reduction(p, "nl", 1.0 / 8, 8);
                        o.rd_ratio(r.rd_ratio).rd_channels(r.rd_channels).rd_divisor(r.rd_divisor);
                        o.use_scale(p.get_bool("use_scale", true));
                        return std::make_shared<NonLocalImpl>(o);
                      }});
}

}  // namespace attncnn
