#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/layers.h>
#include <attncnn/error.h>

#include <torch/torch.h>

namespace attncnn {

LayerNorm2dImpl::LayerNorm2dImpl(int64_t c, double e) : channels(c), eps(e) {
  weight = register_parameter("weight", torch::ones({c}));
  bias = register_parameter("bias", torch::zeros({c}));
}

torch::Tensor LayerNorm2dImpl::forward(const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  auto y = F::layer_norm(x.permute({0, 2, 3, 1}),
                         F::LayerNormFuncOptions({channels}).weight(weight).bias(bias).eps(eps));
  return y.permute({0, 3, 1, 2});
}

ConvMlpImpl::ConvMlpImpl(int64_t in, int64_t hidden, int64_t out, bool layer_norm) {
  fc1 = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, hidden, 1)));
  if (layer_norm) norm = register_module("norm", LayerNorm2d(hidden));
  fc2 = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, out, 1)));
}

torch::Tensor ConvMlpImpl::forward(const torch::Tensor& x) {
  auto h = fc1->forward(x);
  if (norm) h = norm->forward(h);
  return fc2->forward(torch::relu(h));
}

int64_t timm_padding(int64_t kernel_size, int64_t stride, int64_t dilation) {
  return ((stride - 1) + dilation * (kernel_size - 1)) / 2;
}

ConvNormActImpl::ConvNormActImpl(const ConvNormActOptions& o) : options(o) {
  conv = register_module(
      "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
                                    .stride(o.stride())
                                    .padding(timm_padding(o.kernel_size(), o.stride(), o.dilation()))
                                    .dilation(o.dilation())
                                    .groups(o.groups())
                                    .bias(o.bias())));
  bn = register_module("bn", BatchNorm2d(o.out_channels()));
}

torch::Tensor ConvNormActImpl::forward(const torch::Tensor& x) {
  auto y = bn->forward(conv->forward(x));
  return options.apply_act() ? torch::relu(y) : y;
}

torch::Tensor apply_gate(const std::string& gate, const torch::Tensor& x) {
  if (gate == "sigmoid") return torch::sigmoid(x);
  if (gate == "hard_sigmoid") return torch::hardsigmoid(x);
  input_error("gate_layer=" + gate + ": expected sigmoid or hard_sigmoid");
}

void check_gate(const std::string& gate, const std::string& context) {
  if (gate != "sigmoid" && gate != "hard_sigmoid")
    input_error(context + ": gate_layer=" + gate + ": expected sigmoid or hard_sigmoid");
}

}  // namespace attncnn
