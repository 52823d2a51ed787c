#pragma once
/// Training batches assembled on the GPU from a dataset held there as uint8.
///
/// Fashion-MNIST (47 MB) and CIFAR-10 (150 MB) fit on any GPU many times over; holding them on the device turns
/// each step's input pipeline into a handful of kernels: a gather of the shuffled indices, random crop with
/// padding (zeros or reflection) and horizontal flip done for the whole batch at once, and normalisation. Nothing
/// waits on the host.
///
/// Random choices are the host loader's: the order is epoch_order(n, seed, epoch) and each sample's crop origin
/// and flip are crop_flip_params() of its index, so a Loader with the same transform (crop of the image size,
/// padding, flip, flip_mode; no resize or erasing) and seed gives the same batches image by image. start_epoch()
/// computes them on the CPU for the whole epoch (a few integers per sample) and sends them in one copy.
///
///   DeviceBatchOptions o = device_batch_options(tf, train_set.images.size(2), train_set.images.size(3));
///   o.batch_size = 512;
///   DeviceBatches batches(train_set, torch::kCUDA, o, tf.mean, tf.std);
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
  int64_t shard_rank = 0;   ///< data-parallel share of each epoch: shard_order(order, shard_rank, shard_count)
  int64_t shard_count = 1;
};

/// The crop and flip options that repeat `tf` on h×w images (batch size, drop_last and channels_last stay at their
/// defaults). Throws attncnn::Error (input) when tf resizes, erases, or crops to another size than h×w: those run
/// only in the host loader.
DeviceBatchOptions device_batch_options(const Transform& tf, int64_t height, int64_t width);

class DeviceBatches {
 public:
  /// Copies the set to `device`. Throws attncnn::Error (input) for a batch size < 1, negative padding, reflect
  /// padding not smaller than the image side, or a flip probability outside [0, 1].
  DeviceBatches(const ImageSet& set, const torch::Device& device, const DeviceBatchOptions& opts,
                const std::vector<double>& mean, const std::vector<double>& std);
  /// Draws the order, crops and flips of (seed, epoch) and rewinds.
  void start_epoch(uint64_t seed, int64_t epoch);
  /// The next normalised float batch (N×C×H×W) and its int64 labels; false at the end of the epoch.
  bool next(torch::Tensor& images, torch::Tensor& labels);
  /// Skips the next `n` batches of this epoch (a resumed run continues where it stopped).
  void skip(int64_t n);
  int64_t batches_per_epoch() const;
  /// Samples per epoch (this rank's share).
  int64_t size() const { return (labels_.size(0) + opts_.shard_count - 1) / opts_.shard_count; }

 private:
  torch::Tensor images_, labels_;
  NormalizeAffine normalize_;
  /// int64 4×n on the device: per position in the epoch, the sample index, crop top, crop left and flip.
  torch::Tensor plan_;
  DeviceBatchOptions opts_;
  CropFlipSpec spec_;
  int64_t pos_ = 0;
};

}  // namespace attncnn
