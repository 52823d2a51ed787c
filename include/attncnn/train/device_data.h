#pragma once
/// Training batches assembled on the GPU from a dataset held there as uint8.
///
/// Fashion-MNIST (47 MB) and CIFAR-10 (150 MB) fit on any GPU many times over; holding them on the device turns
/// each step's input pipeline into a handful of kernels: a gather of the shuffled indices, random crop with zero
/// padding (zeros or reflection) and horizontal flip done for the whole batch at once, and normalisation. Nothing waits on the host.
/// Random choices (order, crop offsets, flips) come from a CPU generator seeded with (seed, epoch), so they do
/// not depend on the device.
///
///   DeviceBatches batches(train_set, torch::kCUDA, {.batch_size = 512, .crop_padding = 4, .hflip = true}, mean, std);
///   batches.start_epoch(seed, epoch);
///   torch::Tensor x, y;
///   while (batches.next(x, y)) { ... }
#include <attncnn/data/dataset.h>
#include <attncnn/data/transforms.h>
#include <torch/types.h>

#include <vector>

namespace attncnn {

struct DeviceBatchOptions {
  int64_t batch_size = 512;
  bool drop_last = false;
  int64_t crop_padding = 0;  ///< random crop of the original size from the image padded by this many pixels
  bool hflip = false;        ///< flip images left-right (each with probability flip_prob)
  bool channels_last = false;
  bool reflect = false;      ///< pad by mirroring the image instead of with zeros
  double flip_prob = 0.5;
  bool alternate_flip = false;  ///< each image's flip drawn once (from the seed), then inverted every other epoch
};

class DeviceBatches {
 public:
  DeviceBatches(const ImageSet& set, const torch::Device& device, const DeviceBatchOptions& opts,
                const std::vector<double>& mean, const std::vector<double>& std);
  /// Shuffles for (seed, epoch) and rewinds.
  void start_epoch(uint64_t seed, int64_t epoch);
  /// The next normalised float batch (N×C×H×W) and its int64 labels; false at the end of the epoch.
  bool next(torch::Tensor& images, torch::Tensor& labels);
  /// Skips the next `n` batches of this epoch (a resumed run continues where it stopped).
  void skip(int64_t n);
  int64_t batches_per_epoch() const;
  int64_t size() const { return labels_.size(0); }

 private:
  torch::Tensor images_, labels_, order_;
  NormalizeAffine normalize_;
  torch::Tensor crop_y_, crop_x_, flip_;
  DeviceBatchOptions opts_;
  int64_t pos_ = 0;
};

}  // namespace attncnn
