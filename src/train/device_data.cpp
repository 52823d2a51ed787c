#include <attncnn/error.h>
#include <attncnn/train/device_data.h>

#include <torch/torch.h>

namespace attncnn {

DeviceBatches::DeviceBatches(const ImageSet& set, const torch::Device& device, const DeviceBatchOptions& opts,
                             const std::vector<double>& mean, const std::vector<double>& std)
    : normalize_(mean, std, device), opts_(opts) {
  if (opts.batch_size < 1) input_error("batch size " + std::to_string(opts.batch_size) + ": expected at least 1");
  if (opts.crop_padding < 0) input_error("crop padding " + std::to_string(opts.crop_padding) + ": expected >= 0");
  if (opts.reflect && (opts.crop_padding >= set.images.size(2) || opts.crop_padding >= set.images.size(3)))
    input_error("reflect padding " + std::to_string(opts.crop_padding) + ": expected less than the image side");
  if (!(opts.flip_prob >= 0 && opts.flip_prob <= 1))
    input_error("flip probability " + std::to_string(opts.flip_prob) + ": expected [0, 1]");
  images_ = set.images.to(device);
  labels_ = set.labels.to(device);
  start_epoch(0, 0);
}

int64_t DeviceBatches::batches_per_epoch() const {
  const int64_t n = labels_.size(0);
  return opts_.drop_last ? n / opts_.batch_size : (n + opts_.batch_size - 1) / opts_.batch_size;
}

void DeviceBatches::start_epoch(uint64_t seed, int64_t epoch) {
  auto gen = at::detail::createCPUGenerator(seed * 1000003ULL + static_cast<uint64_t>(epoch) + 1);
  const int64_t n = labels_.size(0);
  const auto dev = images_.device();
  order_ = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kLong)).to(dev);
  const int64_t p = opts_.crop_padding;
  if (p > 0) {
    crop_y_ = torch::randint(0, 2 * p + 1, {n}, gen, torch::TensorOptions().dtype(torch::kLong)).to(dev);
    crop_x_ = torch::randint(0, 2 * p + 1, {n}, gen, torch::TensorOptions().dtype(torch::kLong)).to(dev);
  }
  if (opts_.hflip && opts_.alternate_flip) {
    auto once = at::detail::createCPUGenerator(seed * 1000003ULL + 999983ULL);
    auto base = torch::rand({n}, once, torch::TensorOptions().dtype(torch::kDouble)).lt(opts_.flip_prob);
    flip_ = (epoch % 2 == 0 ? base.logical_not() : base).to(dev);
  } else if (opts_.hflip) {
    flip_ = torch::rand({n}, gen, torch::TensorOptions().dtype(torch::kDouble)).lt(opts_.flip_prob).to(dev);
  }
  pos_ = 0;
}

void DeviceBatches::skip(int64_t n) { pos_ = std::min(labels_.size(0), pos_ + n * opts_.batch_size); }

bool DeviceBatches::next(torch::Tensor& images, torch::Tensor& labels) {
  const int64_t n = labels_.size(0);
  if (pos_ >= n || (opts_.drop_last && pos_ + opts_.batch_size > n)) return false;
  const int64_t end = std::min(n, pos_ + opts_.batch_size);
  auto idx = order_.slice(0, pos_, end);
  auto x = images_.index_select(0, idx);
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t p = opts_.crop_padding;
  if (p > 0) {
    // Each output pixel's source row and column in the unpadded image: reflected back inside, or marked as
    // padding (zero) outside. Two gathers (rows, then columns) make the whole batch's crops.
    auto src_y = crop_y_.slice(0, pos_, end).unsqueeze(1) + torch::arange(-p, h - p, idx.options());
    auto src_x = crop_x_.slice(0, pos_, end).unsqueeze(1) + torch::arange(-p, w - p, idx.options());
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
    // Alternating flips belong to the image (its index), random ones to the position in the epoch.
    auto f = (opts_.alternate_flip ? flip_.index_select(0, idx) : flip_.slice(0, pos_, end)).view({b, 1, 1, 1});
    x = torch::where(f, x.flip({3}), x);
  }
  auto fx = normalize_(x);
  images = opts_.channels_last ? fx.contiguous(at::MemoryFormat::ChannelsLast) : fx;
  labels = labels_.index_select(0, idx);
  pos_ = end;
  return true;
}

}  // namespace attncnn
