// A checkpoint as a ready model: its preprocessing, device, batching and test-time augmentation in one place.
#include <attncnn/data/transforms.h>
#include <attncnn/error.h>
#include <attncnn/infer/device.h>
#include <attncnn/infer/predictor.h>

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace attncnn {

namespace {

// Checks every option that does not need the file, so a bad flag fails before anything is read.
torch::Device check_options(const PredictorOptions& o) {
  if (o.batch_size < 1) input_error("--batch-size " + std::to_string(o.batch_size) + ": expected at least 1");
  if (o.tta < 0 || o.tta > 2) input_error("--tta " + std::to_string(o.tta) + ": expected 0, 1 or 2");
  return resolve_device(o.device);
}

std::string shape_text(const Image& img) {
  return std::to_string(img.channels) + "×" + std::to_string(img.height) + "×" + std::to_string(img.width);
}

}  // namespace

DatasetOptions checkpoint_dataset_options(const CheckpointInfo& info) {
  DatasetOptions o;
  if (info.input.size() == 3) {
    o.channels = info.input[0];
    o.image_size = info.input[1];
  }
  if (!info.dataset_options.empty()) {
    const auto j = nlohmann::json::parse(info.dataset_options, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
      o.val_split = j.value("val_split", o.val_split);
      o.skip_bad = j.value("skip_bad", o.skip_bad);
    }
  }
  return o;
}

Predictor Predictor::load(const std::string& weights, const PredictorOptions& options) {
  check_options(options);
  CheckpointInfo info;
  auto model = load_checkpoint(weights, &info);
  Predictor p(std::move(model), std::move(info), options);
  p.weights_ = weights;
  return p;
}

Predictor::Predictor(Model model, CheckpointInfo info, const PredictorOptions& options)
    : model_(std::move(model)), info_(std::move(info)), options_(options), device_(check_options(options)) {
  if (!model_) input_error("Predictor: no model given");
  if (info_.input.size() != 3 || info_.mean.size() != static_cast<size_t>(info_.input[0]) ||
      info_.std.size() != info_.mean.size())
    input_error("Predictor: the checkpoint info must give input [C,H,W] with C means and stds");
  model_->to(device_);
  model_->eval();
  if (options_.channels_last) to_channels_last(*model_);
}

Image Predictor::load_image(const std::string& path) const { return load_model_image(path, info_); }

torch::Tensor Predictor::preprocess(const std::vector<Image>& images) const {
  if (images.empty()) input_error("Predictor::preprocess: no images");
  for (size_t i = 0; i < images.size(); ++i) {
    const Image& img = images[i];
    if (img.channels != info_.input[0] || img.height != info_.input[1] || img.width != info_.input[2])
      input_error("Predictor::preprocess: image " + std::to_string(i) + " is " + shape_text(img) +
                  " (channels×height×width) but the model takes " + std::to_string(info_.input[0]) + "×" +
                  std::to_string(info_.input[1]) + "×" + std::to_string(info_.input[2]) +
                  "; load it with load_image()");
  }
  return model_input(images, info_, device_);
}

torch::Tensor Predictor::logits(const torch::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != info_.input[0])
    input_error("Predictor::logits: expected N×" + std::to_string(info_.input[0]) + "×H×W images, got " +
                c10::str(images.sizes()));
  const bool raw = images.scalar_type() == torch::kUInt8;
  if (!raw && !images.is_floating_point())
    input_error(std::string("Predictor::logits: expected uint8 pixels or normalised floats, got ") +
                c10::toString(images.scalar_type()));
  torch::NoGradGuard no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  const NormalizeAffine normalize(info_.mean, info_.std, device_);  // built once, applied to every batch
  const int64_t n = images.size(0);
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < n; i += options_.batch_size) {
    auto x = images.slice(0, i, std::min(n, i + options_.batch_size)).to(device_, /*non_blocking=*/true);
    x = raw ? normalize(x) : x.to(torch::kFloat);
    if (options_.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    AutocastGuard autocast(options_.amp, device_);
    parts.push_back(tta_logits(*model_, x, options_.tta).to(torch::kCPU));
  }
  model_->train(was_training);
  if (parts.empty()) return torch::zeros({0, info_.model.num_classes}, torch::kFloat);
  return torch::cat(parts);
}

EvalResult Predictor::evaluate(const ImageSet& set) {
  AutocastGuard autocast(options_.amp, device_);
  return attncnn::evaluate(*model_, set, info_.mean, info_.std, options_.batch_size, device_, options_.tta);
}

Dataset Predictor::load_dataset(const std::string& spec_in) const {
  const std::string spec = spec_in.empty() ? info_.dataset : spec_in;
  const std::string source = weights_.empty() ? std::string("the model") : weights_;
  Dataset ds = attncnn::load_dataset(spec, checkpoint_dataset_options(info_));
  if (ds.channels() != info_.input[0])
    input_error("--data " + spec + ": images have " + std::to_string(ds.channels()) + " channel(s) but " + source +
                " expects " + std::to_string(info_.input[0]));
  if (ds.num_classes() != info_.model.num_classes)
    input_error("--data " + spec + ": " + std::to_string(ds.num_classes()) + " classes but " + source + " has " +
                std::to_string(info_.model.num_classes));
  return ds;
}

std::vector<FilePrediction> Predictor::predict(const std::vector<std::string>& paths, int64_t k) {
  std::vector<FilePrediction> out(paths.size());
  const size_t batch = static_cast<size_t>(options_.batch_size);
  for (size_t start = 0; start < paths.size(); start += batch) {
    const size_t end = std::min(paths.size(), start + batch);
    std::vector<Image> images;
    std::vector<size_t> read;
    for (size_t i = start; i < end; ++i) {
      out[i].path = paths[i];
      try {
        images.push_back(load_image(paths[i]));
        read.push_back(i);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::Input) throw;
        out[i].error = e.what();
      }
    }
    if (images.empty()) continue;
    const auto top = top_predictions(logits(preprocess(images)), info_.class_names, k);
    for (size_t j = 0; j < read.size(); ++j) out[read[j]].top = top[j];
  }
  return out;
}

}  // namespace attncnn
