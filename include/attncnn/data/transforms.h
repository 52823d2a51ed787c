#pragma once
/// Image transforms on whole batches of uint8 N×C×H×W data: normalisation, random crop with padding, horizontal
/// flip, random erasing, and resize + centre crop.
///
///   attncnn::Transform tf = attncnn::Transform::parse("crop=32,pad=4,flip=0.5");  // or a JSON object
///   tf.fit(ds.train.images);                     // mean/std per channel from the training split when not given
///   auto x_u8 = tf.apply(ds.train.images, idx, seed, epoch);   // gathered + augmented, uint8 n×C×crop×crop
///   auto x = tf.normalize(x_u8);                 // float, (x/255 - mean)/std
///   std::string j = tf.to_json();                // recorded in a checkpoint; eval uses eval_part()
///
/// Order inside apply(): resize + centre crop (when `resize` is set and the image is not already that size),
/// padding + random crop, horizontal flip, random erasing. Every random choice is a function of
/// (seed, epoch, sample index) only — a counter-based splitmix64 hash, no shared generator — so a run repeats
/// exactly whatever the number of threads and whatever the batch composition.
///
/// Random erasing fills the rectangle with the channel mean (rounded to uint8), i.e. zero after normalisation.
/// Errors (unknown key, bad value) throw attncnn::Error (input) naming the key and what was expected.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace attncnn {

/// The random choices for one sample; all offsets in pixels of the (resized) image.
struct AugmentParams {
  int64_t top = 0, left = 0;  ///< crop origin in the padded image (0..H+2·pad−crop)
  bool flip = false;
  bool erase = false;
  int64_t erase_top = 0, erase_left = 0, erase_height = 0, erase_width = 0;  ///< in output coordinates
};

/// splitmix64: a counter-based hash; the source of every random choice in the data pipeline.
uint64_t splitmix64(uint64_t x);
/// The random key of one sample: splitmix64 over (seed, epoch, index).
uint64_t sample_key(uint64_t seed, int64_t epoch, int64_t index);

/// What a sample's crop origin and flip depend on besides (seed, epoch, index).
struct CropFlipSpec {
  int64_t top_choices = 1;   ///< possible crop origins along y: padded height − crop height + 1
  int64_t left_choices = 1;  ///< along x: padded width − crop width + 1
  double hflip = 0.0;        ///< flip probability
  bool alternate = false;    ///< flip_mode "alternate": one draw per image, inverted on every other epoch
};

/// The crop origin and flip of sample `index` (its index in the set) in `epoch`; the erase fields stay off.
/// The one source of these choices for the host loader (Transform::params) and the device batches
/// (DeviceBatches), so both make the same choices from the same seed.
AugmentParams crop_flip_params(const CropFlipSpec& spec, uint64_t seed, int64_t epoch, int64_t index);

struct Transform {
  std::vector<double> mean;  ///< per channel, of pixels scaled to [0, 1]; empty: fit() computes it
  std::vector<double> std;   ///< per channel; empty: fit() computes it
  int64_t resize = 0;        ///< > 0: shorter side resized to this, then centre-cropped to resize×resize
  int64_t crop = 0;          ///< random crop size (0: the image size; at eval a smaller crop is a centre crop)
  int64_t padding = 0;       ///< pixels added on every side before the random crop
  std::string padding_mode = "zero";  ///< "zero" or "reflect" (reflect needs padding < image side)
  double hflip = 0.0;        ///< probability of a horizontal flip
  std::string flip_mode = "random";  ///< "random": drawn per epoch; "alternate": drawn once per image, then each
                                     ///< image's flip alternates from epoch to epoch (every image seen both ways)
  double erase = 0.0;        ///< probability of random erasing
  double erase_min_area = 0.02, erase_max_area = 0.33;  ///< erased share of the image area
  double erase_max_ratio = 3.3;  ///< aspect ratio drawn log-uniformly in [1/r, r]

  /// JSON object with every field; from_json accepts any subset (missing fields keep their defaults) and rejects
  /// unknown keys.
  std::string to_json() const;
  static Transform from_json(const std::string& json);
  /// A JSON object, "none"/"" (identity), or "key=value,..." with keys crop, pad, pad_mode, flip, erase,
  /// erase_area (min:max), resize, mean (a:b:c), std (a:b:c). Example: "crop=32,pad=4,flip=0.5,erase=0.25".
  static Transform parse(const std::string& text);

  /// The deterministic part repeated at evaluation: resize, centre crop (when crop is smaller than the image),
  /// normalisation; no padding, flip or erasing.
  Transform eval_part() const;
  /// Whether apply() makes random choices.
  bool is_random() const;
  /// Computes mean/std from uint8 N×C×H×W images when they are empty.
  void fit(const torch::Tensor& images_u8);
  /// Output height and width for input images of h×w. Throws (input) when crop/padding do not fit.
  std::pair<int64_t, int64_t> output_size(int64_t h, int64_t w) const;
  /// The random choices for sample `index` of an h×w image set: crop and flip as crop_flip_params() with
  /// crop_flip_spec(h, w), then erasing.
  AugmentParams params(uint64_t seed, int64_t epoch, int64_t index, int64_t h, int64_t w) const;
  /// The crop and flip choices of this transform on h×w images (after resize). Throws (input) as output_size().
  CropFlipSpec crop_flip_spec(int64_t h, int64_t w) const;

  /// Gathers images[indices] (uint8 N×C×H×W, CPU, contiguous; indices int64, CPU) and transforms them:
  /// uint8 n×C×oh×ow. With augment=false only the eval part runs (centre crop instead of random crop).
  torch::Tensor apply(const torch::Tensor& images_u8, const torch::Tensor& indices, uint64_t seed, int64_t epoch,
                      bool augment = true) const;
  /// (x/255 − mean)/std per channel: float n×C×H×W on the input's device. Throws when mean/std are empty or do
  /// not match the channel count.
  torch::Tensor normalize(const torch::Tensor& batch_u8) const;
};

/// The normalisation (x/255 − mean)/std as one multiply-add, x·scale + shift: float 1×C×1×1 tensors on `device`
/// with scale = 1/(255·std) and shift = −mean/std. Every place that normalises (the loader's transforms, device
/// batches, evaluation and prediction) uses these two tensors.
struct NormalizeAffine {
  torch::Tensor scale, shift;
  NormalizeAffine(const std::vector<double>& mean, const std::vector<double>& std, const torch::Device& device);
  /// uint8 N×C×H×W (on the same device) to normalised float; throws when C is not the number of means.
  torch::Tensor operator()(const torch::Tensor& images_u8) const;
};

/// Resize so the shorter side is `size` (antialiased bilinear: a triangle filter widened when shrinking), then
/// centre-crop to size×size. `src` is h×w with `channels` interleaved (HWC); returns size×size×channels.
std::vector<uint8_t> resize_center_crop(const uint8_t* src, int64_t h, int64_t w, int64_t channels, int64_t size);

}  // namespace attncnn
