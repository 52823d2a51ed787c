#include <attncnn/attention/batch_norm.h>
#include <attncnn/error.h>
#include <attncnn/models/cifar_resnet.h>

#include <attncnn/models/capture.h>
#include <torch/torch.h>

#include "builtin.h"
#include "common.h"

namespace attncnn {

CifarResNetImpl::CifarResNetImpl(const ModelConfig& cfg, int64_t depth) : cfg_(cfg) {
  const std::string& name = cfg.name;
  if (depth < 8 || (depth - 2) % 6 != 0)
    input_error(name + ": depth " + std::to_string(depth) + ": expected 6n+2 (20, 32, 44, 56, 110)");
  const int64_t n = (depth - 2) / 6;
  const std::string shortcut = cfg.model_params.get_string("shortcut", "A");
  if (shortcut != "A" && shortcut != "B" && shortcut != "a" && shortcut != "b")
    input_error(name + ": shortcut='" + shortcut + "': expected A (zero padding) or B (1x1 projection)");
  const ShortcutKind sc = (shortcut == "A" || shortcut == "a") ? ShortcutKind::Pad : ShortcutKind::Projection;
  const auto stages = detail::attn_stages(cfg, 3, name);
  const double dpr = detail::drop_path_rate(cfg, name);

  conv1 = register_module(
      "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(cfg.in_channels, 16, 3).padding(1).bias(false)));
  bn1 = register_module("bn1", BatchNorm2d(16));
  int64_t inplanes = 16;
  torch::nn::Sequential* targets[3] = {&layer1, &layer2, &layer3};
  for (int64_t s = 0; s < 3; ++s) {
    const int64_t planes = int64_t{16} << s;
    torch::nn::Sequential seq;
    for (int64_t b = 0; b < n; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      Attention a = stages.count(s + 1) ? detail::block_attention(cfg, planes, name) : nullptr;
      seq->push_back(BasicBlock(inplanes, planes, stride, sc, a, detail::block_drop_path(dpr, s * n + b, 3 * n)));
      inplanes = planes;
    }
    *targets[s] = register_module("layer" + std::to_string(s + 1), seq);
  }
  int64_t features = 0;
  global_pool = detail::make_head(cfg, inplanes, features);
  if (global_pool) register_module("global_pool", global_pool);
  fc = register_module("fc", torch::nn::Linear(features, cfg.num_classes));
  detail::init_resnet_weights(*this);
}

torch::Tensor CifarResNetImpl::forward_features(const torch::Tensor& x) {
  detail::check_input(x, cfg_.in_channels, cfg_.name);
  auto y = capture_point("stem", torch::relu(bn1->forward(conv1->forward(x))));
  y = capture_point("layer1", layer1->forward(y));
  y = capture_point("layer2", layer2->forward(y));
  return capture_point("layer3", layer3->forward(y));
}

torch::Tensor CifarResNetImpl::forward(const torch::Tensor& x) {
  return fc->forward(detail::pool_features(global_pool, forward_features(x)));
}

void register_cifar_resnet() {
  for (int64_t depth : {20, 32, 44, 56, 110}) {
    const std::string name = "resnet" + std::to_string(depth);
    register_model({name,
                    "CIFAR ResNet-" + std::to_string(depth) +
                        " (He et al. 2016: 3 stages of 16/32/64, BasicBlocks, option A shortcuts)",
                    {"shortcut", "attn_stages", "drop_path_rate"}, [depth](const ModelConfig& cfg) -> Model {
                      return std::make_shared<CifarResNetImpl>(cfg, depth);
                    }});
  }
}

}  // namespace attncnn
