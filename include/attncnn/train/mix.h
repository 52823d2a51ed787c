#pragma once
/// Mixup and CutMix on whole batches, as timm's Mixup (timm/data/mixup.py) in mode "batch", with soft targets.
///
///   attncnn::MixOptions mix;
///   mix.mixup_alpha = 0.8;  mix.cutmix_alpha = 1.0;  mix.num_classes = 10;
///   auto [x, t] = attncnn::mix_batch(batch.images, batch.labels, mix, cfg.seed, step);
///   auto loss = attncnn::soft_target_cross_entropy(model->forward(x), t);
///
/// Per batch: with probability `prob` the batch is mixed, else it is left as it is (λ = 1). When both alphas are
/// set, CutMix is chosen with probability `switch_prob`, else Mixup. λ ~ Beta(α, α) of the chosen method.
///   Mixup:  x' = λ·x + (1 − λ)·x.flip(0)    (each sample mixed with the one at the mirrored batch position)
///   CutMix: one box of (1 − λ) of the image area (side √(1−λ)·H by √(1−λ)·W, centred uniformly, clipped at the
///           borders; or, with cutmix_minmax, sides drawn uniformly in [min, max)·H and ·W) is copied from
///           x.flip(0); with correct_lam (or cutmix_minmax) λ becomes 1 − box area / image area.
///   Targets: t = λ·s(y) + (1 − λ)·s(y.flip(0)), s = one-hot smoothed to 1 − ε + ε/K on the label, ε/K elsewhere.
/// timm asserts an even batch; here an odd one is accepted, its middle sample is mixed with itself.
///
/// Every random choice is a splitmix64 hash of (seed, step): a resumed run mixes the same way, and libtorch's
/// global generators are neither read nor advanced.
#include <torch/types.h>

#include <cstdint>
#include <utility>

namespace attncnn {

struct MixOptions {
  double mixup_alpha = 0;   ///< timm --mixup: Beta(α, α) for Mixup; 0 turns Mixup off
  double cutmix_alpha = 0;  ///< timm --cutmix: Beta(α, α) for CutMix; 0 turns CutMix off
  /// timm --cutmix-minmax: box sides drawn in [min, max) of the image sides instead of from λ; both 0: off.
  /// Setting it turns CutMix on with α = 1 (as timm does).
  double cutmix_min = 0, cutmix_max = 0;
  double prob = 1.0;         ///< timm --mixup-prob: probability of mixing a batch
  double switch_prob = 0.5;  ///< timm --mixup-switch-prob: probability of CutMix when both are on
  bool correct_lam = true;   ///< λ from the clipped box's area (timm's correct_lam)
  double label_smoothing = 0.1;  ///< timm --smoothing
  int64_t num_classes = 0;

  /// Whether mix_batch() mixes at all: either alpha > 0, or cutmix_min/max set.
  bool enabled() const;
  /// Throws attncnn::Error (input), naming timm's flag, for a negative or non-finite alpha, prob, switch_prob or
  /// smoothing outside [0, 1], a cutmix_min/max not 0 ≤ min < max ≤ 1, or num_classes < 2.
  void check() const;
};

/// Mixes a normalised float batch N×C×H×W (any device, any memory format) and int64 labels N (same device) into
/// (mixed images, soft targets N×K float32), with every random choice drawn from (seed, step) only, so resume is
/// exact and nothing touches libtorch's global generators. The input is not modified; when the batch is not
/// mixed the images are returned as they are. Throws attncnn::Error (input) as MixOptions::check(), for inputs
/// of the wrong rank, type or length, and (when the labels are on the CPU) for labels outside [0, K).
std::pair<torch::Tensor, torch::Tensor> mix_batch(const torch::Tensor& x, const torch::Tensor& y,
                                                   const MixOptions& options, uint64_t seed, int64_t step);

/// The λ and box mix_batch() uses for an h×w batch at (seed, step): λ = 1 means no mixing; a CutMix box is rows
/// [top, bottom) and columns [left, right), empty for Mixup. Exposed for logging and tests.
struct MixDraw {
  double lam = 1.0;
  bool cutmix = false;
  int64_t top = 0, bottom = 0, left = 0, right = 0;
};
MixDraw mix_draw(const MixOptions& options, int64_t h, int64_t w, uint64_t seed, int64_t step);

/// Mean over the batch of −Σ_k target_k · log_softmax(logits)_k (timm's SoftTargetCrossEntropy). logits and
/// targets N×K on one device; the loss is computed in float32 or wider. Throws attncnn::Error (input) on shapes
/// that differ or are not N×K.
torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace attncnn
