#pragma once
/// Training and evaluation loops.
///
///   attncnn::TrainConfig cfg;            // defaults train seed_net + sgate on Fashion-MNIST
///   cfg.epochs = 2;
///   auto result = attncnn::train(cfg, std::cout);
///
/// train() writes into cfg.out: args.json, results.csv, weights/last.safetensors and weights/best.safetensors.
/// Errors in the configuration or data throw attncnn::Error (input); a non-finite loss throws (runtime) and leaves
/// the last good checkpoint in place.
#include <attncnn/data/dataset.h>
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
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 5e-4;       ///< not applied to norm weights and biases
  std::string schedule = "cosine";  ///< cosine | step | constant
  double warmup_epochs = 0.0;
  double step_gamma = 0.1;          ///< step schedule: factor every step_epochs
  int64_t step_epochs = 30;
  double label_smoothing = 0.0;
  uint64_t seed = 0;
  std::string device = "auto";      ///< auto | cpu | cuda
  int64_t batch_eval = 512;
  std::string out;                  ///< run folder; created
  int64_t log_interval = 50;        ///< batches between progress lines when not on a terminal
  bool quiet = false;
  bool channels_last = false;
  bool live = false;                ///< redraw one progress line in place (a terminal) instead of printing lines
};

struct EvalResult {
  double loss = 0, top1 = 0, top5 = 0;
  int64_t count = 0;
  std::vector<int64_t> class_correct, class_total;
  std::vector<std::vector<int64_t>> confusion;  ///< [true][predicted]
};

struct TrainResult {
  EvalResult final_eval;
  double best_top1 = 0;
  int64_t epochs_run = 0;
  double train_seconds = 0;
  std::string last_weights, best_weights;
};

/// Resolves "auto" to cuda when available, else cpu; rejects unknown names and cuda without a GPU.
torch::Device resolve_device(const std::string& name);

/// Float images normalised for the network: (x/255 - mean) / std, on `device`.
torch::Tensor preprocess(const torch::Tensor& images_u8, const std::vector<double>& mean,
                         const std::vector<double>& std, const torch::Device& device);

EvalResult evaluate(ModelImpl& model, const ImageSet& set, const std::vector<double>& mean,
                    const std::vector<double>& std, int64_t batch_size, const torch::Device& device);

TrainResult train(const TrainConfig& cfg, std::ostream& log);

/// The first free run folder `<base>/<name>`, `<base>/<name>2`, … ; with exist_ok, `<base>/<name>` itself.
std::string next_run_dir(const std::string& base, const std::string& name, bool exist_ok);

/// The learning rate at `step` of `total_steps` (warmup then the schedule), for base rate cfg.lr.
double scheduled_lr(const TrainConfig& cfg, int64_t step, int64_t steps_per_epoch, int64_t total_steps);

}  // namespace attncnn
