#include <attncnn/attention/batch_norm.h>
#include <attncnn/error.h>
#include <attncnn/models/preact_resnet.h>
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

PreActBlockImpl::PreActBlockImpl(int64_t in, int64_t out, int64_t stride, double dropout, Attention a,
                                 double drop_rate)
    : dropout_(dropout) {
  bn1 = register_module("bn1", BatchNorm2d(in));
  conv1 = register_module("conv1", conv(in, out, 3, stride));
  bn2 = register_module("bn2", BatchNorm2d(out));
  conv2 = register_module("conv2", conv(out, out, 3));
  if (a) attn = register_module("attn", a);
  if (stride != 1 || in != out) shortcut = register_module("shortcut", conv(in, out, 1, stride));
  if (drop_rate > 0) drop_path = register_module("drop_path", DropPath(drop_rate));
}

torch::Tensor PreActBlockImpl::forward(const torch::Tensor& x) {
  auto pre = torch::relu(bn1->forward(x));
  auto y = conv1->forward(pre);
  y = torch::relu(bn2->forward(y));
  if (dropout_ > 0) y = torch::dropout(y, dropout_, is_training());
  y = conv2->forward(y);
  if (attn) y = attn->forward(y);
  if (drop_path) y = drop_path->forward(y);
  return y + (shortcut ? shortcut->forward(pre) : x);
}

PreActResNetImpl::PreActResNetImpl(const ModelConfig& cfg, int64_t stem, std::vector<int64_t> widths,
                                   std::vector<int64_t> blocks, double dropout)
    : cfg_(cfg) {
  const std::string& name = cfg.name;
  const auto stages = detail::attn_stages(cfg, static_cast<int64_t>(widths.size()), name);
  const double dpr = detail::drop_path_rate(cfg, name);
  int64_t num_blocks = 0, block_index = 0;
  for (int64_t n : blocks) num_blocks += n;
  conv1 = register_module("conv1", conv(cfg.in_channels, stem, 3));
  int64_t in = stem;
  for (size_t s = 0; s < widths.size(); ++s) {
    nn::Sequential seq;
    for (int64_t b = 0; b < blocks[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      Attention a = stages.count(static_cast<int64_t>(s) + 1) ? detail::block_attention(cfg, widths[s], name) : nullptr;
      seq->push_back(
          PreActBlock(in, widths[s], stride, dropout, a, detail::block_drop_path(dpr, block_index++, num_blocks)));
      in = widths[s];
    }
    layers.push_back(register_module("layer" + std::to_string(s + 1), seq));
  }
  bn = register_module("bn", BatchNorm2d(in));
  int64_t features = 0;
  global_pool = detail::make_head(cfg, in, features);
  if (global_pool) register_module("global_pool", global_pool);
  fc = register_module("fc", nn::Linear(features, cfg.num_classes));
  detail::init_resnet_weights(*this);
}

torch::Tensor PreActResNetImpl::forward_features(const torch::Tensor& x) {
  detail::check_input(x, cfg_.in_channels, cfg_.name);
  auto y = conv1->forward(x);
  static const char* const kStage[] = {"layer1", "layer2", "layer3", "layer4", "layer5", "layer6"};
  size_t stage = 0;
  for (auto& l : layers) {
    y = l->forward(y);
    if (stage < 6) y = capture_point(kStage[stage++], y);
  }
  return capture_point("final", torch::relu(bn->forward(y)));
}

torch::Tensor PreActResNetImpl::forward(const torch::Tensor& x) {
  return fc->forward(detail::pool_features(global_pool, forward_features(x)));
}

void register_preact_resnet() {
  register_model({"preact_resnet18",
                  "pre-activation ResNet-18, CIFAR layout (He et al. 2016 identity mappings; 3x3 stem, 64-512)",
                  {"attn_stages", "drop_path_rate"}, [](const ModelConfig& cfg) -> Model {
                    return std::make_shared<PreActResNetImpl>(cfg, 64, std::vector<int64_t>{64, 128, 256, 512},
                                                              std::vector<int64_t>{2, 2, 2, 2}, 0.0);
                  }});
}

}  // namespace attncnn
