#include <attncnn/attention/attnpool.h>
#include <attncnn/attention/registry.h>
#include <attncnn/error.h>

#include <torch/torch.h>

#include "builtin.h"

namespace attncnn {

AttnPoolImpl::AttnPoolImpl(const AttnPoolOptions& opts) : AttentionImpl("attnpool"), options(opts) {
  TORCH_CHECK(options.channels() > 0, "attnpool: channels must be positive, got ", options.channels());
  TORCH_CHECK(options.num_heads() > 0, "attnpool: num_heads must be positive, got ", options.num_heads());
  score = register_module("score",
                          torch::nn::Conv2d(torch::nn::Conv2dOptions(options.channels(), options.num_heads(), 1)));
}

torch::Tensor AttnPoolImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.channels(), "attnpool: expected input N×", options.channels(),
              "×H×W, got ", x.sizes());
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t heads = options.num_heads();
  // Softmax in at least fp32 under reduced precision: H·W can be large and the weights must sum to one.
  auto s = score->forward(x).reshape({n, heads, h * w});
  const bool low = s.scalar_type() == torch::kHalf || s.scalar_type() == torch::kBFloat16;
  auto a = low ? torch::softmax(s.to(torch::kFloat), -1).to(x.scalar_type()) : torch::softmax(s, -1);  // N×heads×HW
  auto y = torch::bmm(a, x.reshape({n, c, h * w}).transpose(1, 2));                  // N×heads×C
  if (recording()) {
    auto maps = a.reshape({n, heads, h, w});
    keep_map("spatial", MapKind::Spatial, maps.mean(1, /*keepdim=*/true));
    if (heads > 1) keep_map("heads", MapKind::Spatial, maps);
  }
  return y.reshape({n, heads * c});
}

void register_attnpool() {
  register_attention({"attnpool", "softmax attention pooling over positions (classifier head)", {"num_heads"},
                      AttnOutput::Pool, [](int64_t channels, const Params& p) -> Attention {
                        const int64_t heads = p.get_int("num_heads", 1);
                        if (heads <= 0)
                          input_error("attnpool: num_heads=" + std::to_string(heads) + ": expected at least 1");
                        return std::make_shared<AttnPoolImpl>(AttnPoolOptions(channels).num_heads(heads));
                      }});
}

}  // namespace attncnn
