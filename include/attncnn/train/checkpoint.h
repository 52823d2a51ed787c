#pragma once
/// Resumable training runs. The weights file itself (CheckpointInfo, state_dict, save_checkpoint,
/// load_checkpoint, ...) is models/checkpoint.h, included here.
///
/// A resumable run keeps, beside `weights/last.safetensors`, `weights/last.state.safetensors`: the optimizer's
/// per-parameter buffers as tensors named `optimizer.<parameter>.<buffer>` (AdamW: exp_avg, exp_avg_sq, step;
/// SGD: momentum_buffer), `rng.cpu` (uint8 state of libtorch's CPU generator, `rng.cuda` likewise on GPU runs),
/// and metadata: format ("attncnn-state"), format_version, epoch, batch, step, batch_size, steps_per_epoch,
/// optimizer, best_top1, best_epoch, partial (JSON sums of the epoch in progress), history (JSON array of
/// per-epoch metrics), and the extras' tensors as `extra.<name>.<tensor>` (EMA and Lookahead weights). Both files
/// record `step`; a pair whose steps differ is never resumed.
#include <attncnn/models/checkpoint.h>
#include <attncnn/train/metrics.h>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <map>
#include <string>
#include <vector>

namespace attncnn {

constexpr int kTrainingStateVersion = 1;

/// Everything besides the weights that continuing a run exactly needs.
struct TrainingState {
  int64_t epoch = 0;            ///< epochs completed
  int64_t batch = 0;            ///< batches done of epoch + 1 (0: continue at the start of epoch + 1)
  int64_t step = 0;             ///< optimizer steps taken in all: the schedule's position
  int64_t batch_size = 0;
  int64_t steps_per_epoch = 0;
  std::string optimizer;        ///< adamw | sgd
  double best_top1 = 0;
  int64_t best_epoch = 0;
  double partial_loss_sum = 0;  ///< running sums of the epoch in progress (batch > 0)
  int64_t partial_correct = 0, partial_seen = 0;
  double partial_seconds = 0;
  std::vector<EpochMetrics> history;  ///< completed epochs
  torch::Tensor rng_cpu;        ///< uint8 state of libtorch's default CPU generator
  torch::Tensor rng_cuda;       ///< uint8 state of the default CUDA generator (undefined on CPU runs)
  std::vector<std::pair<std::string, torch::Tensor>> optimizer_tensors;  ///< see optimizer_state()
  /// State of the training extras (EMA, Lookahead: train/extras.h), named `extra.<extra>.<tensor>`.
  std::vector<std::pair<std::string, torch::Tensor>> extra_tensors;
};

/// The optimizer's per-parameter buffers, named `optimizer.<parameter name in model>.<buffer>`, as CPU copies.
/// Supports torch::optim::AdamW, Adam and SGD and their subclasses (ForeachAdamW, ForeachSGD); throws (runtime error)
/// for other optimizers.
std::vector<std::pair<std::string, torch::Tensor>> optimizer_state(torch::optim::Optimizer& optimizer,
                                                                  torch::nn::Module& model);
/// Restores buffers written by optimizer_state() into `optimizer` (whose parameters belong to `model`), on the
/// parameters' devices. Throws (input error) naming `source` when a parameter's buffers are missing, have the
/// wrong shape, or belong to another optimizer kind.
void load_optimizer_state(torch::optim::Optimizer& optimizer, torch::nn::Module& model,
                          const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                          const std::string& source);

/// State of libtorch's default CPU generator as a uint8 tensor, and its inverse.
torch::Tensor cpu_rng_state();
void set_cpu_rng_state(const torch::Tensor& state);

/// `<dir>/last.state.safetensors` for `<dir>/last.safetensors` (any `X.safetensors` gives `X.state.safetensors`).
std::string state_path_for(const std::string& weights_path);

void save_training_state(const std::string& path, const TrainingState& state);
/// Throws (input error) naming the file when it is not a training state or is malformed.
TrainingState load_training_state(const std::string& path);

/// Writes a resumable checkpoint: the state file, then the weights, each atomically. The previous state file is
/// kept as `.prev` first, so a crash at any moment leaves weights with a state of the same step on disk.
void save_resumable_checkpoint(const std::string& weights_path, torch::nn::Module& model, const CheckpointInfo& info,
                               const TrainingState& state);
/// The state whose step equals the weights' step (`info.step`): the state file, else its `.prev`. Throws (input
/// error) naming both files and their steps when none matches.
TrainingState load_matching_state(const std::string& weights_path, const CheckpointInfo& info);

}  // namespace attncnn
