#include <attncnn/attention/common.h>
#include <attncnn/attention/registry.h>
#include <attncnn/attention/sgate.h>
#include <attncnn/error.h>

#include <torch/torch.h>

#include "builtin.h"

namespace attncnn {

SGateImpl::SGateImpl(const SGateOptions& opts) : AttentionImpl("sgate"), options(opts) {
  TORCH_CHECK(options.channels() > 0, "sgate: channels must be positive, got ", options.channels());
  TORCH_CHECK(options.rd_ratio() > 0, "sgate: rd_ratio must be positive, got ", options.rd_ratio());
  const int64_t hidden =
      reduced_channels(options.channels(), options.rd_ratio(), options.rd_channels(), options.rd_divisor());
  conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.channels(), hidden, 1)));
  conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, 1, 1)));
}

torch::Tensor SGateImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), "sgate: expected input N×", options.channels(),
              "×H×W, got ", x.sizes());
  // The gate stays N×1×H×W and broadcasts over channels; never unsqueeze it (that makes N×N×C×H×W).
  auto a = torch::sigmoid(conv2->forward(torch::relu(conv1->forward(x))));
  if (recording()) keep_map("spatial", MapKind::Spatial, a);
  return x * a;
}

void register_sgate() {
  register_attention({"sgate", "spatial gate: 1x1 conv, ReLU, 1x1 conv to one map, sigmoid, multiply",
                      {"rd_ratio", "rd_channels", "rd_divisor", "reduction"}, AttnOutput::Reweight,
                      [](int64_t channels, const Params& p) -> Attention {
                        SGateOptions o(channels);
                        double ratio = p.get_double("rd_ratio", 1.0);
                        if (p.has("reduction")) {
                          const double r = p.get_double("reduction", 1.0);
                          if (r <= 0) input_error("sgate: reduction=" + p.get_string("reduction", "") +
                                                  ": expected a positive number");
                          ratio = 1.0 / r;
                        }
                        if (ratio <= 0) input_error("sgate: rd_ratio must be positive");
                        o.rd_ratio(ratio)
                            .rd_channels(p.get_int("rd_channels", 0))
                            .rd_divisor(p.get_int("rd_divisor", 1));
                        return std::make_shared<SGateImpl>(o);
                      }});
}

}  // namespace attncnn
