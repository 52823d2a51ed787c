#include <attncnn/attention/batch_norm.h>
#include <attncnn/error.h>
#include <attncnn/models/residual_attention.h>
#include <attncnn/models/resnet.h>

#include <attncnn/models/capture.h>
#include <torch/torch.h>

#include "builtin.h"
#include "common.h"

namespace attncnn {

namespace {
namespace nn = torch::nn;
nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}
torch::Tensor max_pool(const torch::Tensor& x) { return torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}); }
torch::Tensor upsample_to(const torch::Tensor& x, const torch::Tensor& like) {
  return torch::nn::functional::interpolate(
      x, torch::nn::functional::InterpolateFuncOptions()
             .size(std::vector<int64_t>{like.size(2), like.size(3)})
             .mode(torch::kBilinear)
             .align_corners(false));
}
}  // namespace

ResidualUnitImpl::ResidualUnitImpl(int64_t in, int64_t out, int64_t stride, Attention a, double drop_rate) {
  const int64_t mid = out / 4;
  bn1 = register_module("bn1", BatchNorm2d(in));
  conv1 = register_module("conv1", conv(in, mid, 1));
  bn2 = register_module("bn2", BatchNorm2d(mid));
  conv2 = register_module("conv2", conv(mid, mid, 3, stride));
  bn3 = register_module("bn3", BatchNorm2d(mid));
  conv3 = register_module("conv3", conv(mid, out, 1));
  if (a) attn = register_module("attn", a);
  if (stride != 1 || in != out) shortcut = register_module("shortcut", conv(in, out, 1, stride));
  if (drop_rate > 0) drop_path = register_module("drop_path", DropPath(drop_rate));
}

torch::Tensor ResidualUnitImpl::forward(const torch::Tensor& x) {
  auto pre = torch::relu(bn1->forward(x));
  auto y = conv1->forward(pre);
  y = conv2->forward(torch::relu(bn2->forward(y)));
  y = conv3->forward(torch::relu(bn3->forward(y)));
  if (attn) y = attn->forward(y);
  if (drop_path) y = drop_path->forward(y);
  return y + (shortcut ? shortcut->forward(pre) : x);
}

SoftMaskBranchImpl::SoftMaskBranchImpl(int64_t channels, int64_t levels)
    : AttentionImpl("softmask"), levels_(levels) {
  TORCH_CHECK(channels > 0 && levels >= 1, "softmask: channels and levels must be positive, got ", channels, ", ",
              levels);
  for (int64_t i = 0; i < levels; ++i) {
    nn::Sequential d;
    d->push_back(ResidualUnit(channels, channels));
    if (i == levels - 1) d->push_back(ResidualUnit(channels, channels));
    down.push_back(register_module("down" + std::to_string(i), d));
  }
  for (int64_t i = 0; i + 1 < levels; ++i) {
    skip.push_back(register_module("skip" + std::to_string(i), ResidualUnit(channels, channels)));
    up.push_back(register_module("up" + std::to_string(i), ResidualUnit(channels, channels)));
  }
  head = register_module("head", nn::Sequential(BatchNorm2d(channels), nn::ReLU(),
                                                nn::Conv2d(nn::Conv2dOptions(channels, channels, 1).bias(false)),
                                                BatchNorm2d(channels), nn::ReLU(),
                                                nn::Conv2d(nn::Conv2dOptions(channels, channels, 1).bias(false))));
}

torch::Tensor SoftMaskBranchImpl::mask(const torch::Tensor& x) {
  std::vector<torch::Tensor> h(levels_), s(levels_);
  auto y = x;
  for (int64_t i = 0; i < levels_; ++i) {
    y = down[i]->forward(max_pool(y));
    h[i] = y;
    if (i + 1 < levels_) s[i] = skip[i]->forward(y);
  }
  for (int64_t i = levels_ - 1; i >= 1; --i) y = up[i - 1]->forward(upsample_to(y, h[i - 1]) + s[i - 1]);
  auto m = torch::sigmoid(head->forward(upsample_to(y, x)));
  if (recording()) {
    keep_map("spatial", MapKind::Spatial, m.mean(1, /*keepdim=*/true));
    keep_map("channel", MapKind::Channel, m.mean({2, 3}));
  }
  return m;
}

torch::Tensor SoftMaskBranchImpl::forward(const torch::Tensor& x) { return (1 + mask(x)) * x; }

AttentionModuleImpl::AttentionModuleImpl(int64_t channels, int64_t mask_levels,
                                         const std::function<Attention()>& attn,
                                         const std::function<double()>& drop_path) {
  // Named locals: the rates must be drawn in forward order, and argument evaluation order is unspecified.
  double rates[4] = {0, 0, 0, 0};
  if (drop_path)
    for (double& r : rates) r = drop_path();
  first = register_module("first", ResidualUnit(channels, channels, 1, attn(), rates[0]));
  trunk = register_module("trunk", nn::Sequential(ResidualUnit(channels, channels, 1, attn(), rates[1]),
                                                  ResidualUnit(channels, channels, 1, attn(), rates[2])));
  if (mask_levels > 0) mask = register_module("mask", SoftMaskBranch(channels, mask_levels));
  last = register_module("last", ResidualUnit(channels, channels, 1, attn(), rates[3]));
}

torch::Tensor AttentionModuleImpl::forward(const torch::Tensor& x) {
  auto y = first->forward(x);
  auto t = trunk->forward(y);
  if (mask) t = (1 + mask->mask(y)) * t;
  return last->forward(t);
}

ResidualAttentionNetImpl::ResidualAttentionNetImpl(const ModelConfig& cfg, std::vector<int64_t> per_stage)
    : cfg_(cfg) {
  const std::string& name = cfg.name;
  const std::string stem = cfg.model_params.get_string("stem", "default");
  if (stem != "default" && stem != "cifar") input_error(name + ": stem='" + stem + "': expected default or cifar");
  const bool use_mask = cfg.model_params.get_bool("mask", true);
  const auto stages = detail::attn_stages(cfg, 4, name);
  const double dpr = detail::drop_path_rate(cfg, name);
  // Trunk-path units: each of stages 1-3 has its first unit and 4 per attention module; stage 4 has 3.
  const int64_t num_units = 3 + 3 + 4 * (per_stage[0] + per_stage[1] + per_stage[2]);
  int64_t unit_index = 0;
  const std::function<double()> next_drop = [&]() { return detail::block_drop_path(dpr, unit_index++, num_units); };
  if (stem == "cifar") {
    conv1 = register_module("conv1", conv(cfg.in_channels, 64, 3));
    maxpool_ = false;
  } else {
    conv1 = register_module("conv1", conv(cfg.in_channels, 64, 7, 2));
  }
  bn1 = register_module("bn1", BatchNorm2d(64));
  const int64_t widths[4] = {256, 512, 1024, 2048};
  const int64_t levels[3] = {3, 2, 1};
  nn::Sequential* targets[4] = {&stage1, &stage2, &stage3, &stage4};
  int64_t in = 64;
  for (int64_t s = 0; s < 4; ++s) {
    const int64_t w = widths[s];
    auto attn = [&, s, w]() -> Attention {
      return stages.count(s + 1) ? detail::block_attention(cfg, w, name) : nullptr;
    };
    nn::Sequential seq;
    seq->push_back(ResidualUnit(in, w, s == 0 ? 1 : 2, attn(), next_drop()));
    if (s < 3) {
      for (int64_t m = 0; m < per_stage[s]; ++m)
        seq->push_back(AttentionModule(w, use_mask ? levels[s] : 0, attn, next_drop));
    } else {
      for (int u = 0; u < 2; ++u) seq->push_back(ResidualUnit(w, w, 1, attn(), next_drop()));
    }
    in = w;
    *targets[s] = register_module("stage" + std::to_string(s + 1), seq);
  }
  bn = register_module("bn", BatchNorm2d(in));
  int64_t features = 0;
  global_pool = detail::make_head(cfg, in, features);
  if (global_pool) register_module("global_pool", global_pool);
  fc = register_module("fc", nn::Linear(features, cfg.num_classes));
  detail::init_resnet_weights(*this);
}

torch::Tensor ResidualAttentionNetImpl::forward_features(const torch::Tensor& x) {
  detail::check_input(x, cfg_.in_channels, cfg_.name);
  auto y = torch::relu(bn1->forward(conv1->forward(x)));
  if (maxpool_) y = max_pool(y);
  y = capture_point("stage1", stage1->forward(y));
  y = capture_point("stage2", stage2->forward(y));
  y = capture_point("stage3", stage3->forward(y));
  y = capture_point("stage4", stage4->forward(y));
  return capture_point("final", torch::relu(bn->forward(y)));
}

torch::Tensor ResidualAttentionNetImpl::forward(const torch::Tensor& x) {
  return fc->forward(detail::pool_features(global_pool, forward_features(x)));
}

void register_residual_attention() {
  const std::vector<std::string> opts = {"stem", "mask", "attn_stages", "drop_path_rate"};
  register_model({"attention56",
                  "Residual Attention Network 56 (Wang et al. 2017): trunk + hourglass soft mask, (1+M)*T; stem=cifar",
                  opts, [](const ModelConfig& cfg) -> Model {
                    return std::make_shared<ResidualAttentionNetImpl>(cfg, std::vector<int64_t>{1, 1, 1});
                  }, {3, 224, 224}, 1000});
  register_model({"attention92",
                  "Residual Attention Network 92 (Wang et al. 2017): 1/2/3 attention modules per stage; stem=cifar",
                  opts, [](const ModelConfig& cfg) -> Model {
                    return std::make_shared<ResidualAttentionNetImpl>(cfg, std::vector<int64_t>{1, 2, 3});
                  }, {3, 224, 224}, 1000});
}

}  // namespace attncnn
