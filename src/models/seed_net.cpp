#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/registry.h>
#include <attncnn/error.h>
#include <attncnn/models/capture.h>
#include <attncnn/models/seed_net.h>

#include <torch/torch.h>

#include "builtin.h"

namespace attncnn {

namespace {
torch::nn::Conv2d conv3x3(int64_t in, int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false));
}
}  // namespace

SeedNetImpl::SeedNetImpl(const ModelConfig& cfg) : cfg_(cfg) {
  const int64_t width = cfg.model_params.get_int("width", 64);
  const int64_t width3 = cfg.model_params.get_int("width3", 128);
  if (width <= 0 || width3 <= 0) input_error("seed_net: width and width3 must be positive");
  const std::string norm = cfg.model_params.get_string("norm", "batchnorm");
  if (norm != "batchnorm" && norm != "none") input_error("seed_net: norm=" + norm + ": expected batchnorm or none");
  const bool bn = norm == "batchnorm";
  conv1 = register_module("conv1", conv3x3(cfg.in_channels, width));
  if (bn) bn1 = register_module("bn1", BatchNorm2d(width));
  conv2 = register_module("conv2", conv3x3(width, width));
  if (bn) bn2 = register_module("bn2", BatchNorm2d(width));
  attn = create_attention(cfg.attn, width, cfg.attn_params);
  if (attn) {
    if (attn->output() != AttnOutput::Reweight)
      input_error("seed_net: attention '" + cfg.attn + "' pools its input and cannot sit inside the network; use "
                  "it as the classifier head instead (--head " + cfg.attn + ")");
    register_module("attn", attn);
  }
  conv3 = register_module("conv3", conv3x3(width, width3));
  if (bn) bn3 = register_module("bn3", BatchNorm2d(width3));
  int64_t features = width3;
  if (cfg.head == "attnpool") {
    pool = create_attention("attnpool", width3, cfg.head_params);
    register_module("global_pool", pool);
    features = pool->pooled_features();
  }
  fc = register_module("fc", torch::nn::Linear(features, cfg.num_classes));
}

torch::Tensor SeedNetImpl::forward_features(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == cfg_.in_channels, "seed_net: expected input N×", cfg_.in_channels,
              "×H×W, got ", x.sizes());
  auto norm = [](BatchNorm2d& bn, const torch::Tensor& t) { return bn ? bn->forward(t) : t; };
  auto y = capture_point("conv1", torch::relu(norm(bn1, conv1->forward(x))));
  y = capture_point("conv2", torch::relu(norm(bn2, conv2->forward(y))));
  if (attn) y = capture_point("attn", attn->forward(y));
  return capture_point("conv3", torch::relu(norm(bn3, conv3->forward(y))));
}

torch::Tensor SeedNetImpl::forward(const torch::Tensor& x) {
  auto f = forward_features(x);
  auto v = pool ? pool->forward(f) : f.mean({2, 3});
  return fc->forward(v);
}

void register_seed_net() {
  register_model({"seed_net", "the origin network: 3 conv-BN-ReLU, spatial attention after the second, pooled logits",
                  {"width", "width3", "norm"},
                  [](const ModelConfig& cfg) -> Model { return std::make_shared<SeedNetImpl>(cfg); }, {1, 28, 28}, 10});
}

}  // namespace attncnn
