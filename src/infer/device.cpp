#include <attncnn/compat.h>
#include <attncnn/error.h>
#include <attncnn/infer/device.h>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

namespace attncnn {

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available())
      input_error("--device " + name + ": no CUDA device is available (this build or machine has none); use cpu");
    c10::optional<torch::Device> device;
    try {
      device = torch::Device(name);
    } catch (const c10::Error&) {
      input_error("--device " + name + ": expected auto, cpu or cuda[:N]");
    }
    const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    if (device->has_index() && device->index() >= count)
      input_error("--device " + name + ": this machine has " + std::to_string(count) +
                  " CUDA device(s) (cuda:0 to cuda:" + std::to_string(count - 1) + ")");
    return *device;
  }
  input_error("--device " + name + ": expected auto, cpu or cuda[:N]");
}

void apply_backend_settings(const PerfOptions& opts, const torch::Device& device) {
  if (!device.is_cuda()) return;
  at::globalContext().setBenchmarkCuDNN(opts.cudnn_benchmark);
  at::globalContext().setAllowTF32CuBLAS(opts.tf32);
  at::globalContext().setAllowTF32CuDNN(opts.tf32);
}

void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  for (auto& b : module.buffers())
    if (b.dim() == 4) b.set_data(b.contiguous(at::MemoryFormat::ChannelsLast));
}

AutocastGuard::AutocastGuard(bool enabled, const torch::Device& device) {
  if (!enabled || !device.is_cuda()) return;
  active_ = true;
#if ATTNCNN_TORCH_VERSION_AT_LEAST(2, 4)
  prev_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
  prev_enabled_ = at::autocast::is_enabled();
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(true);
#endif
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
#if ATTNCNN_TORCH_VERSION_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(at::kCUDA, prev_enabled_);
#else
  at::autocast::set_enabled(prev_enabled_);
#endif
  // Cached bf16 copies of the weights belong to this step only.
  at::autocast::clear_cache();
}

}  // namespace attncnn
