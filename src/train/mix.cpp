#include <attncnn/data/transforms.h>
#include <attncnn/error.h>
#include <attncnn/train/mix.h>

#include <torch/torch.h>

#include <cmath>
#include <sstream>

namespace attncnn {

namespace {

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Numbers drawn from one (seed, step) key, value k being splitmix64(key + k·odd constant): no generator state to
// save, so a resumed run draws the same.
struct Draws {
  uint64_t key, k = 0;
  uint64_t next() { return splitmix64(key + 0x9fb21c651e98df25ULL * ++k); }
  // In (0, 1): never 0, so its logarithm is finite.
  double open_uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // numpy's randint(lo, hi): lo..hi-1.
  int64_t integer(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo)); }
  double normal() {
    const double r = std::sqrt(-2.0 * std::log(open_uniform()));
    return r * std::cos(6.283185307179586 * uniform());
  }
  // log of a Gamma(a, 1) sample (Marsaglia and Tsang). Logarithms, because for the small alphas used with Mixup
  // (0.1-0.4) the samples themselves underflow to zero now and then.
  double log_gamma(double a) {
    if (a < 1.0) return log_gamma(a + 1.0) + std::log(open_uniform()) / a;
    const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      const double x = normal();
      double v = 1.0 + c * x;
      if (v <= 0) continue;
      v = v * v * v;
      const double u = open_uniform();
      if (u < 1.0 - 0.0331 * x * x * x * x || std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v)))
        return std::log(d) + std::log(v);
    }
  }
  // Beta(a, a) = G1 / (G1 + G2).
  double beta(double a) {
    const double l1 = log_gamma(a), l2 = log_gamma(a);
    return 1.0 / (1.0 + std::exp(l2 - l1));
  }
};

bool minmax_set(const MixOptions& o) { return o.cutmix_min != 0 || o.cutmix_max != 0; }

}  // namespace

bool MixOptions::enabled() const { return mixup_alpha > 0 || cutmix_alpha > 0 || minmax_set(*this); }

void MixOptions::check() const {
  auto probability = [](double v) { return v >= 0 && v <= 1; };
  if (!(mixup_alpha >= 0) || !std::isfinite(mixup_alpha))
    input_error("--mixup " + num(mixup_alpha) + ": expected an alpha >= 0 (0 turns Mixup off)");
  if (!(cutmix_alpha >= 0) || !std::isfinite(cutmix_alpha))
    input_error("--cutmix " + num(cutmix_alpha) + ": expected an alpha >= 0 (0 turns CutMix off)");
  if (minmax_set(*this) && !(cutmix_min >= 0 && cutmix_min < cutmix_max && cutmix_max <= 1))
    input_error("--cutmix-minmax " + num(cutmix_min) + " " + num(cutmix_max) +
                ": expected min and max shares of the image side with 0 <= min < max <= 1");
  if (!probability(prob)) input_error("--mixup-prob " + num(prob) + ": expected a probability in [0, 1]");
  if (!probability(switch_prob))
    input_error("--mixup-switch-prob " + num(switch_prob) + ": expected a probability in [0, 1]");
  if (!probability(label_smoothing)) input_error("--smoothing " + num(label_smoothing) + ": expected [0, 1]");
  if (num_classes < 2)
    input_error("--num-classes " + std::to_string(num_classes) + ": Mixup/CutMix targets need 2 classes or more");
}

MixDraw mix_draw(const MixOptions& o, int64_t h, int64_t w, uint64_t seed, int64_t step) {
  o.check();
  MixDraw d;
  if (!o.enabled()) return d;
  // Salted so that a run's mixing is not correlated with its data order, which hashes the same seed.
  Draws r{splitmix64(splitmix64(seed ^ 0x6d69787570637574ULL) ^ static_cast<uint64_t>(step))};
  if (!(r.uniform() < o.prob)) return d;
  // timm turns CutMix on with alpha 1 when box sizes are given.
  const double cutmix_alpha = minmax_set(o) ? 1.0 : o.cutmix_alpha;
  if (o.mixup_alpha > 0 && cutmix_alpha > 0) d.cutmix = r.uniform() < o.switch_prob;
  else d.cutmix = cutmix_alpha > 0;
  d.lam = r.beta(d.cutmix ? cutmix_alpha : o.mixup_alpha);
  if (!d.cutmix || d.lam == 1.0) return d;
  if (minmax_set(o)) {
    const int64_t lo_h = static_cast<int64_t>(h * o.cutmix_min), hi_h = static_cast<int64_t>(h * o.cutmix_max);
    const int64_t lo_w = static_cast<int64_t>(w * o.cutmix_min), hi_w = static_cast<int64_t>(w * o.cutmix_max);
    if (hi_h <= lo_h || hi_w <= lo_w)
      input_error("--cutmix-minmax " + num(o.cutmix_min) + " " + num(o.cutmix_max) + ": no box side fits " +
                  std::to_string(h) + "x" + std::to_string(w) + " images (min and max round to the same pixels)");
    const int64_t ch = r.integer(lo_h, hi_h), cw = r.integer(lo_w, hi_w);
    d.top = r.integer(0, h - ch);
    d.left = r.integer(0, w - cw);
    d.bottom = d.top + ch;
    d.right = d.left + cw;
  } else {
    const double ratio = std::sqrt(1.0 - d.lam);
    const int64_t ch = static_cast<int64_t>(h * ratio), cw = static_cast<int64_t>(w * ratio);
    const int64_t cy = r.integer(0, h), cx = r.integer(0, w);
    d.top = std::min(h, std::max<int64_t>(0, cy - ch / 2));
    d.bottom = std::min(h, std::max<int64_t>(0, cy + ch / 2));
    d.left = std::min(w, std::max<int64_t>(0, cx - cw / 2));
    d.right = std::min(w, std::max<int64_t>(0, cx + cw / 2));
  }
  if (o.correct_lam || minmax_set(o))
    d.lam = 1.0 - static_cast<double>((d.bottom - d.top) * (d.right - d.left)) / static_cast<double>(h * w);
  return d;
}

std::pair<torch::Tensor, torch::Tensor> mix_batch(const torch::Tensor& x, const torch::Tensor& y,
                                                   const MixOptions& o, uint64_t seed, int64_t step) {
  o.check();
  if (!x.defined() || x.dim() != 4 || !x.is_floating_point())
    input_error("mix_batch: expected float N×C×H×W images, got " +
                (x.defined() ? std::string(x.toString()) + " of " + std::to_string(x.dim()) + " dimensions"
                             : std::string("none")));
  if (!y.defined() || y.dim() != 1 || y.scalar_type() != torch::kLong || y.size(0) != x.size(0) ||
      y.device() != x.device())
    input_error("mix_batch: expected int64 labels, one per image (" + std::to_string(x.size(0)) +
                ") on the images' device");
  if (y.device().is_cpu() && y.numel() > 0 &&
      (y.min().item<int64_t>() < 0 || y.max().item<int64_t>() >= o.num_classes))
    input_error("mix_batch: labels " + std::to_string(y.min().item<int64_t>()) + ".." +
                std::to_string(y.max().item<int64_t>()) + " outside 0.." + std::to_string(o.num_classes - 1) +
                " (--num-classes " + std::to_string(o.num_classes) + ")");
  const MixDraw d = mix_draw(o, x.size(2), x.size(3), seed, step);
  const double off = o.label_smoothing / static_cast<double>(o.num_classes);
  const double on = 1.0 - o.label_smoothing + off;
  const auto float_opts = torch::TensorOptions().dtype(torch::kFloat).device(y.device());
  auto targets = torch::full({y.size(0), o.num_classes}, off, float_opts).scatter_(1, y.view({-1, 1}), on);
  if (d.lam == 1.0) return {x, targets};
  targets = targets * d.lam + targets.flip({0}) * (1.0 - d.lam);
  torch::Tensor mixed;
  if (d.cutmix) {
    auto box = [&](const torch::Tensor& t) { return t.slice(2, d.top, d.bottom).slice(3, d.left, d.right); };
    mixed = x.clone();
    box(mixed).copy_(box(x).flip({0}));
  } else {
    mixed = x * d.lam + x.flip({0}) * (1.0 - d.lam);
  }
  return {mixed, targets};
}

torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  if (!logits.defined() || !targets.defined() || logits.dim() != 2 || logits.sizes() != targets.sizes())
    input_error("soft_target_cross_entropy: expected logits and targets of one N×K shape, got " +
                (logits.defined() ? c10::str(logits.sizes()) : std::string("none")) + " and " +
                (targets.defined() ? c10::str(targets.sizes()) : std::string("none")));
  // Half-precision log-softmax loses the small probabilities that soft targets weigh.
  const auto l = logits.scalar_type() == torch::kHalf || logits.scalar_type() == torch::kBFloat16
                     ? logits.to(torch::kFloat)
                     : logits;
  return (-targets.to(l.scalar_type()) * torch::log_softmax(l, 1)).sum(1).mean();
}

}  // namespace attncnn
