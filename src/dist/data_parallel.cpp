#include <attncnn/dist/buckets.h>
#include <attncnn/dist/data_parallel.h>
#include <attncnn/dist/env.h>
#include <attncnn/dist/process_group.h>
#include <attncnn/error.h>
#include <attncnn/infer/device.h>

#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/torch.h>

namespace attncnn {

namespace {

class C10dDataParallel : public DataParallel {
 public:
  C10dDataParallel(const DistEnv& env, const TrainConfig& cfg, const torch::Device& device)
      : env_(env), device_(device), pg_(env, cfg.dist_backend, device, cfg.dist_timeout) {}

  int64_t rank() const override { return pg_.rank(); }
  int64_t world_size() const override { return pg_.world_size(); }
  std::string describe() const override { return pg_.backend() + ", " + env_.launcher; }
  c10::Device device() const override { return device_; }
  c10::Device exchange_device() const override { return pg_.backend() == "nccl" ? device_ : c10::Device(c10::kCPU); }
  void broadcast(const std::vector<at::Tensor>& tensors) override { pg_.broadcast(tensors); }
  void allreduce_sum(const at::Tensor& t) override { pg_.allreduce_sum(t); }
  void allreduce_max(const at::Tensor& t) override { pg_.allreduce_max(t); }
  void watch_gradients(const std::vector<at::Tensor>& params, double bucket_cap_mb) override {
    buckets_ = std::make_unique<GradientBuckets>(params, pg_, bucket_cap_mb);
  }
  void set_sync(bool sync) override { buckets().set_sync(sync); }
  void finish_gradients() override { buckets().finish(); }
  void reduce_gradients() override { buckets().reduce_all(); }
  void zero_grad() override { buckets().zero_grad(); }

 private:
  GradientBuckets& buckets() {
    if (!buckets_) runtime_error("data-parallel: gradients used before watch_gradients()");
    return *buckets_;
  }
  DistEnv env_;
  torch::Device device_;
  ProcessGroup pg_;
  std::unique_ptr<GradientBuckets> buckets_;
};

}  // namespace

std::unique_ptr<DataParallel> join_data_parallel(const TrainConfig& cfg) {
  const DistEnv env = dist_env_from_environment();
  if (!env.distributed()) return nullptr;
  torch::Device device = resolve_device(cfg.device);
  if (device.is_cuda() && cfg.device.find(':') == std::string::npos) {
    // One GPU per local rank; ranks beyond the GPU count share them (Gloo allows it, NCCL does not).
    const int64_t count = std::max<int64_t>(1, static_cast<int64_t>(torch::cuda::device_count()));
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank % count));
  }
  if (device.is_cuda()) c10::impl::VirtualGuardImpl(c10::DeviceType::CUDA).setDevice(device);
  return std::make_unique<C10dDataParallel>(env, cfg, device);
}

TrainResult train_data_parallel(const TrainConfig& cfg, std::ostream& log) {
  auto parallel = join_data_parallel(cfg);
  return train(cfg, log, parallel.get());
}

}  // namespace attncnn
