#pragma once
/// Where and how a model runs: the device named by a --device flag, and the speed switches that training and
/// inference share (measurable one by one in bench/bench_train.cpp): bf16 autocast on CUDA, channels-last
/// memory format, cuDNN autotuning and TF32 matrix maths.
///
///   auto device = attncnn::resolve_device("auto");   // cuda when available, else cpu
///   model->to(device);
///   attncnn::to_channels_last(*model);
///   { attncnn::AutocastGuard bf16(true, device); auto y = model->forward(x); }   // bf16 on CUDA only
#include <torch/nn/module.h>
#include <torch/types.h>

#include <string>

namespace attncnn {

/// "auto" (cuda when available, else cpu), "cpu", "cuda" or "cuda:N". Throws attncnn::Error (input) naming
/// `--device NAME` for anything else and for cuda on a build or machine without a GPU.
torch::Device resolve_device(const std::string& name);

struct PerfOptions {
  bool amp = false;              ///< bf16 autocast on CUDA (no loss scaling needed for bf16)
  bool channels_last = false;    ///< NHWC parameters and inputs
  bool cudnn_benchmark = true;   ///< let cuDNN time its algorithms for each new shape
  bool tf32 = true;              ///< TF32 for fp32 convolutions and matrix products on Ampere and later
};

/// Applies the process-wide backend settings (cuDNN autotuning, TF32) for `device`; nothing on the CPU.
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
