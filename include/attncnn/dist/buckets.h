#pragma once
/// Gradient averaging for data-parallel training, overlapped with the backward pass (as PyTorch's DDP reducer).
///
/// Parameters are grouped into buckets of about `bucket_cap_mb` in reverse registration order (the order in which
/// backward produces their gradients). A hook on each parameter copies its gradient into its bucket's flat buffer
/// as soon as autograd computes it; a full bucket is all-reduced asynchronously while backward goes on. Buckets
/// are started strictly in index order on every rank, so the collectives match across ranks whatever order the
/// hooks fire in. finish() waits for them, divides by the world size and writes the averages into `.grad`.
///
///   attncnn::GradientBuckets buckets(params, pg, 25.0);
///   buckets.zero_grad();
///   buckets.set_sync(false);                 // grad accumulation: micro-batches before the last stay local
///   loss_a.backward();
///   buckets.set_sync(true);
///   loss_b.backward();                       // reduces (accumulated .grad + this gradient) per bucket
///   buckets.finish();                        // every .grad now holds the average over ranks
///   optimizer.step();
///
/// For gradients written outside autograd's hooks (a replayed CUDA graph), reduce_all() reduces every `.grad`
/// after the fact. A parameter that received no gradient in a step contributes its current `.grad` (or zeros),
/// so unused parameters never stall the ranks. Parameters that do not require grad are left out.
#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

namespace attncnn {

class ProcessGroup;

class GradientBuckets {
 public:
  GradientBuckets(const std::vector<at::Tensor>& params, ProcessGroup& pg, double bucket_cap_mb = 25.0);
  ~GradientBuckets();
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  /// Whether the next backward passes reduce (true, the default) or only accumulate locally.
  void set_sync(bool sync);
  /// Completes the reduction started by the hooks of the last synchronised backward. Each `.grad` is then a view
  /// of its bucket (no copy); zero_grad() releases them before the next backward.
  void finish();
  /// Resets every parameter's `.grad` to undefined (use instead of zeroing in place: a gradient zeroed in place
  /// still works but costs a copy).
  void zero_grad();
  /// Averages every parameter's current `.grad` over the ranks (no hooks involved).
  void reduce_all();
  /// The parameter indices (into the constructor's list) of each bucket, in launch order.
  std::vector<std::vector<int64_t>> layout() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace attncnn
