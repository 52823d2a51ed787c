#include <attncnn/error.h>
#include <attncnn/train/presets.h>

namespace attncnn {

const std::vector<TrainPreset>& train_presets() {
  // Both presets use fastnet: a frozen patch-whitening layer set from the data, three conv groups with frozen
  // BatchNorm scales, and an attention module on the last group. Nesterov SGD with a high learning rate on the
  // norm biases, label smoothing, reflect-padded shifts and flips done on the GPU, and flip + shift test-time
  // augmentation. The SGD rate is for the mean loss over a batch.
  static const std::vector<TrainPreset> presets = {
      {"cifar10-94", "CIFAR-10 to 94% test accuracy: fastnet + se, 12 epochs of batch 1024 on one GPU",
       R"({"data": "cifar10", "model": "fastnet", "attn": "se", "epochs": 12, "batch_size": 1024,
           "optimizer": "sgd", "lr": 1.5, "momentum": 0.85, "nesterov": true, "weight_decay": 0.00133,
           "bias_lr_scale": 64, "schedule": "linear", "warmup_epochs": 2.74, "lr_start": 0.2, "lr_end": 0.07,
           "label_smoothing": 0.2, "cudnn_benchmark": false,
           "augment": "crop=32,pad=2,pad_mode=reflect,flip=0.5,flip_mode=alternate", "amp": true, "channels_last": true,
           "cuda_graph": true, "lookahead": 5, "eval_every": 0, "save_every": 0, "tta": 2, "eval_batch_size": 2000,
           "preset": "cifar10-94"})"},
      {"fashion-95", "Fashion-MNIST to 95% test accuracy: fastnet + eca, 18 epochs of batch 1024 on one GPU",
       R"({"data": "fashion-mnist", "model": "fastnet", "attn": "eca", "epochs": 18, "batch_size": 1024, "cudnn_benchmark": false,
           "optimizer": "sgd", "lr": 1.5, "momentum": 0.85, "nesterov": true, "weight_decay": 0.00133,
           "bias_lr_scale": 64, "schedule": "linear", "warmup_epochs": 3, "label_smoothing": 0.2,
           "augment": "crop=28,pad=2,pad_mode=reflect,flip=0.5", "amp": true, "channels_last": true,
           "cuda_graph": true, "lookahead": 5, "eval_every": 0, "save_every": 0, "tta": 2, "eval_batch_size": 2000,
           "preset": "fashion-95"})"},
  };
  return presets;
}

const TrainPreset& find_train_preset(const std::string& name) {
  std::string valid;
  for (const auto& p : train_presets()) {
    if (p.name == name) return p;
    valid += (valid.empty() ? "" : ", ") + p.name;
  }
  input_error("--preset " + name + ": no such preset; valid presets: " + valid);
}

}  // namespace attncnn
