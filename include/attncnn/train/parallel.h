#pragma once
/// What the training engine needs from a data-parallel job, as an interface: dist/ implements it on c10d
/// (dist/data_parallel.h), and train() runs alone when given none. The engine averages gradients through it, agrees
/// with the other ranks on stops, sums its epoch metrics over them and lets only rank 0 evaluate and write.
///
///   auto parallel = attncnn::join_data_parallel(cfg);        // dist/: nullptr outside a job
///   auto result = attncnn::train(cfg, std::cout, parallel.get());
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <string>
#include <vector>

namespace attncnn {

class DataParallel {
 public:
  virtual ~DataParallel() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  /// Backend and launcher, for the start-up line ("nccl, torchrun").
  virtual std::string describe() const = 0;
  /// The device this rank trains on.
  virtual c10::Device device() const = 0;
  /// Where small tensors exchanged between ranks must be (the GPU for NCCL, the CPU for Gloo).
  virtual c10::Device exchange_device() const = 0;

  /// Rank 0's values into every rank's tensors, in place.
  virtual void broadcast(const std::vector<at::Tensor>& tensors) = 0;
  virtual void allreduce_sum(const at::Tensor& t) = 0;
  virtual void allreduce_max(const at::Tensor& t) = 0;

  /// From now on, averages the gradients of `params` over the ranks from autograd hooks, overlapping backward.
  virtual void watch_gradients(const std::vector<at::Tensor>& params, double bucket_cap_mb) = 0;
  /// Whether the next backward passes reduce (the last micro-batch of an accumulated step) or stay local.
  virtual void set_sync(bool sync) = 0;
  /// After a synchronised backward: every `.grad` holds the average over the ranks.
  virtual void finish_gradients() = 0;
  /// Averages every `.grad` as it is (gradients written without hooks, by a replayed CUDA graph).
  virtual void reduce_gradients() = 0;
  /// Releases the gradients before the next backward.
  virtual void zero_grad() = 0;
};

}  // namespace attncnn
