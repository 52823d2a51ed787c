#include <attncnn/error.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/train/checkpoint.h>
#include <attncnn/train/config.h>
#include <attncnn/train/interrupt.h>
#include <attncnn/train/metrics.h>
#include <attncnn/train/optim.h>
#include <attncnn/train/trainer.h>
#include <attncnn/train/perf.h>
#include <attncnn/train/device_data.h>
#include <attncnn/train/graph_step.h>
#include <attncnn/data/loader.h>
#include <attncnn/data/transforms.h>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <limits>
#include <mutex>
#include <random>
#include <sstream>
#include <sys/stat.h>

namespace attncnn {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

std::string fmt(double v, int prec) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(prec) << v;
  return o.str();
}

std::string num(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

std::string duration_text(double s) {
  const int64_t t = static_cast<int64_t>(std::llround(s));
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)t / 3600, (long long)(t / 60) % 60, (long long)t % 60);
  else std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)t / 60, (long long)t % 60);
  return buf;
}

// Optimizer with two groups: weight decay on conv/linear weights, none on norm weights and biases (1-D tensors).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& cfg, torch::nn::Module& model) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : model.parameters()) {
    if (!p.requires_grad()) continue;
    (p.dim() <= 1 ? no_decay : decay).push_back(p);
  }
  if (cfg.optimizer == "adamw") {
    auto d = torch::optim::AdamWOptions(cfg.lr).weight_decay(cfg.weight_decay);
    auto nd = torch::optim::AdamWOptions(cfg.lr).weight_decay(0.0);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(d));
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(nd));
    return std::make_unique<ForeachAdamW>(groups, d);
  }
  if (cfg.optimizer == "sgd") {
    auto d = torch::optim::SGDOptions(cfg.lr).momentum(cfg.momentum).nesterov(cfg.nesterov).weight_decay(cfg.weight_decay);
    auto nd = torch::optim::SGDOptions(cfg.lr).momentum(cfg.momentum).nesterov(cfg.nesterov).weight_decay(0.0);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::SGDOptions>(d));
    groups.emplace_back(no_decay, std::make_unique<torch::optim::SGDOptions>(nd));
    return std::make_unique<ForeachSGD>(groups, d);
  }
  input_error("--optimizer " + cfg.optimizer + ": expected adamw or sgd");
}

void validate(TrainConfig& cfg) {
  if (cfg.schedule == "one-cycle" || cfg.schedule == "one_cycle") cfg.schedule = "onecycle";
  if (cfg.epochs < 1) input_error("--epochs " + std::to_string(cfg.epochs) + ": expected at least 1");
  if (cfg.batch_size < 1) input_error("--batch-size " + std::to_string(cfg.batch_size) + ": expected at least 1");
  if (cfg.batch_eval < 1) input_error("--eval-batch-size " + std::to_string(cfg.batch_eval) + ": expected at least 1");
  if (!(cfg.lr > 0) || !std::isfinite(cfg.lr)) input_error("--lr " + num(cfg.lr) + ": expected a positive number");
  if (cfg.optimizer != "adamw" && cfg.optimizer != "sgd")
    input_error("--optimizer " + cfg.optimizer + ": expected adamw or sgd");
  if (!(cfg.momentum >= 0 && cfg.momentum < 1)) input_error("--momentum " + num(cfg.momentum) + ": expected [0, 1)");
  if (cfg.optimizer == "sgd" && cfg.nesterov && cfg.momentum <= 0)
    input_error("--momentum 0 with Nesterov: Nesterov momentum needs --momentum > 0 (or pass --no-nesterov)");
  if (!(cfg.weight_decay >= 0) || !std::isfinite(cfg.weight_decay))
    input_error("--weight-decay " + num(cfg.weight_decay) + ": expected a non-negative number");
  if (cfg.schedule != "cosine" && cfg.schedule != "linear" && cfg.schedule != "step" && cfg.schedule != "onecycle" &&
      cfg.schedule != "constant")
    input_error("--schedule " + cfg.schedule + ": expected cosine, linear, step, onecycle or constant");
  if (!(cfg.warmup_epochs >= 0 && cfg.warmup_epochs <= cfg.epochs))
    input_error("--warmup-epochs " + num(cfg.warmup_epochs) + ": expected 0 to --epochs (" +
                std::to_string(cfg.epochs) + ")");
  if (cfg.step_epochs < 1) input_error("--step-epochs " + std::to_string(cfg.step_epochs) + ": expected at least 1");
  if (!(cfg.step_gamma > 0 && cfg.step_gamma <= 1)) input_error("--step-gamma " + num(cfg.step_gamma) + ": expected (0, 1]");
  if (!(cfg.label_smoothing >= 0 && cfg.label_smoothing < 1))
    input_error("--label-smoothing " + num(cfg.label_smoothing) + ": expected [0, 1)");
  if (!(cfg.fraction > 0 && cfg.fraction <= 1)) input_error("--fraction " + num(cfg.fraction) + ": expected (0, 1]");
  if (cfg.log_interval < 0) input_error("--log-interval " + std::to_string(cfg.log_interval) + ": expected 0 or more");
  if (cfg.max_steps < 0) input_error("max_steps " + std::to_string(cfg.max_steps) + ": expected 0 or more");
  if (cfg.workers < -1) input_error("--workers " + std::to_string(cfg.workers) + ": expected -1 (auto) or more");
  if (cfg.threads < 0) input_error("--threads " + std::to_string(cfg.threads) + ": expected 0 (all cores) or more");
  if (cfg.device_data != "auto" && cfg.device_data != "on" && cfg.device_data != "off")
    input_error("--device-data " + cfg.device_data + ": expected auto, on or off");
  if (!(cfg.bias_lr_scale > 0) || !std::isfinite(cfg.bias_lr_scale))
    input_error("--bias-lr-scale " + num(cfg.bias_lr_scale) + ": expected a positive number");
  if (!(cfg.lr_start >= 0 && cfg.lr_start <= 1)) input_error("--lr-start " + num(cfg.lr_start) + ": expected [0, 1]");
  if (!(cfg.lr_end >= 0 && cfg.lr_end <= 1)) input_error("--lr-end " + num(cfg.lr_end) + ": expected [0, 1]");
  if (cfg.lookahead < 0) input_error("--lookahead " + std::to_string(cfg.lookahead) + ": expected 0 (off) or more steps");
  if (!(cfg.lookahead_decay > 0 && cfg.lookahead_decay < 1))
    input_error("--lookahead-decay " + num(cfg.lookahead_decay) + ": expected (0, 1)");
  if (cfg.save_every < 0) input_error("--save-every " + std::to_string(cfg.save_every) + ": expected 0 or more");
  if (cfg.eval_every < 0) input_error("--eval-every " + std::to_string(cfg.eval_every) + ": expected 0 or more");
  if (cfg.tta < 0 || cfg.tta > 2) input_error("--tta " + std::to_string(cfg.tta) + ": expected 0, 1 or 2");
  if (cfg.cuda_graph && cfg.device_data == "off")
    input_error("--cuda-graph needs the training set on the device; drop --device-data off");
  if (cfg.cuda_graph && cfg.deterministic)
    input_error("--cuda-graph with --deterministic: graph capture needs cuDNN autotuning's warm-up; pick one");
  if (cfg.out.empty()) input_error("train: no output folder given (--out)");
}


// Remembers the first step whose loss was not finite. On the CPU it checks every step (reading a CPU scalar is
// free); on a GPU it keeps the answer on the device and is read only when progress is read anyway.
class NonFiniteWatch {
 public:
  explicit NonFiniteWatch(const torch::Device& device) : cpu_(device.is_cpu()) {
    if (!cpu_) first_dev_ = torch::full({}, -1, torch::TensorOptions().dtype(torch::kLong).device(device));
  }
  void record(const torch::Tensor& loss, int64_t step) {
    if (cpu_) {
      if (first_ < 0 && !std::isfinite(loss.item<double>())) first_ = step;
      return;
    }
    auto bad = torch::isfinite(loss.detach()).logical_not().logical_and(first_dev_.lt(0));
    first_dev_ = torch::where(bad, torch::full_like(first_dev_, step), first_dev_);
  }
  /// The first bad step (1-based), or -1.
  int64_t first() const { return cpu_ ? first_ : first_dev_.item<int64_t>(); }

 private:
  bool cpu_;
  int64_t first_ = -1;
  torch::Tensor first_dev_;
};

// Lookahead (slow weights): every k steps the slow copy moves toward the trained weights by alpha, and training
// continues from the slow copy. alpha starts at 1 (plain training) and falls as 1 − decay^k·(t/T)³ toward the end,
// so the last steps average over a longer stretch; at the last step the model takes the slow weights. Parameters and
// floating-point buffers (BatchNorm statistics) both follow.
class Lookahead {
 public:
  // The model's tensors are held detached (sharing their storage), so the updates below write into the model.
  Lookahead(torch::nn::Module& model, int64_t k, double decay) : k_(k), decay_(decay) {
    for (auto& p : model.parameters()) fast_.push_back(p.detach());
    for (auto& b : model.buffers())
      if (b.is_floating_point()) fast_.push_back(b.detach());
    for (auto& t : fast_) slow_.push_back(t.clone());
  }
  void after_step(int64_t step, int64_t total_steps) {
    const bool last = step >= total_steps;
    if (step % k_ != 0 && !last) return;
    torch::NoGradGuard no_grad;
    const double t = static_cast<double>(step) / std::max<int64_t>(1, total_steps);
    const double alpha = last ? 0.0 : 1.0 - std::pow(decay_, static_cast<double>(k_)) * t * t * t;
    if (alpha > 0) {
      at::_foreach_mul_(slow_, 1.0 - alpha);
      at::_foreach_add_(slow_, fast_, alpha);
    }
    for (size_t i = 0; i < fast_.size(); ++i) fast_[i].copy_(slow_[i]);
  }

 private:
  int64_t k_;
  double decay_;
  std::vector<torch::Tensor> fast_, slow_;
};

void write_metrics_files(const std::string& out, const std::vector<EpochMetrics>& history, const std::string& title) {
  atomic_write(out + "/results.csv", results_csv(history));
  atomic_write(out + "/metrics.jsonl", metrics_jsonl(history));
  atomic_write(out + "/curves.svg", curves_svg(history, title));
}

}  // namespace

void set_deterministic(bool on) {
  // cuBLAS reproducibility needs a fixed workspace, set before its first use; a user's own setting wins.
  if (on) ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  at::globalContext().setDeterministicAlgorithms(on, /*warn_only=*/true);
  at::globalContext().setDeterministicCuDNN(on);
  if (on) at::globalContext().setBenchmarkCuDNN(false);
}

std::string next_run_dir(const std::string& base, const std::string& name, bool exist_ok) {
  const std::string first = base + "/" + name;
  if (exist_ok || !exists(first)) return first;
  for (int i = 2;; ++i) {
    const std::string p = first + std::to_string(i);
    if (!exists(p)) return p;
  }
}

double scheduled_lr(const TrainConfig& cfg, int64_t step, int64_t steps_per_epoch, int64_t total_steps) {
  const double total = static_cast<double>(std::max<int64_t>(1, total_steps));
  if (cfg.schedule == "onecycle" || cfg.schedule == "one-cycle") {
    // PyTorch's OneCycleLR with its defaults: div_factor 25, final_div_factor 1e4, cosine annealing.
    const double rise = cfg.warmup_epochs > 0 ? cfg.warmup_epochs * steps_per_epoch : 0.3 * total;
    const double start = cfg.lr / 25.0, end = start / 1e4;
    const double s = static_cast<double>(step);
    if (s < rise) {
      const double t = s / std::max(1.0, rise);
      return start + (cfg.lr - start) * 0.5 * (1.0 - std::cos(M_PI * t));
    }
    const double t = std::min(1.0, (s - rise) / std::max(1.0, total - 1.0 - rise));
    return end + (cfg.lr - end) * 0.5 * (1.0 + std::cos(M_PI * t));
  }
  const double warmup = cfg.warmup_epochs * steps_per_epoch;
  if (warmup > 0 && step < warmup) {
    if (cfg.schedule == "linear" && cfg.lr_start > 0) return cfg.lr * (cfg.lr_start + (1.0 - cfg.lr_start) * step / warmup);
    return cfg.lr * std::min(1.0, (step + 1) / warmup);  // a warmup shorter than one step must not overshoot
  }
  if (cfg.schedule == "constant") return cfg.lr;
  if (cfg.schedule == "step") {
    const int64_t k = (step / std::max<int64_t>(1, steps_per_epoch)) / std::max<int64_t>(1, cfg.step_epochs);
    return cfg.lr * std::pow(cfg.step_gamma, static_cast<double>(k));
  }
  const double span = std::max(1.0, total - warmup);
  const double t = std::min(1.0, (step - warmup) / span);
  if (cfg.schedule == "linear") return cfg.lr * (1.0 - (1.0 - cfg.lr_end) * t);
  return 0.5 * cfg.lr * (1.0 + std::cos(M_PI * t));
}

TrainResult train(const TrainConfig& cfg_in, std::ostream& log) {
  TrainConfig cfg = cfg_in;
  validate(cfg);
  check_model_config(cfg.model);
  const auto t_start = Clock::now();
  set_deterministic(cfg.deterministic);
  torch::manual_seed(cfg.seed);
  const torch::Device device = resolve_device(cfg.device);

  DatasetOptions data_opts;
  data_opts.val_split = cfg.val_split;
  data_opts.image_size = cfg.image_size;
  data_opts.skip_bad = cfg.skip_bad;
  Dataset ds = load_dataset(cfg.data, data_opts);
  ImageSet train_set = cfg.fraction < 1.0 ? subset(ds.train, cfg.fraction, cfg.seed) : ds.train;
  const auto stats = channel_stats(ds.train.images);

  ModelConfig mc = cfg.model;
  mc.in_channels = ds.channels();
  mc.num_classes = ds.num_classes();
  mc.image_size = ds.height();
  Model model = create_model(mc);
  model->to(device);
  if (cfg.resume.empty() && model->initialises_from_data()) {
    // Data-dependent initialisation (e.g. patch whitening) sees up to 5,000 seeded training images.
    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(cfg.seed + 17);
    auto pick = torch::randperm(train_set.size(), gen, torch::TensorOptions().dtype(torch::kLong))
                    .slice(0, 0, std::min<int64_t>(5000, train_set.size()));
    model->init_from_data(preprocess(train_set.images.index_select(0, pick), stats.first, stats.second, device));
  }
  if (cfg.channels_last) to_channels_last(*model);
  if (!cfg.deterministic) {
    PerfOptions perf;
    perf.amp = cfg.amp;
    perf.channels_last = cfg.channels_last;
    perf.cudnn_benchmark = cfg.cudnn_benchmark;
    apply_backend_settings(perf, device);
  }
  auto optimizer = make_optimizer(cfg, *model);

  CheckpointInfo info;
  info.model = mc;
  info.dataset = cfg.data;
  info.class_names = ds.class_names;
  info.input = {ds.channels(), ds.height(), ds.width()};
  info.mean = stats.first;
  info.std = stats.second;
  Transform tf = Transform::parse(cfg.augment);
  tf.mean = info.mean;
  tf.std = info.std;
  if (tf.output_size(ds.height(), ds.width()) != std::make_pair(ds.height(), ds.width()))
    input_error("--augment " + cfg.augment + ": the crop must keep the " + std::to_string(ds.height()) + "x" +
                std::to_string(ds.width()) + " image size (crop=" + std::to_string(ds.height()) + " with padding)");
  info.transform = tf.to_json();
  info.dataset_options = nlohmann::json{{"val_split", data_opts.val_split},
                                        {"image_size", data_opts.image_size},
                                        {"channels", ds.channels()},
                                        {"skip_bad", data_opts.skip_bad}}
                             .dump();

  // The training set held on the device when the augmentation can be done there in batches.
  const bool device_augmentable = tf.resize == 0 && tf.erase == 0;
  if (cfg.device_data == "on" && !device_augmentable)
    input_error("--device-data on: --augment " + cfg.augment +
                " uses resize or erasing, which only the host loader does; use --device-data auto or off");
  const bool on_device =
      cfg.device_data == "on" || (cfg.device_data == "auto" && device.is_cuda() && device_augmentable);
  if (cfg.cuda_graph && !device.is_cuda())
    input_error("--cuda-graph: the device is " + device.str() + "; CUDA graphs need --device cuda");
  if (cfg.cuda_graph && !on_device)
    input_error("--cuda-graph: --augment " + cfg.augment + " needs the host loader; graphs need device data");
  const int64_t n = train_set.size();
  if (cfg.cuda_graph && n < cfg.batch_size)
    input_error("--cuda-graph: " + std::to_string(n) + " training images are fewer than one batch of " +
                std::to_string(cfg.batch_size) + " (graph steps use full batches only)");
  const int64_t steps_per_epoch = cfg.cuda_graph ? n / cfg.batch_size : (n + cfg.batch_size - 1) / cfg.batch_size;
  const int64_t total_steps = steps_per_epoch * cfg.epochs;
  TrainResult result;
  result.last_weights = cfg.out + "/weights/last.safetensors";
  result.best_weights = cfg.out + "/weights/best.safetensors";

  TrainingState st;
  if (!cfg.resume.empty()) {
    CheckpointInfo ri = read_checkpoint_info(cfg.resume);
    if (ri.model.to_json() != mc.to_json())
      input_error(cfg.resume + ": holds model " + ri.model.to_json() + " but the settings build " + mc.to_json() +
                  "; resume with the run's own model settings");
    if (ri.dataset != cfg.data)
      input_error(cfg.resume + ": was trained on " + ri.dataset + " but --data is " + cfg.data);
    st = load_matching_state(cfg.resume, ri);
    const std::string sp = state_path_for(cfg.resume);
    if (st.optimizer != cfg.optimizer)
      input_error(sp + ": holds " + st.optimizer + " optimizer state but --optimizer is " + cfg.optimizer +
                  "; resume with --optimizer " + st.optimizer);
    if (st.batch > 0 && (st.batch_size != cfg.batch_size || st.steps_per_epoch != steps_per_epoch))
      input_error(sp + ": stopped inside epoch " + std::to_string(st.epoch + 1) + " with batch size " +
                  std::to_string(st.batch_size) + " (" + std::to_string(st.steps_per_epoch) +
                  " steps per epoch); resume with the same --batch-size and --fraction");
    if (st.epoch >= cfg.epochs)
      input_error(cfg.out + ": nothing to resume: the run has finished " + std::to_string(st.epoch) + " of " +
                  std::to_string(cfg.epochs) + " epoch(s); pass --epochs N (more than " + std::to_string(st.epoch) +
                  ") to train further");
    load_state_dict(*model, load_safetensors(cfg.resume).tensors, cfg.resume);
    load_optimizer_state(*optimizer, *model, st.optimizer_tensors, sp);
    if (st.rng_cpu.defined()) set_cpu_rng_state(st.rng_cpu);
    if (st.rng_cuda.defined() && device.is_cuda()) {
      auto gen = at::globalContext().defaultGenerator(device);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(st.rng_cuda);
    }
    info.epoch = ri.epoch;
    info.metrics = ri.metrics;
    result.resumed = true;
    result.best_top1 = st.best_top1;
  }
  st.batch_size = cfg.batch_size;
  st.steps_per_epoch = steps_per_epoch;
  st.optimizer = cfg.optimizer;

  make_dirs(cfg.out + "/weights");
  {
    TrainConfig record = cfg;
    record.threads = torch::get_num_threads();
    atomic_write(cfg.out + "/args.json", train_settings_json(record));
  }
  const std::string title = mc.name + " + " + mc.attn + " on " + cfg.data;

  if (!cfg.quiet) {
    log << "train: " << mc.name << " (attn " << mc.attn << ", head " << mc.head << ") on " << cfg.data << ": " << n
        << (cfg.fraction < 1.0 ? " training images (--fraction " + num(cfg.fraction) + " of " +
                                     std::to_string(ds.train.size()) + ")"
                               : " training images")
        << ", " << ds.test.size() << " test images, " << cfg.epochs << " epoch(s), batch " << cfg.batch_size << ", "
        << cfg.optimizer << " lr " << cfg.lr << " " << cfg.schedule << ", device " << device.str() << ", "
        << torch::get_num_threads() << " thread(s)" << (cfg.deterministic ? ", deterministic" : "") << "\n";
    if (result.resumed)
      log << "resuming " << cfg.out << " at epoch " << st.epoch + 1 << ", batch " << st.batch << "/"
          << steps_per_epoch << " (step " << st.step << ")\n";
    log << std::flush;
  }

  // Current RNG, optimizer and loop position as a resumable state; written with the weights.
  auto snapshot = [&](int64_t epochs_done, int64_t batch, int64_t step, double loss_sum, int64_t correct,
                      int64_t seen, double seconds) {
    st.epoch = epochs_done;
    st.batch = batch;
    st.step = step;
    st.partial_loss_sum = loss_sum;
    st.partial_correct = correct;
    st.partial_seen = seen;
    st.partial_seconds = seconds;
    st.rng_cpu = cpu_rng_state();
    if (device.is_cuda()) {
      auto gen = at::globalContext().defaultGenerator(device);
      std::lock_guard<std::mutex> lock(gen.mutex());
      st.rng_cuda = gen.get_state().clone();
    }
    st.optimizer_tensors = optimizer_state(*optimizer, *model);
    info.step = step;
    save_resumable_checkpoint(result.last_weights, *model, info, st);
  };
  auto fail_nonfinite = [&](int64_t bad_step, int64_t epoch) {
    runtime_error("non-finite training loss at step " + std::to_string(bad_step) + " (epoch " + std::to_string(epoch) +
                  "); stopped. The last good checkpoint " +
                  (exists(result.last_weights) ? result.last_weights + " (epoch " + std::to_string(info.epoch) + ")"
                                               : std::string("(none yet)")) +
                  " is intact; try a lower --lr");
  };

  // Workers overlap gathering and augmentation with the step. On the CPU the step already uses every core, so
  // batches without random augmentation are made on this thread.
  const int workers = cfg.workers >= 0 ? static_cast<int>(cfg.workers) : (device.is_cuda() ? 4 : (tf.is_random() ? 1 : 0));
  std::unique_ptr<Loader> loader;
  std::unique_ptr<DeviceBatches> device_batches;
  if (on_device) {
    DeviceBatchOptions dbo;
    dbo.batch_size = cfg.batch_size;
    dbo.drop_last = cfg.cuda_graph;
    dbo.crop_padding = tf.padding;
    dbo.reflect = tf.padding_mode == "reflect";
    dbo.hflip = tf.hflip > 0;
    dbo.flip_prob = tf.hflip;
    dbo.alternate_flip = tf.flip_mode == "alternate";
    dbo.channels_last = cfg.channels_last;
    device_batches = std::make_unique<DeviceBatches>(train_set, device, dbo, tf.mean, tf.std);
  } else {
    loader = std::make_unique<Loader>(
        train_set, LoaderOptions(cfg.batch_size).seed(cfg.seed).workers(workers).transform(tf).device(device));
  }
  std::unique_ptr<GraphedStep> graph;
  std::unique_ptr<Lookahead> lookahead;
  if (cfg.lookahead > 0) lookahead = std::make_unique<Lookahead>(*model, cfg.lookahead, cfg.lookahead_decay);
  // Learning-rate factor of each optimizer group: weights, then norms and biases.
  const std::vector<double> group_lr_scale{1.0, cfg.bias_lr_scale};
  const auto label_opts = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(cfg.label_smoothing);
  int64_t step = st.step;
  NonFiniteWatch watch(device);
  result.setup_seconds = seconds_since(t_start);
  const int64_t first_epoch = st.epoch + 1;
  for (int64_t epoch = first_epoch; epoch <= cfg.epochs; ++epoch) {
    model->train();
    const auto t_epoch = Clock::now();
    const bool continuing = epoch == first_epoch && st.batch > 0;
    const int64_t first_batch = continuing ? st.batch : 0;
    const double prior_seconds = continuing ? st.partial_seconds : 0.0;
    // The loader's order and augmentation depend only on (seed, epoch): a run resumed mid-epoch regenerates the
    // batches it already trained on and skips them.
    if (device_batches) {
      device_batches->start_epoch(cfg.seed, epoch);
      device_batches->skip(first_batch);
    } else {
      loader->set_epoch(epoch);
      for (int64_t k = 0; k < first_batch; ++k) {
        Batch skipped;
        loader->next(skipped);
      }
    }

    auto loss_sum = torch::full({}, continuing ? st.partial_loss_sum : 0.0,
                                torch::TensorOptions().dtype(torch::kDouble).device(device));
    auto correct = torch::full({}, continuing ? st.partial_correct : int64_t{0},
                               torch::TensorOptions().dtype(torch::kLong).device(device));
    int64_t seen = continuing ? st.partial_seen : 0;
    const int64_t seen_before = seen;
    double lr = scheduled_lr(cfg, step, steps_per_epoch, total_steps);
    auto last_draw = Clock::now();
    for (int64_t b = first_batch; b < steps_per_epoch; ++b) {
      if (stop_requested() || (cfg.max_steps > 0 && step >= cfg.max_steps)) {
        const int64_t bad = watch.first();
        if (bad >= 0) fail_nonfinite(bad, epoch);
        snapshot(epoch - 1, b, step, loss_sum.item<double>(), correct.item<int64_t>(), seen,
                 prior_seconds + seconds_since(t_epoch));
        if (!cfg.quiet) {
          if (cfg.live) log << "\r\x1b[K";
          log << "stopped at epoch " << epoch << "/" << cfg.epochs << ", batch " << b << "/" << steps_per_epoch
              << " (step " << step << "): saved " << result.last_weights
              << " with its optimizer state; a resume continues from this batch\n"
              << std::flush;
        }
        result.interrupted = true;
        result.steps = step;
        result.epochs_run = epoch - 1;
        result.train_seconds = seconds_since(t_start);
        return result;
      }
      Batch batch;
      const bool got = device_batches ? device_batches->next(batch.images, batch.labels) : loader->next(batch);
      if (!got)
        runtime_error("data loader ended after " + std::to_string(b) + " of " + std::to_string(steps_per_epoch) +
                      " batches of epoch " + std::to_string(epoch));
      if (cfg.channels_last) batch.images = batch.images.contiguous(at::MemoryFormat::ChannelsLast);
      const int64_t i0 = 0, i1 = batch.labels.size(0);
      lr = scheduled_lr(cfg, step, steps_per_epoch, total_steps);
      for (size_t g = 0; g < optimizer->param_groups().size(); ++g)
        optimizer->param_groups()[g].options().set_lr(lr * group_lr_scale[std::min<size_t>(g, 1)]);
      torch::Tensor logits, loss;
      if (cfg.cuda_graph) {
        // Replays write the gradients in place: no zero_grad.
        if (!graph)
          graph = std::make_unique<GraphedStep>(*model, batch.images, batch.labels, cfg.amp, cfg.label_smoothing);
        graph->run(batch.images, batch.labels);
        logits = graph->logits();
        loss = graph->loss();
      } else {
        optimizer->zero_grad();
        {
          AutocastGuard autocast(cfg.amp, device);
          logits = model->forward(batch.images);
          loss = torch::nn::functional::cross_entropy(logits, batch.labels, label_opts);
        }
        loss.backward();
      }
      optimizer->step();
      ++step;
      if (lookahead) lookahead->after_step(step, total_steps);
      watch.record(loss, step);
      loss_sum += loss.detach().to(torch::kDouble) * (i1 - i0);
      correct += logits.detach().argmax(1).eq(batch.labels).sum();
      seen += i1 - i0;
      if (device.is_cpu()) {
        const int64_t bad = watch.first();
        if (bad >= 0) fail_nonfinite(bad, epoch);
      }
      // Reading the loss synchronises with the device, so a live line is redrawn at most twice a second.
      const bool log_now = cfg.live ? seconds_since(last_draw) > 0.5
                                    : (cfg.log_interval > 0 && (b + 1) % cfg.log_interval == 0);
      if (!cfg.quiet && log_now && b + 1 < steps_per_epoch) {
        last_draw = Clock::now();
        const int64_t bad = watch.first();
        if (bad >= 0) fail_nonfinite(bad, epoch);
        const double el = seconds_since(t_epoch);
        const double l = loss_sum.item<double>() / seen;
        const double rate = (seen - seen_before) / std::max(1e-9, el);
        const double eta = el / (b + 1 - first_batch) * (steps_per_epoch - b - 1);
        std::ostringstream line;
        line << "epoch " << epoch << "/" << cfg.epochs << " " << (b + 1) << "/" << steps_per_epoch << " loss "
             << fmt(l, 4) << " acc " << fmt(100.0 * correct.item<int64_t>() / seen, 2) << "% " << fmt(rate, 0)
             << " img/s lr " << num(lr) << " ETA " << duration_text(eta);
        if (cfg.live) log << "\r" << line.str() << "\x1b[K" << std::flush;
        else log << line.str() << "\n" << std::flush;
      }
    }
    const int64_t bad = watch.first();
    if (bad >= 0) fail_nonfinite(bad, epoch);
    const double train_loss = loss_sum.item<double>() / std::max<int64_t>(1, seen);
    const double train_acc = 100.0 * correct.item<int64_t>() / std::max<int64_t>(1, seen);
    const double epoch_s = prior_seconds + seconds_since(t_epoch);
    // Evaluation every eval_every epochs and after the last; epochs in between record no test metrics.
    const bool evaluate_now = epoch == cfg.epochs || (cfg.eval_every > 0 && epoch % cfg.eval_every == 0);
    EvalResult ev;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const auto t_eval = Clock::now();
    if (evaluate_now) ev = evaluate(*model, ds.test, info.mean, info.std, cfg.batch_eval, device, cfg.tta);
    else ev.loss = ev.top1 = ev.top5 = nan;
    result.eval_seconds += seconds_since(t_eval);

    EpochMetrics m;
    m.epoch = epoch;
    m.train_loss = train_loss;
    m.train_acc = train_acc;
    m.val_loss = ev.loss;
    m.val_top1 = ev.top1;
    m.val_top5 = ev.top5;
    m.lr = lr;
    m.epoch_seconds = epoch_s;
    m.images_per_second = seen / std::max(1e-9, epoch_s);
    st.history.push_back(m);
    const bool best = evaluate_now && (st.best_epoch == 0 || ev.top1 >= st.best_top1);
    if (best) st.best_top1 = ev.top1, st.best_epoch = epoch;

    info.epoch = epoch;
    info.metrics = {{"train_loss", train_loss}, {"train_acc", train_acc}};
    if (evaluate_now) {
      info.metrics["val_loss"] = ev.loss;
      info.metrics["val_top1"] = ev.top1;
      info.metrics["val_top5"] = ev.top5;
    }
    const auto t_save = Clock::now();
    const bool stop_now = stop_requested();  // read once: a stop after this epoch must find it saved
    const bool save_now = epoch == cfg.epochs || stop_now || (cfg.save_every > 0 && epoch % cfg.save_every == 0);
    if (save_now) snapshot(epoch, 0, step, 0.0, 0, 0, 0.0);
    if (best) save_checkpoint(result.best_weights, *model, info);
    write_metrics_files(cfg.out, st.history, title);
    result.save_seconds += seconds_since(t_save);
    if (!cfg.quiet) {
      if (cfg.live) log << "\r\x1b[K";
      log << "epoch " << epoch << "/" << cfg.epochs << "  train loss " << fmt(train_loss, 4) << " acc "
          << fmt(train_acc, 2) << "%  "
          << (evaluate_now ? "test loss " + fmt(ev.loss, 4) + " top1 " + fmt(ev.top1, 2) + "% top5 " + fmt(ev.top5, 2) + "%"
                           : std::string("(not evaluated)"))
          << "  " << fmt(epoch_s, 1) << " s, " << fmt(m.images_per_second, 0) << " img/s"
          << (best ? "  (best)" : "") << "\n"
          << std::flush;
    }
    result.final_eval = ev;
    result.epochs_run = epoch;
    result.best_top1 = st.best_top1;
    result.steps = step;
    if (stop_now && epoch < cfg.epochs) {
      if (!cfg.quiet)
        log << "stopped after epoch " << epoch << "/" << cfg.epochs << " (step " << step << "): " << result.last_weights
            << " resumes at epoch " << epoch + 1 << "\n"
            << std::flush;
      result.interrupted = true;
      break;
    }
  }
  result.steps = step;
  result.train_seconds = seconds_since(t_start);
  return result;
}

}  // namespace attncnn
