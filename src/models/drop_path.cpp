#include <attncnn/models/drop_path.h>

#include <torch/torch.h>

#include <ostream>

namespace attncnn {

torch::Tensor drop_path(const torch::Tensor& x, double drop_prob, bool training, bool scale_by_keep) {
  TORCH_CHECK(drop_prob >= 0.0 && drop_prob <= 1.0, "drop_path: drop_prob=", drop_prob, ": expected [0, 1]");
  if (drop_prob == 0.0 || !training) return x;
  TORCH_CHECK(x.dim() >= 1, "drop_path: expected a batched tensor, got shape ", x.sizes());
  const double keep_prob = 1.0 - drop_prob;
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  auto mask = torch::empty(shape, x.options()).bernoulli_(keep_prob);
  if (keep_prob > 0.0 && scale_by_keep) mask.div_(keep_prob);
  return x * mask;
}

DropPathImpl::DropPathImpl(double p) : drop_prob(p) {
  TORCH_CHECK(p >= 0.0 && p < 1.0, "DropPath: drop_prob=", p, ": expected [0, 1)");
}

torch::Tensor DropPathImpl::forward(const torch::Tensor& x) { return drop_path(x, drop_prob, is_training()); }

void DropPathImpl::pretty_print(std::ostream& stream) const {
  stream << "attncnn::DropPath(drop_prob=" << drop_prob << ")";
}

}  // namespace attncnn
