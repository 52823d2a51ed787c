#include <attncnn/attention/batch_norm.h>
#include <attncnn/error.h>
#include <attncnn/models/capture.h>
#include <attncnn/models/fastnet.h>

#include <torch/torch.h>

#include <cmath>

#include "builtin.h"
#include "common.h"

namespace attncnn {

namespace {
// 3×3, padding 1, no bias; default initialisation, then an identity kernel on the first min(in, out) outputs.
torch::nn::Conv2d dirac_conv3x3(int64_t in, int64_t out) {
  torch::nn::Conv2d c(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false));
  torch::NoGradGuard g;
  torch::nn::init::dirac_(c->weight.slice(0, 0, std::min(in, out)));
  return c;
}

// BatchNorm whose scale stays 1: the weight is frozen, only the shift is learnt.
BatchNorm2d frozen_scale_bn(int64_t channels, double momentum) {
  BatchNorm2d bn(torch::nn::BatchNorm2dOptions(channels).eps(1e-12).momentum(momentum));
  {
    torch::NoGradGuard g;
    bn->weight.fill_(1.0);
  }
  bn->weight.set_requires_grad(false);
  return bn;
}

// Accumulates sum(x) and sum(xᵀx) of the k×k patches of `images` in float64, a chunk of images at a time so the
// float64 copy stays small.
void patch_moments(const torch::Tensor& images, int64_t k, torch::Tensor& sum, torch::Tensor& outer, int64_t& count) {
  const int64_t d = images.size(1) * k * k;
  const auto opts = images.options().dtype(torch::kFloat64);
  sum = torch::zeros({d}, opts);
  outer = torch::zeros({d, d}, opts);
  count = 0;
  constexpr int64_t kChunk = 256;
  for (int64_t start = 0; start < images.size(0); start += kChunk) {
    const auto x = images.slice(0, start, std::min(start + kChunk, images.size(0))).to(torch::kFloat64);
    // N×C×H'×W'×k×k → (N·H'·W')×(C·k·k), each row one patch in the conv weight's (C, kh, kw) order.
    const auto p = x.unfold(2, k, 1).unfold(3, k, 1).permute({0, 2, 3, 1, 4, 5}).reshape({-1, d});
    sum += p.sum(0);
    outer += p.t().matmul(p);
    count += p.size(0);
  }
}
}  // namespace

FastNetBlockImpl::FastNetBlockImpl(int64_t in, int64_t out, double bn_momentum, Attention a, std::string attn_point)
    : attn_point_(std::move(attn_point)) {
  conv1 = register_module("conv1", dirac_conv3x3(in, out));
  bn1 = register_module("bn1", frozen_scale_bn(out, bn_momentum));
  conv2 = register_module("conv2", dirac_conv3x3(out, out));
  bn2 = register_module("bn2", frozen_scale_bn(out, bn_momentum));
  if (a) attn = register_module("attn", a);
}

torch::Tensor FastNetBlockImpl::forward(const torch::Tensor& x) {
  auto y = torch::gelu(bn1->forward(torch::max_pool2d(conv1->forward(x), {2, 2})));
  y = torch::gelu(bn2->forward(conv2->forward(y)));
  return attn ? capture_point(attn_point_.c_str(), attn->forward(y)) : y;
}

FastNetImpl::FastNetImpl(const ModelConfig& cfg) : cfg_(cfg) {
  const std::string& name = cfg.name;
  const auto& mp = cfg.model_params;
  const auto widths = detail::int_list(mp, "widths", {64, 256, 256}, 3, name);
  kernel_ = mp.get_int("whiten_kernel", 2);
  if (kernel_ < 1 || kernel_ > 7)
    input_error(name + ": whiten_kernel=" + std::to_string(kernel_) + ": expected 1..7");
  const double momentum = mp.get_double("bn_momentum", 0.4);
  if (!(momentum > 0.0 && momentum <= 1.0))
    input_error(name + ": bn_momentum=" + mp.get_string("bn_momentum", "") + ": expected a number in (0, 1]");
  scale_ = mp.get_double("scale", 1.0 / 9.0);
  if (!std::isfinite(scale_) || scale_ <= 0.0)
    input_error(name + ": scale=" + mp.get_string("scale", "") + ": expected a positive number");
  // Attention only at the end of the last block unless attn_stages says otherwise.
  const auto stages = mp.has("attn_stages") ? detail::attn_stages(cfg, 3, name) : std::set<int64_t>{3};

  const int64_t in = cfg.in_channels;
  whiten = register_module(
      "whiten", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, 2 * in * kernel_ * kernel_, kernel_).bias(true)));
  {
    torch::NoGradGuard g;
    whiten->bias.zero_();
  }
  whiten->weight.set_requires_grad(false);

  FastNetBlock* blocks[3] = {&block1, &block2, &block3};
  int64_t prev = whiten->options.out_channels();
  for (int64_t s = 0; s < 3; ++s) {
    Attention a = stages.count(s + 1) ? detail::block_attention(cfg, widths[s], name) : nullptr;
    const std::string block = "block" + std::to_string(s + 1);
    *blocks[s] = register_module(block, FastNetBlock(prev, widths[s], momentum, a, block + ".attn"));
    prev = widths[s];
  }
  int64_t features = 0;
  pool = detail::make_head(cfg, prev, features);
  if (pool) register_module("global_pool", pool);
  fc = register_module("fc", torch::nn::Linear(torch::nn::LinearOptions(features, cfg.num_classes).bias(false)));
}

torch::Tensor FastNetImpl::forward_features(const torch::Tensor& x) {
  detail::check_input(x, cfg_.in_channels, cfg_.name);
  TORCH_CHECK(x.size(2) >= kernel_ + 7 && x.size(3) >= kernel_ + 7, cfg_.name, ": input ", x.size(2), "×",
              x.size(3), " is too small: three 2× poolings after the ", kernel_, "×", kernel_,
              " whitening need at least ", kernel_ + 7, "×", kernel_ + 7);
  auto y = torch::gelu(whiten->forward(x));
  y = capture_point("block1", block1->forward(y));
  y = capture_point("block2", block2->forward(y));
  return capture_point("block3", block3->forward(y));
}

torch::Tensor FastNetImpl::forward(const torch::Tensor& x) {
  auto f = forward_features(x);
  // Global max pooling: for the 3×3 maps of 32×32 and 28×28 inputs this is the reference design's MaxPool2d(3).
  auto v = pool ? pool->forward(f) : torch::max_pool2d(f, {f.size(2), f.size(3)}).flatten(1);
  return fc->forward(v) * scale_;
}

void FastNetImpl::init_from_data(const torch::Tensor& images) {
  const int64_t c = cfg_.in_channels, k = kernel_;
  if (!images.defined() || images.dim() != 4 || images.size(1) != c || images.size(0) < 1 || images.size(2) < k ||
      images.size(3) < k || !images.is_floating_point()) {
    const std::string got = images.defined() ? c10::str(images.scalar_type(), " tensor of shape ", images.sizes())
                                             : std::string("an undefined tensor");
    input_error(cfg_.name + ": init_from_data expects N×" + std::to_string(c) + "×H×W float images with H, W >= " +
                std::to_string(k) + "; got " + got);
  }
  torch::NoGradGuard g;
  torch::Tensor sum, outer;
  int64_t n = 0;
  patch_moments(images.detach(), k, sum, outer, n);
  // The eigen-decomposition of a (C·k²)² matrix is tiny: do it on the CPU whatever the device.
  const auto mean = (sum / static_cast<double>(n)).cpu();
  auto cov = (outer / static_cast<double>(n)).cpu() - torch::outer(mean, mean);
  cov = 0.5 * (cov + cov.t());
  auto eig = at::linalg_eigh(cov, "L");
  const auto lambda = std::get<0>(eig).clamp_min(0.0);
  const auto vecs = std::get<1>(eig);  // columns are eigenvectors
  const auto filters = (vecs.t() / (lambda + kWhitenEps).sqrt().unsqueeze(1)).reshape({-1, c, k, k});
  const auto w = torch::cat({filters, -filters}, 0);
  whiten->weight.copy_(w.to(whiten->weight.device(), whiten->weight.scalar_type()));
}

void register_fastnet() {
  register_model({"fastnet",
                  "small net for time-to-accuracy training (airbench family): frozen patch whitening, 3 conv groups, "
                  "max-pooled scaled logits",
                  {"widths", "whiten_kernel", "bn_momentum", "scale", "attn_stages"},
                  [](const ModelConfig& cfg) -> Model { return std::make_shared<FastNetImpl>(cfg); }, {3, 32, 32}, 10});
}

}  // namespace attncnn
