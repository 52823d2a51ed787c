#pragma once
/// Speed switches for training and inference, each measurable on its own (bench/bench_train.cpp):
/// bf16 autocast on CUDA, channels-last memory format, cuDNN autotuning and TF32 matrix maths.
#include <torch/nn/module.h>
#include <torch/types.h>

namespace attncnn {

struct PerfOptions {
  bool amp = false;              ///< bf16 autocast on CUDA (no loss scaling needed for bf16)
  bool channels_last = false;    ///< NHWC parameters and inputs
  bool cudnn_benchmark = true;   ///< let cuDNN time its algorithms for each new shape
  bool tf32 = true;              ///< TF32 for fp32 convolutions and matrix products on Ampere and later
};

/// Applies the process-wide backend settings (cuDNN autotuning, TF32) for `device`.
void apply_backend_settings(const PerfOptions& opts, const torch::Device& device);

/// Converts every 4-D parameter and buffer of `module` to channels-last, in place.
void to_channels_last(torch::nn::Module& module);

/// Enables bf16 autocast for CUDA for its lifetime (no-op when `enabled` is false or the device is not CUDA).
class AutocastGuard {
 public:
  AutocastGuard(bool enabled, const torch::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool prev_enabled_ = false;
};

}  // namespace attncnn
