#pragma once
/// A checkpoint turned into a ready model: rebuilt, loaded, moved to its device, in eval mode, with the
/// checkpoint's preprocessing, batching and test-time augmentation. `attncnn eval`, `predict` and `explain`
/// run through it.
///
///   attncnn::PredictorOptions opt;
///   opt.device = "cpu";
///   opt.tta = 1;                                                  // average each image with its mirror
///   auto p = attncnn::Predictor::load("runs/train/exp/weights/best.safetensors", opt);
///   auto top = p.predict({"cat.png", "dog.jpg"}, 5);              // top-5 classes per file
///   auto r = p.evaluate(p.load_dataset().test);                   // the numbers `attncnn eval` prints
///   auto logits = p.logits(ds.test.images.slice(0, 0, 100));      // uint8 in: normalised here
///
/// A prediction flows: file -> decode -> the checkpoint's channels -> resize to its input size -> uint8 batch
/// -> (x/255 - mean)/std -> model (+ TTA views, averaged) -> softmax -> top-k.
#include <attncnn/data/dataset.h>
#include <attncnn/infer/evaluate.h>
#include <attncnn/infer/images.h>
#include <attncnn/io/image.h>
#include <attncnn/models/checkpoint.h>
#include <attncnn/models/model.h>

#include <torch/types.h>

#include <string>
#include <vector>

namespace attncnn {

struct PredictorOptions {
  std::string device = "auto";  ///< auto | cpu | cuda[:N] (see resolve_device)
  int64_t batch_size = 64;      ///< images per forward pass; results do not depend on it beyond float rounding
  int64_t tta = 0;              ///< test-time augmentation: 0 none, 1 flip, 2 flip + 1-pixel shifts (tta_logits)
  bool channels_last = false;   ///< NHWC weights and inputs
  bool amp = false;             ///< bf16 autocast on CUDA (ignored on the CPU)
};

/// One file's result of Predictor::predict.
struct FilePrediction {
  std::string path;
  std::vector<Prediction> top;  ///< most probable first; empty when the file could not be read
  std::string error;            ///< why the file could not be read (the message names it); empty on success
  bool ok() const { return error.empty(); }
};

/// Dataset options that rebuild the data a checkpoint was trained on: folder datasets get its split, image size,
/// channels and skip_bad; other datasets ignore them.
DatasetOptions checkpoint_dataset_options(const CheckpointInfo& info);

class Predictor {
 public:
  /// Reads `weights` (a checkpoint written by training) and prepares its model. The options are checked before
  /// the file is read. Throws attncnn::Error (input) naming the flag and value for a bad option (--device,
  /// --batch-size, --tta) and naming the file when it is missing, not a checkpoint, or does not match its model.
  static Predictor load(const std::string& weights, const PredictorOptions& options = {});
  /// A model already in memory (on any device) with the info that describes its input (input, mean, std,
  /// class_names). The model is moved to the options' device and put in eval mode. Throws as load().
  Predictor(Model model, CheckpointInfo info, const PredictorOptions& options = {});

  const CheckpointInfo& info() const { return info_; }
  const PredictorOptions& options() const { return options_; }
  /// The checkpoint path given to load() ("" for a model given in memory).
  const std::string& weights() const { return weights_; }
  ModelImpl& model() { return *model_; }
  const Model& shared_model() const { return model_; }
  torch::Device device() const { return device_; }

  /// A file decoded and fitted to the checkpoint's input (see load_model_image); throws attncnn::Error (input)
  /// naming the file when it cannot be read.
  Image load_image(const std::string& path) const;
  /// Images already decoded and resized (each info().input[0] channels, info().input[2]×info().input[1]) to a
  /// normalised float N×C×H×W batch on device(). Throws attncnn::Error (input) naming the first image of another
  /// size, or when `images` is empty.
  torch::Tensor preprocess(const std::vector<Image>& images) const;
  /// float N×K logits on the CPU, computed in batches of options().batch_size with options().tta views, no
  /// gradients. `images` is N×C×H×W (C = info().input[0]) on any device: uint8 pixels are normalised with the
  /// checkpoint's mean and std; a floating-point tensor is taken as already normalised (as preprocess() gives).
  /// Throws attncnn::Error (input) for another rank, channel count or dtype.
  torch::Tensor logits(const torch::Tensor& images);
  /// evaluate() of infer/evaluate.h with the checkpoint's mean/std and these options: the numbers training
  /// reports for the same batch size, device and tta.
  EvalResult evaluate(const ImageSet& set);
  /// The dataset `spec` (empty: the one the checkpoint was trained on) rebuilt with
  /// checkpoint_dataset_options(). Throws attncnn::Error (input) naming `--data SPEC` when its channels or
  /// class count differ from the checkpoint's.
  Dataset load_dataset(const std::string& spec = "") const;
  /// The k most probable classes of each file, in the order given, batched as logits(). A file that cannot be
  /// read gets an error instead of predictions; the others go on.
  std::vector<FilePrediction> predict(const std::vector<std::string>& paths, int64_t k);

 private:
  Model model_;
  CheckpointInfo info_;
  PredictorOptions options_;
  torch::Device device_;
  std::string weights_;
};

}  // namespace attncnn
