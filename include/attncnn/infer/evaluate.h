#pragma once
/// Normalisation, test-time augmentation and evaluation of a model on a labelled image set. Training reports its
/// test metrics through evaluate(), and `attncnn eval` calls the same function, so the two print equal numbers
/// for the same weights, data, batch size, device and tta.
///
///   auto r = attncnn::evaluate(*model, ds.test, info.mean, info.std, 512, torch::kCPU, /*tta=*/1);
///   r.top1;   // percent
#include <attncnn/data/dataset.h>
#include <attncnn/models/model.h>

#include <torch/types.h>

#include <vector>

namespace attncnn {

struct EvalResult {
  double loss = 0, top1 = 0, top5 = 0;          ///< mean cross-entropy; accuracies in percent
  int64_t count = 0;                            ///< images evaluated
  std::vector<int64_t> class_correct, class_total;
  std::vector<std::vector<int64_t>> confusion;  ///< [true][predicted]
};

/// Float images normalised for the network: (x/255 - mean) / std per channel, on `device`. `images_u8` is uint8
/// N×C×H×W with C == mean.size() == std.size() (throws attncnn::Error otherwise).
torch::Tensor preprocess(const torch::Tensor& images_u8, const std::vector<double>& mean,
                         const std::vector<double>& std, const torch::Device& device);

/// The float N×K logits of normalised images `x` (N×C×H×W, on the model's device) averaged over the views of
/// test-time augmentation level `tta`: 0 the image alone; 1 the image and its mirror (flipped left-right), each
/// weighted 1/2; 2 those plus both shifted by one pixel down-right and up-left (reflected borders), the unshifted
/// pair weighted 1/2 and each shifted pair 1/4. Runs under the caller's grad mode and autocast.
torch::Tensor tta_logits(ModelImpl& model, const torch::Tensor& x, int64_t tta);

/// Loss, top-1, top-5, per-class accuracy and confusion matrix of `model` (already on `device`) on `set`
/// (uint8 images, labels in [0, num_classes)), in batches of `batch_size`, with test-time augmentation `tta`
/// (see tta_logits). Runs in eval mode without gradients and restores the model's training mode.
EvalResult evaluate(ModelImpl& model, const ImageSet& set, const std::vector<double>& mean,
                    const std::vector<double>& std, int64_t batch_size, const torch::Device& device, int64_t tta = 0);

}  // namespace attncnn
