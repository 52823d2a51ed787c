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

#include <ostream>
#include <string>
#include <vector>

namespace attncnn {

struct TrainConfig {
  std::string data = "fashion-mnist";
  double fraction = 1.0;       ///< share of the training split used (seeded)
  ModelConfig model;           ///< in_channels and num_classes are taken from the dataset
  int64_t epochs = 1;
  int64_t batch_size = 64;
  double lr = 3e-3;
  std::string optimizer = "adamw";  ///< adamw | sgd
  double momentum = 0.9;            ///< sgd only
  bool nesterov = true;             ///< sgd only
  double weight_decay = 5e-4;       ///< not applied to norm weights and biases
  std::string schedule = "cosine";  ///< cosine | linear | step | onecycle | constant
  double warmup_epochs = 0.0;       ///< linear warmup from 0 (onecycle: length of the rising phase, 0 = 30%)
  double lr_start = 0.0;            ///< linear schedule: the warmup starts at lr·lr_start (0: from lr/warmup_steps)
  double lr_end = 0.0;              ///< linear schedule: the rate falls to lr·lr_end at the last step
  double step_gamma = 0.1;          ///< step schedule: factor every step_epochs
  int64_t step_epochs = 30;
  double label_smoothing = 0.0;
  uint64_t seed = 0;
  bool deterministic = false;       ///< deterministic algorithms where libtorch has them, cuDNN autotuning off
  std::string device = "auto";      ///< auto | cpu | cuda[:N]
  int64_t threads = 0;              ///< CPU threads as given (0: all cores); applied by the caller, recorded here
  int64_t batch_eval = 512;
  std::string project = "runs/train";  ///< parent of numbered run folders (used when out is empty)
  std::string name = "exp";
  bool exist_ok = false;
  std::string out;                  ///< run folder; created
  std::string resume;               ///< a run's weights/last.safetensors to continue from; out must be that run
  int64_t max_steps = 0;            ///< stop as if interrupted after this many optimizer steps in all (0: none)
  int64_t log_interval = 50;        ///< batches between progress lines when not on a terminal
  bool quiet = false;
  bool channels_last = false;
  bool amp = false;                 ///< bf16 autocast on CUDA
  double val_split = 0.2;           ///< folder datasets without train/val subfolders: held-out share per class
  int64_t image_size = 64;          ///< folder datasets: images resized and centre-cropped to this side
  bool skip_bad = false;            ///< folder datasets: skip unreadable images instead of failing
  int64_t workers = -1;             ///< loader threads; -1: 4 on CUDA, on the CPU 1 with augmentation else 0
  std::string augment;              ///< training augmentation, a Transform spec ("crop=28,pad=2,flip=0.5"; "" none)
  bool live = false;                ///< redraw one progress line in place (a terminal) instead of printing lines
  std::string device_data = "auto"; ///< hold the training set on the training device as uint8 and augment it there
                                    ///< in batches: auto (on CUDA when --augment allows it), on, off
  bool cudnn_benchmark = true;      ///< let cuDNN time its algorithms for each new shape (costs time at start-up)
  bool cuda_graph = false;          ///< capture forward+loss+backward as one CUDA graph (needs device data; drops
                                    ///< the last partial batch of each epoch so every step has the same shape)
  double bias_lr_scale = 1.0;       ///< learning-rate factor of the no-weight-decay group (norms and biases)
  int64_t lookahead = 0;            ///< every N steps pull the weights toward a slow copy (0: off; see docs)
  double lookahead_decay = 0.95;    ///< per-step decay of the slow copy at the end of training (ramped in as t³)
  int64_t save_every = 1;           ///< write weights/last every N epochs (0: after the last epoch only; a stop
                                    ///< request or Ctrl-C always saves)
  int64_t eval_every = 1;           ///< evaluate every N epochs (0: after the last epoch only); the last always is
  int64_t tta = 0;                  ///< test-time augmentation of the evaluation: 0 none, 1 flip, 2 flip + shifts
  std::string preset;               ///< the built-in settings this run started from (recorded only)
};

struct TrainResult {
  EvalResult final_eval;      ///< of the last completed epoch (empty when none completed in this call)
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
