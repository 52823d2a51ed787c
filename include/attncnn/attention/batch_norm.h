#pragma once
/// BatchNorm2d as every attncnn network and attention module builds it: libtorch's torch::nn::BatchNorm2d (same
/// options, parameters, buffers, state_dict keys and results), plus synchronised batch statistics for data-parallel
/// training (SyncBatchNorm).
///
/// While a statistics exchange is installed (set_batch_norm_sync, done by the training engine for --sync-bn), a
/// module in training mode normalises with the mean and variance of the global batch, i.e. of every rank's batch
/// together, and its backward pass exchanges the two gradient sums that the normalisation needs. Evaluation mode
/// and runs without an exchange are libtorch's BatchNorm2d exactly.
///
///   attncnn::BatchNorm2d bn(64);                          // N×64×H×W → N×64×H×W
///   attncnn::set_batch_norm_sync(gather_rows);            // e.g. through a ProcessGroup
///
/// Statistics are combined per rank from (count, mean, biased variance) in double precision (Chan et al.'s
/// parallel variance), not from sums of squares. Running statistics follow libtorch's update (momentum, or the
/// cumulative average when momentum is unset; unbiased variance).
#include <torch/nn/cloneable.h>
#include <torch/nn/options/batchnorm.h>
#include <torch/nn/pimpl.h>

#include <functional>

namespace attncnn {

/// Gathers one row per rank: given this rank's 1-D row, returns a world×len tensor whose row r is rank r's row (the
/// same on every rank). Every rank calls it the same number of times in the same order.
using GatherRows = std::function<torch::Tensor(const torch::Tensor& row)>;

/// Installs the exchange that synchronises batch statistics (an empty function turns it off). Process-wide.
void set_batch_norm_sync(GatherRows gather);
bool batch_norm_sync_enabled();

/// libtorch's BatchNorm2d re-stated (its template base cannot be derived from outside libtorch 1.13): the same
/// options type, parameter and buffer names, initialisation and forward; `weight`/`bias` are undefined when not
/// affine, the running buffers when not tracked.
class BatchNorm2dImpl : public torch::nn::Cloneable<BatchNorm2dImpl> {
 public:
  explicit BatchNorm2dImpl(int64_t num_features) : BatchNorm2dImpl(torch::nn::BatchNormOptions(num_features)) {}
  explicit BatchNorm2dImpl(const torch::nn::BatchNormOptions& options);
  void reset() override;
  void reset_running_stats();
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;
  /// Input N×C×H×W; output the same shape and dtype. Throws c10::Error for other ranks or channel counts.
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::BatchNormOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};
TORCH_MODULE(BatchNorm2d);

}  // namespace attncnn
