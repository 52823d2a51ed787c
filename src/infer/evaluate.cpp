// Evaluation shared by training and `attncnn eval`.
#include <attncnn/data/transforms.h>
#include <attncnn/infer/evaluate.h>

#include <torch/torch.h>

#include <algorithm>

namespace attncnn {

torch::Tensor preprocess(const torch::Tensor& images_u8, const std::vector<double>& mean,
                         const std::vector<double>& std, const torch::Device& device) {
  return NormalizeAffine(mean, std, device)(images_u8.to(device, /*non_blocking=*/true));
}

torch::Tensor tta_logits(ModelImpl& model, const torch::Tensor& x, int64_t tta) {
  auto pair = [&](const torch::Tensor& v) {
    return 0.5 * (model.forward(v).to(torch::kFloat) + model.forward(v.flip({3})).to(torch::kFloat));
  };
  if (tta <= 0) return model.forward(x).to(torch::kFloat);
  if (tta == 1) return pair(x);
  const int64_t h = x.size(2), w = x.size(3);
  auto padded = torch::reflection_pad2d(x, {1, 1, 1, 1});
  auto down_right = padded.slice(2, 0, h).slice(3, 0, w).contiguous(x.suggest_memory_format());
  auto up_left = padded.slice(2, 2, h + 2).slice(3, 2, w + 2).contiguous(x.suggest_memory_format());
  return 0.5 * pair(x) + 0.25 * pair(down_right) + 0.25 * pair(up_left);
}

EvalResult evaluate(ModelImpl& model, const ImageSet& set, const std::vector<double>& mean,
                    const std::vector<double>& std, int64_t batch_size, const torch::Device& device, int64_t tta) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const int64_t k = model.config().num_classes;
  EvalResult r;
  r.class_correct.assign(k, 0);
  r.class_total.assign(k, 0);
  r.confusion.assign(k, std::vector<int64_t>(k, 0));
  const int64_t n = set.size();
  auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device));
  auto conf = torch::zeros({k * k}, torch::TensorOptions().dtype(torch::kLong).device(device));
  auto top5_acc = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(device));
  const NormalizeAffine normalize(mean, std, device);  // built once, applied to every batch
  for (int64_t i = 0; i < n; i += batch_size) {
    const int64_t e = std::min(n, i + batch_size);
    auto x = normalize(set.images.slice(0, i, e).to(device, /*non_blocking=*/true));
    auto y = set.labels.slice(0, i, e).to(device);
    auto logits = tta_logits(model, x, tta);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .to(torch::kDouble);
    auto pred = logits.argmax(1);
    if (device.is_cpu()) {
      conf += torch::bincount(y * k + pred, {}, k * k);
    } else {
      // CUDA's bincount accumulates with atomics (no deterministic version); a product of one-hot matrices
      // counts the same pairs exactly and deterministically.
      auto oy = torch::one_hot(y, k).to(torch::kFloat), op = torch::one_hot(pred, k).to(torch::kFloat);
      conf += oy.t().mm(op).round().to(torch::kLong).view({k * k});
    }
    const int64_t kk = std::min<int64_t>(5, k);
    auto topk = std::get<1>(logits.topk(kk, 1));
    top5_acc += topk.eq(y.unsqueeze(1)).any(1).sum();
  }
  auto conf_cpu = conf.cpu();
  const int64_t* cp = conf_cpu.data_ptr<int64_t>();
  int64_t correct = 0;
  for (int64_t t = 0; t < k; ++t) {
    for (int64_t p = 0; p < k; ++p) {
      const int64_t v = cp[t * k + p];
      r.confusion[t][p] = v;
      r.class_total[t] += v;
      if (t == p) r.class_correct[t] = v, correct += v;
    }
  }
  const int64_t top5 = top5_acc.item<int64_t>();
  r.count = n;
  r.loss = n ? loss_sum.item<double>() / n : 0.0;
  r.top1 = n ? 100.0 * correct / n : 0.0;
  r.top5 = n ? 100.0 * top5 / n : 0.0;
  model.train(was_training);
  return r;
}

}  // namespace attncnn
