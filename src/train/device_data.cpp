#include <attncnn/data/loader.h>
#include <attncnn/error.h>
#include <attncnn/train/device_data.h>

#include <torch/torch.h>

namespace attncnn {

DeviceBatchOptions device_batch_options(const Transform& tf, int64_t height, int64_t width) {
  if (tf.resize > 0 || tf.erase > 0)
    input_error("transform " + tf.to_json() + ": resize and erasing run only in the host loader, not on the device");
  if (tf.output_size(height, width) != std::make_pair(height, width))
    input_error("transform: crop=" + std::to_string(tf.crop) + " changes the " + std::to_string(height) + "x" +
                std::to_string(width) + " image size; device batches crop to the image size only");
  DeviceBatchOptions o;
  o.crop_padding = tf.padding;
  o.reflect = tf.padding_mode == "reflect";
  o.hflip = tf.hflip > 0;
  o.flip_prob = tf.hflip;
  o.alternate_flip = tf.flip_mode == "alternate";
  return o;
}

DeviceBatches::DeviceBatches(const ImageSet& set, const torch::Device& device, const DeviceBatchOptions& opts,
                             const std::vector<double>& mean, const std::vector<double>& std)
    : normalize_(mean, std, device), opts_(opts) {
  if (opts.batch_size < 1) input_error("batch size " + std::to_string(opts.batch_size) + ": expected at least 1");
  if (opts.crop_padding < 0) input_error("crop padding " + std::to_string(opts.crop_padding) + ": expected >= 0");
  if (opts.reflect && (opts.crop_padding >= set.images.size(2) || opts.crop_padding >= set.images.size(3)))
    input_error("reflect padding " + std::to_string(opts.crop_padding) + ": expected less than the image side");
  if (!(opts.flip_prob >= 0 && opts.flip_prob <= 1))
    input_error("flip probability " + std::to_string(opts.flip_prob) + ": expected [0, 1]");
  // The host transform's view of these options: a crop of the image size from the padded image.
  spec_.top_choices = spec_.left_choices = 2 * opts.crop_padding + 1;
  spec_.hflip = opts.hflip ? opts.flip_prob : 0.0;
  spec_.alternate = opts.alternate_flip;
  images_ = set.images.to(device);
  labels_ = set.labels.to(device);
  start_epoch(0, 0);
}

int64_t DeviceBatches::batches_per_epoch() const {
  const int64_t n = size();
  return opts_.drop_last ? n / opts_.batch_size : (n + opts_.batch_size - 1) / opts_.batch_size;
}

void DeviceBatches::start_epoch(uint64_t seed, int64_t epoch) {
  const std::vector<int64_t> order =
      shard_order(epoch_order(labels_.size(0), seed, epoch), opts_.shard_rank, opts_.shard_count);
  const int64_t n = static_cast<int64_t>(order.size());
  // The same functions as the host loader, evaluated here once per epoch; one copy to the device instead of one
  // per batch.
  auto plan = torch::empty({4, n}, torch::kLong);
  int64_t* p = plan.data_ptr<int64_t>();
  for (int64_t k = 0; k < n; ++k) {
    const AugmentParams a = crop_flip_params(spec_, seed, epoch, order[k]);
    p[k] = order[k];
    p[n + k] = a.top;
    p[2 * n + k] = a.left;
    p[3 * n + k] = a.flip ? 1 : 0;
  }
  // From pinned memory the copy is queued behind the running epoch's kernels instead of waiting for them.
  const auto dev = images_.device();
  plan_ = dev.is_cuda() ? plan.pin_memory().to(dev, /*non_blocking=*/true) : plan.to(dev);
  pos_ = 0;
}

void DeviceBatches::skip(int64_t n) { pos_ = std::min(plan_.size(1), pos_ + n * opts_.batch_size); }

bool DeviceBatches::next(torch::Tensor& images, torch::Tensor& labels) {
  const int64_t n = plan_.size(1);
  if (pos_ >= n || (opts_.drop_last && pos_ + opts_.batch_size > n)) return false;
  const int64_t end = std::min(n, pos_ + opts_.batch_size);
  auto idx = plan_[0].slice(0, pos_, end);
  auto x = images_.index_select(0, idx);
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t p = opts_.crop_padding;
  if (p > 0) {
    // Each output pixel's source row and column in the unpadded image: reflected back inside, or marked as
    // padding (zero) outside. Two gathers (rows, then columns) make the whole batch's crops.
    auto src_y = plan_[1].slice(0, pos_, end).unsqueeze(1) + torch::arange(-p, h - p, idx.options());
    auto src_x = plan_[2].slice(0, pos_, end).unsqueeze(1) + torch::arange(-p, w - p, idx.options());
    torch::Tensor inside;
    if (opts_.reflect) {
      src_y = src_y.abs();
      src_y = torch::where(src_y.ge(h), 2 * (h - 1) - src_y, src_y);
      src_x = src_x.abs();
      src_x = torch::where(src_x.ge(w), 2 * (w - 1) - src_x, src_x);
    } else {
      inside = (src_y.ge(0) & src_y.lt(h)).view({b, 1, h, 1}) & (src_x.ge(0) & src_x.lt(w)).view({b, 1, 1, w});
      src_y = src_y.clamp(0, h - 1);
      src_x = src_x.clamp(0, w - 1);
    }
    x = x.gather(2, src_y.view({b, 1, h, 1}).expand({b, c, h, w})).gather(3, src_x.view({b, 1, 1, w}).expand({b, c, h, w}));
    if (inside.defined()) x = x * inside;
  }
  if (opts_.hflip) {
    auto f = plan_[3].slice(0, pos_, end).to(torch::kBool).view({b, 1, 1, 1});
    x = torch::where(f, x.flip({3}), x);
  }
  auto fx = normalize_(x);
  images = opts_.channels_last ? fx.contiguous(at::MemoryFormat::ChannelsLast) : fx;
  labels = labels_.index_select(0, idx);
  pos_ = end;
  return true;
}

}  // namespace attncnn
