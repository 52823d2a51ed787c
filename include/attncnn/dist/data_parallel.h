#pragma once
/// The training engine's DataParallel (train/parallel.h) on c10d: a ProcessGroup and GradientBuckets for the job
/// that the environment describes (torchrun, Slurm, or `attncnn train --nproc-per-node`).
///
///   attncnn::TrainResult r = attncnn::train_data_parallel(cfg, std::cout);   // alone outside a job
///
/// On CUDA each local rank trains on GPU `local_rank mod count` unless cfg.device names one (cuda:N).
/// Throws attncnn::Error (input) for a malformed environment or a backend this build lacks; (runtime) when the
/// rendezvous fails.
#include <attncnn/train/config.h>
#include <attncnn/train/parallel.h>
#include <attncnn/train/trainer.h>

#include <memory>
#include <ostream>

namespace attncnn {

/// The job of the environment on cfg's device and backend; nullptr when the process runs alone.
std::unique_ptr<DataParallel> join_data_parallel(const TrainConfig& cfg);

/// train() as one rank of the job of the environment (or alone).
TrainResult train_data_parallel(const TrainConfig& cfg, std::ostream& log);

}  // namespace attncnn
