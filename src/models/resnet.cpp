#include <attncnn/attention/batch_norm.h>
#include <attncnn/error.h>
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
}  // namespace

namespace detail {
nn::Sequential make_downsample(int64_t in, int64_t out, int64_t stride, bool avg) {
  nn::Sequential seq;
  if (avg) {
    if (stride == 1)
      seq->push_back(nn::Identity());
    else
      seq->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(stride).ceil_mode(true).count_include_pad(false)));
    seq->push_back(conv(in, out, 1));
  } else {
    seq->push_back(conv(in, out, 1, stride));
  }
  seq->push_back(BatchNorm2d(out));
  return seq;
}

void init_resnet_weights(nn::Module& root) {
  torch::NoGradGuard guard;
  for (auto& m : root.modules(/*include_self=*/false)) {
    if (auto* c = m->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* b = m->as<BatchNorm2d>()) {
      if (b->weight.defined()) {
        b->weight.fill_(1.0);
        b->bias.zero_();
      }
    }
  }
}
}  // namespace detail

namespace {
// Option A's parameter-free shortcut: subsample, then zero channels split before and after the old ones.
torch::Tensor pad_shortcut(const torch::Tensor& x, int64_t stride, int64_t before, int64_t after) {
  auto s = stride > 1 ? x.slice(2, 0, c10::nullopt, stride).slice(3, 0, c10::nullopt, stride) : x;
  return torch::constant_pad_nd(s, {0, 0, 0, 0, before, after}, 0);
}
}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride, ShortcutKind shortcut,
                               Attention attn, double drop_rate) {
  conv1 = register_module("conv1", conv(inplanes, planes, 3, stride));
  bn1 = register_module("bn1", BatchNorm2d(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3));
  bn2 = register_module("bn2", BatchNorm2d(planes));
  if (attn) se = register_module("se", attn);
  if (drop_rate > 0) drop_path = register_module("drop_path", DropPath(drop_rate));
  if (stride != 1 || inplanes != planes) {
    if (shortcut == ShortcutKind::Pad) {
      TORCH_CHECK(planes >= inplanes, "option A shortcut cannot reduce channels (", inplanes, " → ", planes, ")");
      pad_stride_ = stride;
      pad_before_ = (planes - inplanes) / 2;
      pad_after_ = planes - inplanes - pad_before_;
    } else {
      downsample = register_module(
          "downsample", detail::make_downsample(inplanes, planes, stride, shortcut == ShortcutKind::AvgProjection));
    }
  }
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(bn1->forward(conv1->forward(x)));
  y = bn2->forward(conv2->forward(y));
  if (se) y = se->forward(y);
  if (drop_path) y = drop_path->forward(y);
  torch::Tensor sc = x;
  if (downsample)
    sc = downsample->forward(x);
  else if (pad_stride_ > 0)
    sc = pad_shortcut(x, pad_stride_, pad_before_, pad_after_);
  return torch::relu(y + sc);
}

BottleneckImpl::BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride, ShortcutKind shortcut,
                               Attention attn, double drop_rate) {
  const int64_t out = planes * expansion;
  conv1 = register_module("conv1", conv(inplanes, planes, 1));
  bn1 = register_module("bn1", BatchNorm2d(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, stride));
  bn2 = register_module("bn2", BatchNorm2d(planes));
  conv3 = register_module("conv3", conv(planes, out, 1));
  bn3 = register_module("bn3", BatchNorm2d(out));
  if (attn) se = register_module("se", attn);
  if (drop_rate > 0) drop_path = register_module("drop_path", DropPath(drop_rate));
  if (stride != 1 || inplanes != out) {
    TORCH_CHECK(shortcut != ShortcutKind::Pad, "Bottleneck: the option A shortcut is for BasicBlock only");
    downsample = register_module(
        "downsample", detail::make_downsample(inplanes, out, stride, shortcut == ShortcutKind::AvgProjection));
  }
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(bn1->forward(conv1->forward(x)));
  y = torch::relu(bn2->forward(conv2->forward(y)));
  y = bn3->forward(conv3->forward(y));
  if (se) y = se->forward(y);
  if (drop_path) y = drop_path->forward(y);
  return torch::relu(y + (downsample ? downsample->forward(x) : x));
}

ResNetImpl::ResNetImpl(const ModelConfig& cfg, bool bottleneck, std::vector<int64_t> layers) : cfg_(cfg) {
  const std::string& name = cfg.name;
  const auto& mp = cfg.model_params;
  layers = detail::int_list(mp, "layers", layers, 4, name);
  const auto channels = detail::int_list(mp, "channels", {64, 128, 256, 512}, 4, name);
  const std::string stem = mp.get_string("stem", "default");
  if (stem != "default" && stem != "cifar" && stem != "deep")
    input_error(name + ": stem='" + stem + "': expected default, cifar or deep");
  const bool avg_down = mp.get_bool("avg_down", false);
  const int64_t stem_width = mp.get_int("stem_width", 32);
  if (stem_width <= 0) input_error(name + ": stem_width=" + std::to_string(stem_width) + ": expected >= 1");
  const auto stages = detail::attn_stages(cfg, 4, name);
  const double dpr = detail::drop_path_rate(cfg, name);
  const int64_t num_blocks = layers[0] + layers[1] + layers[2] + layers[3];

  int64_t inplanes = 64;
  if (stem == "deep") {
    inplanes = 2 * stem_width;
    nn::Sequential s;
    s->push_back(conv(cfg.in_channels, stem_width, 3, 2));
    s->push_back(BatchNorm2d(stem_width));
    s->push_back(nn::ReLU());
    s->push_back(conv(stem_width, stem_width, 3));
    s->push_back(BatchNorm2d(stem_width));
    s->push_back(nn::ReLU());
    s->push_back(conv(stem_width, inplanes, 3));
    conv1_deep = register_module("conv1", s);
  } else if (stem == "cifar") {
    conv1 = register_module("conv1", conv(cfg.in_channels, inplanes, 3));
    maxpool_ = false;
  } else {
    conv1 = register_module("conv1", conv(cfg.in_channels, inplanes, 7, 2));
  }
  bn1 = register_module("bn1", BatchNorm2d(inplanes));

  const ShortcutKind sc = avg_down ? ShortcutKind::AvgProjection : ShortcutKind::Projection;
  const int64_t expansion = bottleneck ? BottleneckImpl::expansion : BasicBlockImpl::expansion;
  nn::Sequential* targets[4] = {&layer1, &layer2, &layer3, &layer4};
  int64_t block_index = 0;
  for (int64_t s = 0; s < 4; ++s) {
    const int64_t planes = channels[s];
    nn::Sequential seq;
    for (int64_t b = 0; b < layers[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      Attention a = stages.count(s + 1) ? detail::block_attention(cfg, planes * expansion, name) : nullptr;
      const double drop = detail::block_drop_path(dpr, block_index++, num_blocks);
      if (bottleneck)
        seq->push_back(Bottleneck(inplanes, planes, stride, sc, a, drop));
      else
        seq->push_back(BasicBlock(inplanes, planes, stride, sc, a, drop));
      inplanes = planes * expansion;
    }
    *targets[s] = register_module("layer" + std::to_string(s + 1), seq);
  }
  int64_t features = 0;
  global_pool = detail::make_head(cfg, inplanes, features);
  if (global_pool) register_module("global_pool", global_pool);
  fc = register_module("fc", nn::Linear(features, cfg.num_classes));
  detail::init_resnet_weights(*this);
}

torch::Tensor ResNetImpl::forward_features(const torch::Tensor& x) {
  detail::check_input(x, cfg_.in_channels, cfg_.name);
  auto y = conv1_deep ? conv1_deep->forward(x) : conv1->forward(x);
  y = torch::relu(bn1->forward(y));
  if (maxpool_) y = torch::max_pool2d(y, {3, 3}, {2, 2}, {1, 1});
  y = capture_point("layer1", layer1->forward(y));
  y = capture_point("layer2", layer2->forward(y));
  y = capture_point("layer3", layer3->forward(y));
  return capture_point("layer4", layer4->forward(y));
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& x) {
  return fc->forward(detail::pool_features(global_pool, forward_features(x)));
}

void register_resnet() {
  const std::vector<std::string> opts = {"stem", "stem_width", "avg_down", "layers", "channels", "attn_stages",
                                         "drop_path_rate"};
  struct Def {
    const char* name;
    bool bottleneck;
    std::vector<int64_t> layers;
    const char* summary;
  };
  const Def defs[] = {
      {"resnet18", false, {2, 2, 2, 2}, "ResNet-18 (torchvision/timm layout, BasicBlock 2-2-2-2); stem=cifar for 32x32"},
      {"resnet26", true, {2, 2, 2, 2}, "ResNet-26 (timm layout, Bottleneck 2-2-2-2); stem=cifar for 32x32"},
      {"resnet34", false, {3, 4, 6, 3}, "ResNet-34 (torchvision/timm layout, BasicBlock 3-4-6-3); stem=cifar for 32x32"},
      {"resnet50", true, {3, 4, 6, 3}, "ResNet-50 (torchvision/timm layout, Bottleneck 3-4-6-3); stem=cifar for 32x32"},
      {"resnet101", true, {3, 4, 23, 3}, "ResNet-101 (torchvision/timm layout, Bottleneck 3-4-23-3)"},
  };
  for (const auto& d : defs) {
    const bool bottleneck = d.bottleneck;
    const auto layers = d.layers;
    register_model({d.name, d.summary, opts, [bottleneck, layers](const ModelConfig& cfg) -> Model {
                      return std::make_shared<ResNetImpl>(cfg, bottleneck, layers);
                    }, {3, 224, 224}, 1000});
  }
}

}  // namespace attncnn
