#pragma once
/// Training and evaluation loops.
///
///   attncnn::TrainConfig cfg;            // defaults train seed_net + sgate on Fashion-MNIST
///   cfg.epochs = 2;
///   cfg.out = "runs/train/exp";
///   auto result = attncnn::train(cfg, std::cout);
///
/// train() writes into cfg.out: args.json (the settings, see train/config.h), results.csv and metrics.jsonl (one
/// row per epoch), curves.svg, weights/last.safetensors + weights/last.state.safetensors (resumable) and
/// weights/best.safetensors (highest validation top-1). docs/training.md describes every file.
///
/// Errors in the configuration or data throw attncnn::Error (input); a non-finite loss throws (runtime) naming the
/// step and leaves the last good checkpoint in place. A stop request (stop_requested(), e.g. from Ctrl-C) ends the
/// run after the current step with a resumable checkpoint and TrainResult::interrupted set.
///
/// The test metrics of each epoch come from infer/evaluate.h's evaluate() (as `attncnn eval`'s do); it and the
/// device helpers of infer/device.h are included here.
#include <attncnn/data/dataset.h>
#include <attncnn/infer/device.h>
#include <attncnn/infer/evaluate.h>
#include <attncnn/models/model.h>
#include <attncnn/train/config.h>

#include <ostream>
#include <string>
#include <vector>

namespace attncnn {

struct TrainResult {
  EvalResult final_eval;      ///< of the last completed epoch (empty when none completed in this call)
  EvalResult final_eval_ema;  ///< of the model EMA's weights at that epoch (count 0 without --model-ema)
  double best_top1 = 0;
  int64_t epochs_run = 0;     ///< epochs completed in all, counting those before a resume
  int64_t steps = 0;          ///< optimizer steps taken in all
  double train_seconds = 0;   ///< the whole call, of which:
  double setup_seconds = 0;   ///< data loading, model building and initialisation, before the first step
  double eval_seconds = 0;    ///< evaluations
  double save_seconds = 0;    ///< checkpoints and metrics files
  bool interrupted = false;   ///< stopped by a stop request or max_steps; last checkpoint resumes it
  bool resumed = false;       ///< continued from cfg.resume
  std::string last_weights, best_weights;
};

TrainResult train(const TrainConfig& cfg, std::ostream& log);

class DataParallel;
/// train() as one rank of a data-parallel job (train/parallel.h); alone when `parallel` is nullptr. Only rank 0
/// evaluates, logs and writes the run folder.
TrainResult train(const TrainConfig& cfg, std::ostream& log, DataParallel* parallel);

/// The first free run folder `<base>/<name>`, `<base>/<name>2`, … ; with exist_ok, `<base>/<name>` itself.
std::string next_run_dir(const std::string& base, const std::string& name, bool exist_ok);

/// The learning rate at `step` (0-based) of `total_steps` for base rate cfg.lr; a pure function.
/// cosine: linear warmup over warmup_epochs from lr/warmup_steps to lr, then half a cosine down to 0 at total_steps.
/// linear: warmup from lr·lr_start (or as above when 0) to lr, then a straight line down to lr·lr_end at total_steps.
/// step: warmup, then lr·step_gamma^⌊epoch/step_epochs⌋. constant: warmup, then lr.
/// onecycle: half a cosine from lr/25 up to lr over the rising phase (warmup_epochs, or 30% of the run when 0),
/// then half a cosine down to lr/2.5e5 at total_steps (PyTorch's OneCycleLR defaults).
double scheduled_lr(const TrainConfig& cfg, int64_t step, int64_t steps_per_epoch, int64_t total_steps);

/// Applies cfg.deterministic to libtorch's global state: deterministic algorithms (warning where an op has
/// none), cuDNN deterministic without autotuning, and CUBLAS_WORKSPACE_CONFIG when unset. Off restores defaults.
void set_deterministic(bool on);

}  // namespace attncnn
