#pragma once
/// Self-describing checkpoints: a safetensors file holding the model's state (parameters and buffers under
/// their module names, as PyTorch's state_dict names them) and metadata that rebuilds the model and repeats its
/// preprocessing. Metadata keys: format ("attncnn"), format_version, model (ModelConfig JSON), dataset,
/// class_names (JSON array), input ([C,H,W]), mean, std (JSON arrays), epoch, step, metrics (JSON object), and
/// optionally transform and dataset_options (JSON objects).
/// Loading rejects other formats and newer versions, and checks every name and shape (strict).
///
/// This is the weights file only: training and inference both read it. What continuing a training run needs
/// besides (optimizer state, generator state, loop position) is in train/checkpoint.h.
///
///   attncnn::CheckpointInfo info;
///   auto net = attncnn::load_checkpoint("runs/train/exp/weights/best.safetensors", &info);  // CPU, eval mode
#include <attncnn/models/model.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace attncnn {

constexpr int kCheckpointVersion = 1;

struct CheckpointInfo {
  ModelConfig model;
  std::string dataset;                  ///< the dataset spec the model was trained on
  std::vector<std::string> class_names;
  std::vector<int64_t> input;           ///< C, H, W of the training images
  std::vector<double> mean, std;        ///< per-channel normalisation of [0,1] pixels
  int64_t epoch = 0;                    ///< epochs completed when written
  int64_t step = 0;                     ///< optimizer steps taken when written (0 in files without it)
  std::map<std::string, double> metrics;
  std::string dataset_options;          ///< folder-dataset options as JSON (val_split, image_size, channels, skip_bad)
  std::string transform;                ///< training transform as JSON (Transform::to_json); may be empty
};

/// The model's state as (name, tensor) pairs: parameters then buffers, named as in a PyTorch state_dict.
std::vector<std::pair<std::string, torch::Tensor>> state_dict(torch::nn::Module& module);
/// Copies `tensors` into `module` by name; every parameter and buffer must be present with the same shape and
/// nothing else may be (throws attncnn::Error (input) naming `source` and listing missing, unexpected and
/// mismatched names).
void load_state_dict(torch::nn::Module& module, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                     const std::string& source);

/// Writes model state and info to `path` atomically.
void save_checkpoint(const std::string& path, torch::nn::Module& model, const CheckpointInfo& info);
/// Reads only the metadata. Throws attncnn::Error (input) naming `path` when it cannot be read, is not an attncnn
/// checkpoint, has a newer format version or malformed metadata.
CheckpointInfo read_checkpoint_info(const std::string& path);
/// Rebuilds the model from the checkpoint and loads its weights (on the CPU, in eval mode). Throws as
/// read_checkpoint_info, and when the weights do not match the model (see load_state_dict).
Model load_checkpoint(const std::string& path, CheckpointInfo* info = nullptr);

}  // namespace attncnn
