#pragma once
/// Training settings: the TrainConfig struct and the one table that describes every field of it.
///
/// Each setting is defined once, in the table behind train_settings(): its key (args.json and --config files),
/// its command-line flags, type, default (TrainConfig's own initialiser), allowed values or range, group and help
/// text. The CLI's flags, `train --help`, config-file parsing, validation, args.json and the settings table in
/// docs/training.md all come from that table (a test checks the docs against it).
///
///   # run.yaml  (keys are the long flag names with '_' for '-')
///   model: seed_net
///   attn: sgate
///   model_opt: {width: 32}      # or "width=32"
///   epochs: 5
///   lr: 0.003
///
/// Layers apply in order, later ones winning: defaults, a preset, the file, the command line. Unknown keys and
/// mistyped or out-of-range values throw attncnn::Error (input) naming the key or flag, the value and the source.
#include <attncnn/models/model.h>

#include <cstdint>
#include <string>
#include <vector>

namespace attncnn {

struct TrainConfig {
  // data
  std::string data = "fashion-mnist";
  double fraction = 1.0;            ///< share of the training split used (seeded)
  double val_split = 0.2;           ///< folder datasets without train/val subfolders: held-out share per class
  int64_t image_size = 64;          ///< folder datasets: images resized and centre-cropped to this side
  bool skip_bad = false;            ///< folder datasets: skip unreadable images instead of failing
  int64_t workers = -1;             ///< loader threads; -1: 4 on CUDA, on the CPU 1 with augmentation else 0
  // model
  ModelConfig model;                ///< in_channels and num_classes are taken from the dataset
  double drop_path = 0.0;           ///< stochastic depth rate of residual backbones (model option drop_path_rate)
  std::string initial_checkpoint;   ///< weights to start from (attncnn checkpoint or a safetensors state dict)
  bool reset_head = false;          ///< with initial_checkpoint: keep the classifier freshly initialised
  // optimisation
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
  double bias_lr_scale = 1.0;       ///< learning-rate factor of the no-weight-decay group (norms and biases)
  double clip_grad = 0.0;           ///< gradient clipping threshold (0: off)
  std::string clip_mode = "norm";   ///< norm (global L2 norm) | value (each element) | agc (adaptive, per unit)
  int64_t grad_accum_steps = 1;     ///< batches whose gradients are summed into one optimizer step
  int64_t lookahead = 0;            ///< every N steps pull the weights toward a slow copy (0: off; see docs)
  double lookahead_decay = 0.95;    ///< per-step decay of the slow copy at the end of training (ramped in as t³)
  bool model_ema = false;           ///< keep an exponential moving average of the weights, evaluate and save it
  double model_ema_decay = 0.9998;  ///< EMA decay per optimizer step
  bool model_ema_warmup = false;    ///< ramp the decay in as min(decay, 1 − (1+t)^(−2/3)) (timm's warmup)
  uint64_t seed = 0;
  // augmentation
  std::string augment;              ///< training augmentation, a Transform spec ("crop=28,pad=2,flip=0.5"; "" none)
  double mixup = 0.0;               ///< mixup alpha (0: off)
  double cutmix = 0.0;              ///< cutmix alpha (0: off)
  double mixup_prob = 1.0;          ///< probability of mixing a batch when mixup or cutmix is on
  double mixup_switch_prob = 0.5;   ///< probability of cutmix instead of mixup when both are on
  int64_t mixup_off_epoch = 0;      ///< stop mixing after this epoch (0: never)
  // evaluation
  int64_t batch_eval = 512;
  int64_t eval_every = 1;           ///< evaluate every N epochs (0: after the last epoch only); the last always is
  int64_t tta = 0;                  ///< test-time augmentation of the evaluation: 0 none, 1 flip, 2 flip + shifts
  // speed
  std::string device = "auto";      ///< auto | cpu | cuda[:N]
  int64_t threads = 0;              ///< CPU threads as given (0: all cores); applied by the caller, recorded here
  bool deterministic = false;       ///< deterministic algorithms where libtorch has them, cuDNN autotuning off
  bool channels_last = false;
  bool amp = false;                 ///< bf16 autocast on CUDA
  std::string device_data = "auto"; ///< hold the training set on the training device as uint8 and augment it there
                                    ///< in batches: auto (on CUDA when --augment allows it), on, off
  bool cudnn_benchmark = true;      ///< let cuDNN time its algorithms for each new shape (costs time at start-up)
  bool cuda_graph = false;          ///< capture forward+loss+backward as one CUDA graph (needs device data; drops
                                    ///< the last partial batch of each epoch so every step has the same shape)
  // distributed (docs/distributed.md)
  int64_t nproc_per_node = 1;       ///< processes the command starts on this machine (1: none; torchrun/Slurm set
                                    ///< RANK/WORLD_SIZE instead)
  std::string dist_backend = "auto";  ///< auto (nccl on CUDA, gloo on the CPU) | gloo | nccl
  double dist_timeout = 1800;       ///< seconds a rank waits for the others before it stops with an error
  double bucket_cap_mb = 25;        ///< gradient bucket size for the overlapped all-reduce
  bool sync_bn = false;             ///< BatchNorm statistics over the global batch of all ranks
  int64_t world_size = 1;           ///< ranks of the run (recorded only; set from the environment)
  // output
  std::string project = "runs/train";  ///< parent of numbered run folders (used when out is empty)
  std::string name = "exp";
  bool exist_ok = false;
  std::string out;                  ///< run folder; created
  int64_t save_every = 1;           ///< write weights/last every N epochs (0: after the last epoch only; a stop
                                    ///< request or Ctrl-C always saves)
  int64_t log_interval = 50;        ///< batches between progress lines when not on a terminal
  bool quiet = false;
  std::string preset;               ///< the built-in settings this run started from (recorded only)
  // not settings: set by the caller for one call
  std::string resume;               ///< a run's weights/last.safetensors to continue from; out must be that run
  int64_t max_steps = 0;            ///< stop as if interrupted after this many optimizer steps in all (0: none)
  bool live = false;                ///< redraw one progress line in place (a terminal) instead of printing lines
};

/// One row of the settings table, as text for help screens and docs.
struct SettingInfo {
  std::string key;               ///< args.json / config-file key
  std::vector<std::string> flags;  ///< command-line names, the long one first ("--batch-size", "-b")
  std::string type;              ///< "string", "int", "number", "bool" or "options" (key=value list)
  std::string group;             ///< Data, Model, Optimisation, Augmentation, Evaluation, Speed, Distributed, Output
  std::string help;
  std::string default_text;      ///< the default as a flag would be written ("" for an empty string)
  std::string allowed;           ///< the allowed values or range in words ("adamw, sgd", "> 0", "[0, 1)"); may be ""
  bool negatable = false;        ///< a bool with a --no-<flag> form
  bool cli = true;               ///< has command-line flags (preset is recorded only)
};

/// Every setting, in the order args.json lists them.
const std::vector<SettingInfo>& train_settings();
/// Every settings key, in the order args.json lists them.
const std::vector<std::string>& train_setting_keys();

/// The complete settings of `cfg` as an indented JSON object (the content of args.json).
std::string train_settings_json(const TrainConfig& cfg);

/// Applies the keys of a JSON object (text) to `cfg`; keys not present keep their value. `source` names the
/// origin in errors (a file path, "preset cifar10-94"). Types are checked; ranges are checked by validate.
void apply_train_settings(TrainConfig& cfg, const std::string& json_object, const std::string& source);

/// Applies command-line values: (key, text as typed) pairs. Numbers accept what strtod reads ("nan" included, so
/// validation can name it); bools accept true/false/1/0. Throws (input error) naming the flag and the text.
void apply_train_flags(TrainConfig& cfg, const std::vector<std::pair<std::string, std::string>>& given);

/// Checks every setting against its allowed values and range, then the rules that tie settings together
/// (--cuda-graph needs device data, Nesterov needs momentum, ...). Normalises spellings (one-cycle → onecycle).
/// Throws (input error) naming the flag, the value and what was expected.
void validate_train_config(TrainConfig& cfg);

/// The settings table as Markdown (key, flags, type, default, allowed, help), grouped; docs/training.md holds it.
std::string train_settings_markdown();

/// Reads a settings file into JSON object text: `.json` is parsed as JSON, anything else as YAML (a superset).
/// Plain YAML scalars are typed (true/false, integers, decimals, null); quoted ones stay strings.
/// Throws (input error) naming the file on a missing file, a syntax error, or a top level that is not a mapping.
std::string read_settings_file(const std::string& path);

}  // namespace attncnn
