#include <attncnn/attention/batch_norm.h>
#include <attncnn/error.h>
#include <attncnn/models/mobilenet_v2.h>

#include <attncnn/models/capture.h>
#include <torch/torch.h>

#include "builtin.h"
#include "common.h"

namespace attncnn {

namespace {
namespace nn = torch::nn;
}  // namespace

ConvBNReLU6Impl::ConvBNReLU6Impl(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups) {
  push_back(nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).groups(groups).bias(false)));
  push_back(BatchNorm2d(out));
  push_back(nn::ReLU6());
}

InvertedResidualImpl::InvertedResidualImpl(int64_t in, int64_t out, int64_t stride, int64_t expand_ratio,
                                           Attention a, double drop_rate) {
  const int64_t hidden = in * expand_ratio;
  residual_ = stride == 1 && in == out;
  conv = nn::Sequential();
  if (expand_ratio != 1) {
    expand = ConvBNReLU6(in, hidden, 1, 1);
    conv->push_back(expand);
  }
  depthwise = ConvBNReLU6(hidden, hidden, 3, stride, hidden);
  conv->push_back(depthwise);
  project = nn::Conv2d(nn::Conv2dOptions(hidden, out, 1).bias(false));
  conv->push_back(project);
  project_bn = BatchNorm2d(out);
  conv->push_back(project_bn);
  register_module("conv", conv);
  if (a) attn = register_module("attn", a);
  if (residual_ && drop_rate > 0) drop_path = register_module("drop_path", DropPath(drop_rate));
}

torch::Tensor InvertedResidualImpl::forward(const torch::Tensor& x) {
  auto y = expand ? expand->forward(x) : x;
  y = depthwise->forward(y);
  if (attn) y = attn->forward(y);
  y = project_bn->forward(project->forward(y));
  if (!residual_) return y;
  return x + (drop_path ? drop_path->forward(y) : y);
}

MobileNetV2Impl::MobileNetV2Impl(const ModelConfig& cfg) : cfg_(cfg) {
  const std::string& name = cfg.name;
  const std::string stem = cfg.model_params.get_string("stem", "default");
  if (stem != "default" && stem != "cifar") input_error(name + ": stem='" + stem + "': expected default or cifar");
  const bool cifar = stem == "cifar";
  const double dropout = cfg.model_params.get_double("dropout", 0.2);
  if (dropout < 0 || dropout >= 1)
    input_error(name + ": dropout=" + cfg.model_params.get_string("dropout", "") + ": expected [0, 1)");
  const auto stages = detail::attn_stages(cfg, 7, name);
  const double dpr = detail::drop_path_rate(cfg, name);
  struct Row {
    int64_t t, c, n, s;
  };
  const Row rows[] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                      {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  features = nn::Sequential();
  features->push_back(ConvBNReLU6(cfg.in_channels, 32, 3, cifar ? 1 : 2));
  int64_t in = 32;
  int64_t num_blocks = 0, block_index = 0;
  for (const Row& row : rows) num_blocks += row.n;
  for (int64_t r = 0; r < 7; ++r) {
    const Row& row = rows[r];
    for (int64_t i = 0; i < row.n; ++i) {
      int64_t stride = i == 0 ? row.s : 1;
      if (cifar && r == 1 && i == 0) stride = 1;
      Attention a = stages.count(r + 1) ? detail::block_attention(cfg, in * row.t, name) : nullptr;
      const double drop = detail::block_drop_path(dpr, block_index++, num_blocks);
      features->push_back(InvertedResidual(in, row.c, stride, row.t, a, drop));
      in = row.c;
    }
  }
  features->push_back(ConvBNReLU6(in, 1280, 1, 1));
  register_module("features", features);
  int64_t width = 0;
  global_pool = detail::make_head(cfg, 1280, width);
  if (global_pool) register_module("global_pool", global_pool);
  classifier = nn::Sequential(nn::Dropout(dropout), nn::Linear(width, cfg.num_classes));
  register_module("classifier", classifier);

  // torchvision's initialisation.
  torch::NoGradGuard guard;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* c = m->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut);
      if (c->bias.defined()) c->bias.zero_();
    } else if (auto* b = m->as<BatchNorm2d>()) {
      if (b->weight.defined()) {
        b->weight.fill_(1.0);
        b->bias.zero_();
      }
    } else if (auto* l = m->as<nn::Linear>()) {
      nn::init::normal_(l->weight, 0.0, 0.01);
      if (l->bias.defined()) l->bias.zero_();
    }
  }
}

torch::Tensor MobileNetV2Impl::forward_features(const torch::Tensor& x) {
  detail::check_input(x, cfg_.in_channels, cfg_.name);
  return capture_point("features", features->forward(x));
}

torch::Tensor MobileNetV2Impl::forward(const torch::Tensor& x) {
  return classifier->forward(detail::pool_features(global_pool, forward_features(x)));
}

void register_mobilenet_v2() {
  register_model({"mobilenet_v2", "MobileNetV2 width 1.0 (torchvision layout); stem=cifar for 32x32",
                  {"stem", "dropout", "attn_stages", "drop_path_rate"},
                  [](const ModelConfig& cfg) -> Model { return std::make_shared<MobileNetV2Impl>(cfg); }, {3, 224, 224},
                  1000});
}

}  // namespace attncnn
