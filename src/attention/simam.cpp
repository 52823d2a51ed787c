#include <attncnn/attention/registry.h>
#include <attncnn/attention/simam.h>

#include <torch/torch.h>

#include "builtin.h"
#include "option_checks.h"

namespace attncnn {

SimAMImpl::SimAMImpl(const SimAMOptions& o) : AttentionImpl("simam"), options(o) {
  TORCH_CHECK(o.lambda() > 0, "simam: lambda must be positive, got ", o.lambda());
}

torch::Tensor SimAMImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "simam: expected input N×C×H×W, got ", x.sizes());
  const double n = std::max<int64_t>(x.size(2) * x.size(3) - 1, 1);
  auto d = (x - x.mean({2, 3}, /*keepdim=*/true)).pow(2);
  auto e = d / (4 * (d.sum({2, 3}, /*keepdim=*/true) / n + options.lambda())) + 0.5;
  auto a = torch::sigmoid(e);
  if (recording()) keep_map("spatial", MapKind::Spatial, a.mean(1, /*keepdim=*/true));
  return x * a;
}

void register_simam() {
  register_attention({"simam", "SimAM: parameter-free energy-based attention per position and channel", {"lambda"},
                      AttnOutput::Reweight, [](int64_t, const Params& p) -> Attention {
                        return std::make_shared<SimAMImpl>(
                            SimAMOptions().lambda(opt::positive(p, "simam", "lambda", 1e-4)));
                      }});
}

}  // namespace attncnn
