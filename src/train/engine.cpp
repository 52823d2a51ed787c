// The training engine: setup, epochs of optimizer steps, and evaluate-and-save, with extras (EMA, Lookahead) that
// run after each step and keep their state in the checkpoint.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/data/loader.h>
#include <attncnn/data/transforms.h>
#include <attncnn/error.h>
#include <attncnn/io/files.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/train/checkpoint.h>
#include <attncnn/train/config.h>
#include <attncnn/train/device_data.h>
#include <attncnn/train/extras.h>
#include <attncnn/train/graph_step.h>
#include <attncnn/train/initial.h>
#include <attncnn/train/interrupt.h>
#include <attncnn/train/metrics.h>
#include <attncnn/train/mix.h>
#include <attncnn/train/optim.h>
#include <attncnn/train/parallel.h>
#include <attncnn/train/perf.h>
#include <attncnn/train/trainer.h>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <mutex>
#include <sstream>
#include <tuple>

namespace attncnn {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

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
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)t / 3600, (long long)(t / 60) % 60,
                  (long long)t % 60);
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
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (cfg.optimizer == "adamw") {
    auto d = torch::optim::AdamWOptions(cfg.lr).weight_decay(cfg.weight_decay);
    auto nd = torch::optim::AdamWOptions(cfg.lr).weight_decay(0.0);
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(d));
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(nd));
    return std::make_unique<ForeachAdamW>(groups, d);
  }
  const auto sgd = torch::optim::SGDOptions(cfg.lr).momentum(cfg.momentum).nesterov(cfg.nesterov);
  auto d = torch::optim::SGDOptions(sgd).weight_decay(cfg.weight_decay);
  auto nd = torch::optim::SGDOptions(sgd).weight_decay(0.0);
  groups.emplace_back(decay, std::make_unique<torch::optim::SGDOptions>(d));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::SGDOptions>(nd));
  return std::make_unique<ForeachSGD>(groups, d);
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

void write_metrics_files(const std::string& out, const std::vector<EpochMetrics>& history, const std::string& title) {
  atomic_write(out + "/results.csv", results_csv(history));
  atomic_write(out + "/metrics.jsonl", metrics_jsonl(history));
  atomic_write(out + "/curves.svg", curves_svg(history, title));
}

// Running sums of the epoch in progress, kept on the training device (no host sync per step).
struct EpochSums {
  torch::Tensor loss_sum, correct;
  int64_t seen = 0;
};

class Engine {
 public:
  Engine(const TrainConfig& cfg, std::ostream& log, DataParallel* parallel)
      : cfg_(cfg), log_(log), dp_(parallel) {}
  TrainResult run();

 private:
  void setup();
  void load_data();
  void build_model();
  void build_batches();
  void resume();
  void log_start();
  bool run_epoch(int64_t epoch);
  int64_t train_step(int64_t epoch, int64_t batch, EpochSums& sums);
  void log_progress(int64_t epoch, int64_t batch, const EpochSums& sums, Clock::time_point t_epoch,
                    int64_t first_batch, int64_t seen_before);
  void stop_inside(int64_t epoch, int64_t batch, EpochSums& sums, double seconds);
  bool finish_epoch(int64_t epoch, EpochSums& sums, double epoch_seconds);
  void snapshot(int64_t epochs_done, int64_t batch, double loss_sum, int64_t correct, int64_t seen, double seconds);
  [[noreturn]] void fail_nonfinite(int64_t bad_step, int64_t epoch);
  void start_distributed();
  bool should_stop();
  bool agree(bool local);
  void reduce_sums(EpochSums& sums);
  EvalResult evaluate_on_test(ModelImpl& model);
  bool main() const { return !dp_ || dp_->rank() == 0; }
  void check_finite(int64_t epoch) {
    const int64_t bad = watch_->first();
    if (bad >= 0) fail_nonfinite(bad, epoch);
  }

  TrainConfig cfg_;
  std::ostream& log_;
  Clock::time_point t_start_;
  torch::Device device_{torch::kCPU};
  Dataset ds_;
  ImageSet train_set_;
  DatasetOptions data_opts_;
  ModelConfig mc_;
  Model model_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  CheckpointInfo info_;
  Transform tf_;
  bool on_device_ = false;
  int64_t batches_per_epoch_ = 0, steps_per_epoch_ = 0, total_steps_ = 0;
  TrainResult result_;
  TrainingState st_;
  std::unique_ptr<Loader> loader_;
  std::unique_ptr<DeviceBatches> device_batches_;
  std::unique_ptr<GraphedStep> graph_;
  std::vector<std::unique_ptr<TrainExtra>> extras_;
  ModelImpl* ema_model_ = nullptr;
  std::unique_ptr<NonFiniteWatch> watch_;
  int64_t step_ = 0;
  int64_t first_epoch_ = 1, resume_batch_ = 0;  // where this call starts (a resume may start inside an epoch)
  double lr_ = 0;
  std::string title_;
  std::vector<double> group_lr_scale_;
  MixOptions mix_;
  std::string initial_note_;  // what --initial-checkpoint loaded, for the start-up lines
  DataParallel* dp_ = nullptr;                // data-parallel runs only
  int64_t recorded_world_ = 1;                // the world size a resumed run was started with
  bool sync_bn_installed_ = false;

 public:
  ~Engine() {
    if (sync_bn_installed_) set_batch_norm_sync({});
  }
};

void Engine::load_data() {
  data_opts_.val_split = cfg_.val_split;
  data_opts_.image_size = cfg_.image_size;
  data_opts_.skip_bad = cfg_.skip_bad;
  ds_ = load_dataset(cfg_.data, data_opts_);
  train_set_ = cfg_.fraction < 1.0 ? subset(ds_.train, cfg_.fraction, cfg_.seed) : ds_.train;
  const auto stats = channel_stats(ds_.train.images);
  info_.dataset = cfg_.data;
  info_.class_names = ds_.class_names;
  info_.input = {ds_.channels(), ds_.height(), ds_.width()};
  info_.mean = stats.first;
  info_.std = stats.second;
  info_.dataset_options = nlohmann::json{{"val_split", data_opts_.val_split},
                                         {"image_size", data_opts_.image_size},
                                         {"channels", ds_.channels()},
                                         {"skip_bad", data_opts_.skip_bad}}
                              .dump();
  tf_ = Transform::parse(cfg_.augment);
  tf_.mean = info_.mean;
  tf_.std = info_.std;
  if (tf_.output_size(ds_.height(), ds_.width()) != std::make_pair(ds_.height(), ds_.width()))
    input_error("--augment " + cfg_.augment + ": the crop must keep the " + std::to_string(ds_.height()) + "x" +
                std::to_string(ds_.width()) + " image size (crop=" + std::to_string(ds_.height()) + " with padding)");
  info_.transform = tf_.to_json();
}

void Engine::build_model() {
  mc_.in_channels = ds_.channels();
  mc_.num_classes = ds_.num_classes();
  mc_.image_size = ds_.height();
  if (cfg_.drop_path > 0) mc_.model_params.set("drop_path_rate", num(cfg_.drop_path));
  model_ = create_model(mc_);
  model_->to(device_);
  if (cfg_.resume.empty() && model_->initialises_from_data()) {
    // Data-dependent initialisation (e.g. patch whitening) sees up to 5,000 seeded training images.
    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(cfg_.seed + 17);
    auto pick = torch::randperm(train_set_.size(), gen, torch::TensorOptions().dtype(torch::kLong))
                    .slice(0, 0, std::min<int64_t>(5000, train_set_.size()));
    model_->init_from_data(preprocess(train_set_.images.index_select(0, pick), info_.mean, info_.std, device_));
  }
  if (cfg_.resume.empty() && !cfg_.initial_checkpoint.empty()) {
    const auto r = load_initial_checkpoint(*model_, cfg_.initial_checkpoint, cfg_.reset_head);
    initial_note_ = "initial weights: " + std::to_string(r.loaded.size()) + " tensors from " + cfg_.initial_checkpoint;
    if (!r.reset.empty()) {
      initial_note_ += "; classifier re-initialised (";
      for (size_t i = 0; i < r.reset.size(); ++i) initial_note_ += (i ? ", " : "") + r.reset[i];
      initial_note_ += ")";
    }
  }
  if (cfg_.channels_last) to_channels_last(*model_);
  if (!cfg_.deterministic) {
    PerfOptions perf;
    perf.amp = cfg_.amp;
    perf.channels_last = cfg_.channels_last;
    perf.cudnn_benchmark = cfg_.cudnn_benchmark;
    apply_backend_settings(perf, device_);
  }
  optimizer_ = make_optimizer(cfg_, *model_);
  info_.model = mc_;
}

void Engine::build_batches() {
  // The training set is held on the device when the augmentation can be done there in batches.
  const bool device_augmentable = tf_.resize == 0 && tf_.erase == 0;
  if (cfg_.device_data == "on" && !device_augmentable)
    input_error("--device-data on: --augment " + cfg_.augment +
                " uses resize or erasing, which only the host loader does; use --device-data auto or off");
  on_device_ = cfg_.device_data == "on" || (cfg_.device_data == "auto" && device_.is_cuda() && device_augmentable);
  if (cfg_.cuda_graph && !device_.is_cuda())
    input_error("--cuda-graph: the device is " + device_.str() + "; CUDA graphs need --device cuda");
  if (cfg_.cuda_graph && !on_device_)
    input_error("--cuda-graph: --augment " + cfg_.augment + " needs the host loader; graphs need device data");
  // Each rank trains on its share of every epoch's order (all of it in a one-process run).
  const int64_t world = dp_ ? dp_->world_size() : 1, rank = dp_ ? dp_->rank() : 0;
  const int64_t n = (train_set_.size() + world - 1) / world;
  if (cfg_.cuda_graph && n < cfg_.batch_size)
    input_error("--cuda-graph: " + std::to_string(n) + " training images are fewer than one batch of " +
                std::to_string(cfg_.batch_size) + " (graph steps use full batches only)");
  batches_per_epoch_ = cfg_.cuda_graph ? n / cfg_.batch_size : (n + cfg_.batch_size - 1) / cfg_.batch_size;
  steps_per_epoch_ = (batches_per_epoch_ + cfg_.grad_accum_steps - 1) / cfg_.grad_accum_steps;
  total_steps_ = steps_per_epoch_ * cfg_.epochs;
  if (on_device_) {
    DeviceBatchOptions dbo;
    dbo.batch_size = cfg_.batch_size;
    dbo.drop_last = cfg_.cuda_graph;
    dbo.crop_padding = tf_.padding;
    dbo.reflect = tf_.padding_mode == "reflect";
    dbo.hflip = tf_.hflip > 0;
    dbo.flip_prob = tf_.hflip;
    dbo.alternate_flip = tf_.flip_mode == "alternate";
    dbo.channels_last = cfg_.channels_last;
    dbo.shard_rank = rank;
    dbo.shard_count = world;
    device_batches_ = std::make_unique<DeviceBatches>(train_set_, device_, dbo, tf_.mean, tf_.std);
  } else {
    // Workers overlap gathering and augmentation with the step. On the CPU the step already uses every core, so
    // batches without random augmentation are made on this thread.
    const int workers = cfg_.workers >= 0 ? static_cast<int>(cfg_.workers)
                                          : (device_.is_cuda() ? 4 : (tf_.is_random() ? 1 : 0));
    loader_ = std::make_unique<Loader>(
        train_set_, LoaderOptions(cfg_.batch_size).seed(cfg_.seed).workers(workers).transform(tf_).device(device_)
                        .shard_rank(rank).shard_count(world));
  }
}

void Engine::resume() {
  CheckpointInfo ri = read_checkpoint_info(cfg_.resume);
  if (ri.model.to_json() != mc_.to_json())
    input_error(cfg_.resume + ": holds model " + ri.model.to_json() + " but the settings build " + mc_.to_json() +
                "; resume with the run's own model settings");
  if (ri.dataset != cfg_.data)
    input_error(cfg_.resume + ": was trained on " + ri.dataset + " but --data is " + cfg_.data);
  st_ = load_matching_state(cfg_.resume, ri);
  const std::string sp = state_path_for(cfg_.resume);
  if (st_.optimizer != cfg_.optimizer)
    input_error(sp + ": holds " + st_.optimizer + " optimizer state but --optimizer is " + cfg_.optimizer +
                "; resume with --optimizer " + st_.optimizer);
  if (st_.batch > 0 && (st_.batch_size != cfg_.batch_size || st_.steps_per_epoch != steps_per_epoch_))
    input_error(sp + ": stopped inside epoch " + std::to_string(st_.epoch + 1) + " with batch size " +
                std::to_string(st_.batch_size) + " (" + std::to_string(st_.steps_per_epoch) +
                " steps per epoch); resume with the same --batch-size, --grad-accum-steps and --fraction");
  if (st_.batch > 0 && recorded_world_ != cfg_.world_size)
    input_error(sp + ": stopped inside epoch " + std::to_string(st_.epoch + 1) + " of a run on " +
                std::to_string(recorded_world_) + " rank(s), this one has " + std::to_string(cfg_.world_size) +
                "; resume inside an epoch with the same number of ranks");
  if (st_.epoch >= cfg_.epochs)
    input_error(cfg_.out + ": nothing to resume: the run has finished " + std::to_string(st_.epoch) + " of " +
                std::to_string(cfg_.epochs) + " epoch(s); pass --epochs N (more than " + std::to_string(st_.epoch) +
                ") to train further");
  load_state_dict(*model_, load_safetensors(cfg_.resume).tensors, cfg_.resume);
  load_optimizer_state(*optimizer_, *model_, st_.optimizer_tensors, sp);
  if (st_.rng_cpu.defined()) set_cpu_rng_state(st_.rng_cpu);
  if (st_.rng_cuda.defined() && device_.is_cuda()) {
    auto gen = at::globalContext().defaultGenerator(device_);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(st_.rng_cuda);
  }
  info_.epoch = ri.epoch;
  info_.metrics = ri.metrics;
  result_.resumed = true;
  result_.best_top1 = st_.best_top1;
}

void Engine::setup() {
  validate_train_config(cfg_);
  // Aliases first: everything logged, recorded and checked below names the network that is built.
  mc_ = resolve_model_aliases(cfg_.model);
  cfg_.model.name = mc_.name;
  cfg_.model.attn = mc_.attn;
  cfg_.model.model_params = mc_.model_params;
  check_model_config(mc_);
  t_start_ = Clock::now();
  set_deterministic(cfg_.deterministic);
  torch::manual_seed(cfg_.seed);
  device_ = resolve_device(cfg_.device);
  start_distributed();
  load_data();
  mix_.mixup_alpha = cfg_.mixup;
  mix_.cutmix_alpha = cfg_.cutmix;
  mix_.prob = cfg_.mixup_prob;
  mix_.switch_prob = cfg_.mixup_switch_prob;
  mix_.label_smoothing = cfg_.label_smoothing;
  mix_.num_classes = ds_.num_classes();
  if (mix_.enabled()) mix_.check();
  build_model();
  build_batches();
  result_.last_weights = cfg_.out + "/weights/last.safetensors";
  result_.best_weights = cfg_.out + "/weights/best.safetensors";
  // Extras are built before a resume restores the RNG (building the EMA's model draws from it), so a resumed run
  // draws what an uninterrupted one does; the resume then restores their own state.
  if (cfg_.lookahead > 0) extras_.push_back(make_lookahead(*model_, cfg_.lookahead, cfg_.lookahead_decay));
  if (cfg_.model_ema) {
    Model average = create_model(mc_);
    average->to(device_);
    if (cfg_.channels_last) to_channels_last(*average);
    extras_.push_back(make_model_ema(*model_, average, {cfg_.model_ema_decay, cfg_.model_ema_warmup}));
    ema_model_ = extras_.back()->eval_model();
  }
  if (!cfg_.resume.empty()) {
    resume();
    load_extras_state(extras_, st_.extra_tensors, state_path_for(cfg_.resume));
  }
  if (dp_) {
    // Every rank starts from rank 0's weights (they agree already when seeded alike; this makes it a rule).
    std::vector<torch::Tensor> state;
    for (auto& t : model_->parameters()) state.push_back(t.detach());
    for (auto& t : model_->buffers()) state.push_back(t);
    if (ema_model_)
      for (auto& t : ema_model_->parameters()) state.push_back(t.detach());
    dp_->broadcast(state);
    dp_->watch_gradients(model_->parameters(), cfg_.bucket_cap_mb);
  }
  st_.batch_size = cfg_.batch_size;
  st_.steps_per_epoch = steps_per_epoch_;
  st_.optimizer = cfg_.optimizer;
  if (main()) {
    make_dirs(cfg_.out + "/weights");
    TrainConfig record = cfg_;
    record.threads = torch::get_num_threads();
    atomic_write(cfg_.out + "/args.json", train_settings_json(record));
  }
  title_ = mc_.name + " + " + mc_.attn + " on " + cfg_.data;
  group_lr_scale_ = {1.0, cfg_.bias_lr_scale};  // weights, then norms and biases
  watch_ = std::make_unique<NonFiniteWatch>(device_);
  step_ = st_.step;
  first_epoch_ = st_.epoch + 1;
  resume_batch_ = st_.batch;
}

void Engine::log_start() {
  if (cfg_.quiet) return;
  const int64_t n = train_set_.size();
  log_ << "train: " << mc_.name << " (attn " << mc_.attn << ", head " << mc_.head << ") on " << cfg_.data << ": " << n
       << (cfg_.fraction < 1.0 ? " training images (--fraction " + num(cfg_.fraction) + " of " +
                                     std::to_string(ds_.train.size()) + ")"
                               : " training images")
       << ", " << ds_.test.size() << " test images, " << cfg_.epochs << " epoch(s), batch " << cfg_.batch_size
       << (cfg_.grad_accum_steps > 1 ? " x " + std::to_string(cfg_.grad_accum_steps) + " accumulated" : "") << ", "
       << cfg_.optimizer << " lr " << cfg_.lr << " " << cfg_.schedule << ", device " << device_.str() << ", "
       << torch::get_num_threads() << " thread(s)" << (cfg_.deterministic ? ", deterministic" : "")
       << (ema_model_ ? ", model EMA " + num(cfg_.model_ema_decay) : "") << "\n";
  if (dp_)
    log_ << "data-parallel: " << dp_->world_size() << " rank(s) (" << dp_->describe() << "), batch "
         << cfg_.batch_size << " per rank, global batch " << cfg_.batch_size * dp_->world_size()
         << (cfg_.grad_accum_steps > 1 ? " x " + std::to_string(cfg_.grad_accum_steps) + " accumulated" : "")
         << "\n";
  if (!initial_note_.empty()) log_ << initial_note_ << "\n";
  if (result_.resumed)
    log_ << "resuming " << cfg_.out << " at epoch " << st_.epoch + 1 << ", batch " << st_.batch << "/"
         << batches_per_epoch_ << " (step " << st_.step << ")\n";
  log_ << std::flush;
}

// Current RNG, optimizer, extras and loop position as a resumable state; written with the weights.
void Engine::snapshot(int64_t epochs_done, int64_t batch, double loss_sum, int64_t correct, int64_t seen,
                      double seconds) {
  st_.epoch = epochs_done;
  st_.batch = batch;
  st_.step = step_;
  st_.partial_loss_sum = loss_sum;
  st_.partial_correct = correct;
  st_.partial_seen = seen;
  st_.partial_seconds = seconds;
  st_.rng_cpu = cpu_rng_state();
  if (device_.is_cuda()) {
    auto gen = at::globalContext().defaultGenerator(device_);
    std::lock_guard<std::mutex> lock(gen.mutex());
    st_.rng_cuda = gen.get_state().clone();
  }
  st_.optimizer_tensors = optimizer_state(*optimizer_, *model_);
  st_.extra_tensors = extras_state(extras_);
  info_.step = step_;
  if (main()) save_resumable_checkpoint(result_.last_weights, *model_, info_, st_);
}

void Engine::fail_nonfinite(int64_t bad_step, int64_t epoch) {
  runtime_error("non-finite training loss at step " + std::to_string(bad_step) + " (epoch " + std::to_string(epoch) +
                "); stopped. The last good checkpoint " +
                (exists(result_.last_weights) ? result_.last_weights + " (epoch " + std::to_string(info_.epoch) + ")"
                                              : std::string("(none yet)")) +
                " is intact; try a lower --lr");
}

// One optimizer step over up to grad_accum_steps batches starting at `batch`; returns the batches it used.
int64_t Engine::train_step(int64_t epoch, int64_t batch, EpochSums& sums) {
  const int64_t k = std::min(cfg_.grad_accum_steps, batches_per_epoch_ - batch);
  lr_ = scheduled_lr(cfg_, step_, steps_per_epoch_, total_steps_);
  for (size_t g = 0; g < optimizer_->param_groups().size(); ++g)
    optimizer_->param_groups()[g].options().set_lr(lr_ * group_lr_scale_[std::min<size_t>(g, 1)]);
  if (!cfg_.cuda_graph) {  // graph replays write the gradients in place
    if (dp_) dp_->zero_grad();
    else optimizer_->zero_grad();
  }
  const auto ce = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(cfg_.label_smoothing);
  const bool mixing = mix_.enabled() && (cfg_.mixup_off_epoch == 0 || epoch <= cfg_.mixup_off_epoch);
  for (int64_t j = 0; j < k; ++j) {
    Batch b;
    const bool got = device_batches_ ? device_batches_->next(b.images, b.labels) : loader_->next(b);
    if (!got)
      runtime_error("data loader ended after " + std::to_string(batch + j) + " of " +
                    std::to_string(batches_per_epoch_) + " batches of epoch " + std::to_string(epoch));
    if (cfg_.channels_last) b.images = b.images.contiguous(at::MemoryFormat::ChannelsLast);
    torch::Tensor logits, loss;
    if (cfg_.cuda_graph) {
      if (dp_) dp_->set_sync(false);  // replays run no hooks: the gradients are reduced after the step
      if (!graph_) graph_ = std::make_unique<GraphedStep>(*model_, b.images, b.labels, cfg_.amp, cfg_.label_smoothing);
      graph_->run(b.images, b.labels);
      logits = graph_->logits();
      loss = graph_->loss();
    } else {
      // Mixed batches train on soft targets (label smoothing folded in); every draw is keyed by the batch's
      // position in the run, so a resume mixes as an uninterrupted run does.
      torch::Tensor x = b.images, target;
      const int64_t place = (epoch - 1) * batches_per_epoch_ + batch + j;
      if (mixing) std::tie(x, target) = mix_batch(b.images, b.labels, mix_, cfg_.seed, place);
      {
        AutocastGuard autocast(cfg_.amp, device_);
        logits = model_->forward(x);
        loss = target.defined() ? soft_target_cross_entropy(logits, target)
                                : torch::nn::functional::cross_entropy(logits, b.labels, ce);
      }
      // Each batch's mean loss counts 1/k: k batches of B/k sum to the gradient of one batch of B. Only the last
      // batch's backward starts the all-reduce (of the accumulated gradients).
      if (dp_) dp_->set_sync(j == k - 1);
      (k > 1 ? loss / static_cast<double>(k) : loss).backward();
    }
    watch_->record(loss, step_ + 1);
    const int64_t m = b.labels.size(0);
    sums.loss_sum += loss.detach().to(torch::kDouble) * m;
    sums.correct += logits.detach().argmax(1).eq(b.labels).sum();
    sums.seen += m;
  }
  if (dp_) cfg_.cuda_graph ? dp_->reduce_gradients() : dp_->finish_gradients();
  if (cfg_.clip_grad > 0) clip_gradients(*model_, cfg_.clip_grad, cfg_.clip_mode);
  optimizer_->step();
  ++step_;
  for (auto& e : extras_) e->after_step(step_, total_steps_);
  if (device_.is_cpu()) check_finite(epoch);
  return k;
}

void Engine::log_progress(int64_t epoch, int64_t batch, const EpochSums& sums, Clock::time_point t_epoch,
                          int64_t first_batch, int64_t seen_before) {
  check_finite(epoch);
  const double el = seconds_since(t_epoch);
  const double l = sums.loss_sum.item<double>() / std::max<int64_t>(1, sums.seen);
  const double rate = (sums.seen - seen_before) / std::max(1e-9, el);
  const double eta = el / std::max<int64_t>(1, batch - first_batch) * (batches_per_epoch_ - batch);
  std::ostringstream line;
  line << "epoch " << epoch << "/" << cfg_.epochs << " " << batch << "/" << batches_per_epoch_ << " loss " << fmt(l, 4)
       << " acc " << fmt(100.0 * sums.correct.item<int64_t>() / std::max<int64_t>(1, sums.seen), 2) << "% "
       << fmt(rate, 0) << " img/s lr " << num(lr_) << " ETA " << duration_text(eta);
  if (cfg_.live) log_ << "\r" << line.str() << "\x1b[K" << std::flush;
  else log_ << line.str() << "\n" << std::flush;
}

void Engine::stop_inside(int64_t epoch, int64_t batch, EpochSums& sums, double seconds) {
  check_finite(epoch);
  reduce_sums(sums);
  snapshot(epoch - 1, batch, sums.loss_sum.item<double>(), sums.correct.item<int64_t>(), sums.seen, seconds);
  if (!cfg_.quiet) {
    if (cfg_.live) log_ << "\r\x1b[K";
    log_ << "stopped at epoch " << epoch << "/" << cfg_.epochs << ", batch " << batch << "/" << batches_per_epoch_
         << " (step " << step_ << "): saved " << result_.last_weights
         << " with its optimizer state; a resume continues from this batch\n"
         << std::flush;
  }
  result_.interrupted = true;
  result_.epochs_run = epoch - 1;
}

// Trains epoch `epoch`; false when a stop request or max_steps ended it early (saved, resumable).
bool Engine::run_epoch(int64_t epoch) {
  model_->train();
  const auto t_epoch = Clock::now();
  const bool continuing = epoch == first_epoch_ && resume_batch_ > 0;
  const int64_t first_batch = continuing ? st_.batch : 0;
  const double prior_seconds = continuing ? st_.partial_seconds : 0.0;
  // The order and augmentation depend only on (seed, epoch): a run resumed mid-epoch regenerates the batches it
  // already trained on and skips them.
  if (device_batches_) {
    device_batches_->start_epoch(cfg_.seed, epoch);
    device_batches_->skip(first_batch);
  } else {
    loader_->set_epoch(epoch);
    for (int64_t k = 0; k < first_batch; ++k) {
      Batch skipped;
      loader_->next(skipped);
    }
  }
  // The sums saved by a stop are over all ranks; rank 0 carries them on.
  const bool carry = continuing && main();
  EpochSums sums;
  sums.loss_sum = torch::full({}, carry ? st_.partial_loss_sum : 0.0,
                              torch::TensorOptions().dtype(torch::kDouble).device(device_));
  sums.correct = torch::full({}, carry ? st_.partial_correct : int64_t{0},
                             torch::TensorOptions().dtype(torch::kLong).device(device_));
  sums.seen = carry ? st_.partial_seen : 0;
  const int64_t seen_before = sums.seen;
  auto last_draw = Clock::now();
  for (int64_t b = first_batch; b < batches_per_epoch_;) {
    if (should_stop()) {
      stop_inside(epoch, b, sums, prior_seconds + seconds_since(t_epoch));
      return false;
    }
    const int64_t before = b;
    b += train_step(epoch, b, sums);
    // Reading the loss synchronises with the device, so a live line is redrawn at most twice a second.
    const bool log_now = cfg_.live ? seconds_since(last_draw) > 0.5
                                   : (cfg_.log_interval > 0 && b / cfg_.log_interval > before / cfg_.log_interval);
    if (!cfg_.quiet && log_now && b < batches_per_epoch_) {
      last_draw = Clock::now();
      log_progress(epoch, b, sums, t_epoch, first_batch, seen_before);
    }
  }
  check_finite(epoch);
  return finish_epoch(epoch, sums, prior_seconds + seconds_since(t_epoch));
}

// Evaluation (every eval_every epochs and after the last), metrics, checkpoints. False when a stop was requested.
bool Engine::finish_epoch(int64_t epoch, EpochSums& sums, double epoch_s) {
  reduce_sums(sums);
  const double train_loss = sums.loss_sum.item<double>() / std::max<int64_t>(1, sums.seen);
  const double train_acc = 100.0 * sums.correct.item<int64_t>() / std::max<int64_t>(1, sums.seen);
  const bool evaluate_now = epoch == cfg_.epochs || (cfg_.eval_every > 0 && epoch % cfg_.eval_every == 0);
  EvalResult ev, ev_ema;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto t_eval = Clock::now();
  if (evaluate_now) {
    ev = evaluate_on_test(*model_);
    if (ema_model_) ev_ema = evaluate_on_test(*ema_model_);
  } else {
    ev.loss = ev.top1 = ev.top5 = nan;
  }
  result_.eval_seconds += seconds_since(t_eval);

  EpochMetrics m;
  m.epoch = epoch;
  m.train_loss = train_loss;
  m.train_acc = train_acc;
  m.val_loss = ev.loss;
  m.val_top1 = ev.top1;
  m.val_top5 = ev.top5;
  if (ema_model_ && evaluate_now) {
    m.ema_val_loss = ev_ema.loss;
    m.ema_val_top1 = ev_ema.top1;
    m.ema_val_top5 = ev_ema.top5;
  }
  m.lr = lr_;
  m.epoch_seconds = epoch_s;
  m.images_per_second = sums.seen / std::max(1e-9, epoch_s);
  st_.history.push_back(m);
  // With an EMA, best.safetensors holds the EMA weights and is judged by their accuracy (as timm does).
  const double judged = ema_model_ ? ev_ema.top1 : ev.top1;
  const bool best = evaluate_now && (st_.best_epoch == 0 || judged >= st_.best_top1);
  if (best) st_.best_top1 = judged, st_.best_epoch = epoch;

  info_.epoch = epoch;
  info_.metrics = {{"train_loss", train_loss}, {"train_acc", train_acc}};
  if (evaluate_now) {
    info_.metrics["val_loss"] = ev.loss;
    info_.metrics["val_top1"] = ev.top1;
    info_.metrics["val_top5"] = ev.top5;
  }
  const auto t_save = Clock::now();
  const bool stop_now = agree(stop_requested());  // read once: a stop after this epoch must find it saved
  const bool save_now = epoch == cfg_.epochs || stop_now || (cfg_.save_every > 0 && epoch % cfg_.save_every == 0);
  if (save_now) snapshot(epoch, 0, 0.0, 0, 0, 0.0);
  if (best && main()) {
    CheckpointInfo best_info = info_;
    if (ema_model_)
      best_info.metrics = {{"val_loss", ev_ema.loss}, {"val_top1", ev_ema.top1}, {"val_top5", ev_ema.top5}, {"ema", 1}};
    save_checkpoint(result_.best_weights, ema_model_ ? *ema_model_ : *model_, best_info);
  }
  if (main()) write_metrics_files(cfg_.out, st_.history, title_);
  result_.save_seconds += seconds_since(t_save);
  if (!cfg_.quiet) {
    if (cfg_.live) log_ << "\r\x1b[K";
    log_ << "epoch " << epoch << "/" << cfg_.epochs << "  train loss " << fmt(train_loss, 4) << " acc "
         << fmt(train_acc, 2) << "%  "
         << (evaluate_now
                 ? "test loss " + fmt(ev.loss, 4) + " top1 " + fmt(ev.top1, 2) + "% top5 " + fmt(ev.top5, 2) + "%"
                 : std::string("(not evaluated)"))
         << (ema_model_ && evaluate_now ? "  ema top1 " + fmt(ev_ema.top1, 2) + "%" : "") << "  " << fmt(epoch_s, 1)
         << " s, " << fmt(m.images_per_second, 0) << " img/s" << (best ? "  (best)" : "") << "\n"
         << std::flush;
  }
  result_.final_eval = ev;
  result_.final_eval_ema = ev_ema;
  result_.epochs_run = epoch;
  result_.best_top1 = st_.best_top1;
  if (stop_now && epoch < cfg_.epochs) {
    if (!cfg_.quiet)
      log_ << "stopped after epoch " << epoch << "/" << cfg_.epochs << " (step " << step_ << "): "
           << result_.last_weights << " resumes at epoch " << epoch + 1 << "\n"
           << std::flush;
    result_.interrupted = true;
    return false;
  }
  return true;
}

// Takes this rank's place in the data-parallel job, if any: its device, quiet unless rank 0, synchronised BatchNorm.
void Engine::start_distributed() {
  recorded_world_ = cfg_.world_size;
  cfg_.world_size = dp_ ? dp_->world_size() : 1;
  if (!dp_) return;
  device_ = dp_->device();
  if (!main()) cfg_.quiet = true;
  if (cfg_.sync_bn) {
    // Each rank's (count, mean, variance) rows, gathered through one all-reduce of a zero-padded table.
    DataParallel* dp = dp_;
    set_batch_norm_sync([dp](const torch::Tensor& row) {
      auto table = torch::zeros({dp->world_size(), row.numel()}, row.options());
      table[dp->rank()].copy_(row);
      dp->allreduce_sum(table);
      return table;
    });
    sync_bn_installed_ = true;
  }
}

// True on every rank when any rank was asked to stop (checked in step with the others), or at max_steps.
bool Engine::should_stop() {
  const bool steps_done = cfg_.max_steps > 0 && step_ >= cfg_.max_steps;
  if (!dp_ || steps_done) return steps_done || stop_requested();
  // On a GPU the check costs a host synchronisation, so it runs every 20 steps there.
  if (device_.is_cuda() && step_ % 20 != 0) return false;
  return agree(stop_requested());
}

bool Engine::agree(bool local) {
  if (!dp_) return local;
  auto flag = torch::full({1}, local ? 1 : 0, torch::TensorOptions().dtype(torch::kInt).device(dp_->exchange_device()));
  dp_->allreduce_max(flag);
  return flag.item<int>() != 0;
}

// The epoch's running sums over all ranks (in place): logs and saved states count every rank's samples.
void Engine::reduce_sums(EpochSums& sums) {
  if (!dp_) return;
  auto v = torch::stack({sums.loss_sum.to(torch::kDouble), sums.correct.to(torch::kDouble),
                         torch::full({}, static_cast<double>(sums.seen), sums.loss_sum.options().dtype(torch::kDouble))});
  dp_->allreduce_sum(v);
  sums.loss_sum = v[0].clone();
  sums.correct = v[1].to(torch::kLong);
  sums.seen = static_cast<int64_t>(std::llround(v[2].item<double>()));
}

// The test metrics; in a data-parallel run each rank evaluates every world-th image and the counts are summed.
EvalResult Engine::evaluate_on_test(ModelImpl& model) {
  if (!dp_) return evaluate(model, ds_.test, info_.mean, info_.std, cfg_.batch_eval, device_, cfg_.tta);
  const auto pick = torch::arange(dp_->rank(), ds_.test.size(), dp_->world_size(), torch::kLong);
  ImageSet part{ds_.test.images.index_select(0, pick), ds_.test.labels.index_select(0, pick)};
  const EvalResult e = evaluate(model, part, info_.mean, info_.std, cfg_.batch_eval, device_, cfg_.tta);
  // Counts travel as doubles (exact below 2^53): loss sum, top-1, top-5, images, per class, confusion.
  const int64_t k = static_cast<int64_t>(e.class_total.size());
  std::vector<double> v = {e.loss * e.count, std::round(e.top1 * e.count / 100.0), std::round(e.top5 * e.count / 100.0),
                           static_cast<double>(e.count)};
  for (auto c : e.class_correct) v.push_back(static_cast<double>(c));
  for (auto c : e.class_total) v.push_back(static_cast<double>(c));
  for (const auto& row : e.confusion)
    for (auto c : row) v.push_back(static_cast<double>(c));
  auto t = torch::tensor(v, torch::kDouble).to(dp_->exchange_device());
  dp_->allreduce_sum(t);
  t = t.cpu();
  const double* p = t.data_ptr<double>();
  EvalResult r;
  r.count = std::llround(p[3]);
  r.loss = r.count ? p[0] / r.count : 0.0;
  r.top1 = r.count ? 100.0 * p[1] / r.count : 0.0;
  r.top5 = r.count ? 100.0 * p[2] / r.count : 0.0;
  for (int64_t i = 0; i < k; ++i) {
    r.class_correct.push_back(std::llround(p[4 + i]));
    r.class_total.push_back(std::llround(p[4 + k + i]));
  }
  r.confusion.assign(k, std::vector<int64_t>(k, 0));
  for (int64_t i = 0; i < k * k; ++i) r.confusion[i / k][i % k] = std::llround(p[4 + 2 * k + i]);
  return r;
}

TrainResult Engine::run() {
  setup();
  log_start();
  result_.setup_seconds = seconds_since(t_start_);
  for (int64_t epoch = first_epoch_; epoch <= cfg_.epochs; ++epoch)
    if (!run_epoch(epoch)) break;
  result_.steps = step_;
  result_.train_seconds = seconds_since(t_start_);
  return result_;
}

}  // namespace

void clip_gradients(torch::nn::Module& model, double threshold, const std::string& mode) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> params, grads;
  for (auto& p : model.parameters())
    if (p.grad().defined()) params.push_back(p), grads.push_back(p.grad());
  if (grads.empty()) return;
  if (mode == "value") {
    for (auto& g : grads) g.clamp_(-threshold, threshold);
  } else if (mode == "agc") {
    // Adaptive gradient clipping (Brock et al. 2021, as timm): each output unit's gradient norm is kept under
    // threshold × the unit's weight norm (at least 1e-3).
    for (size_t i = 0; i < params.size(); ++i) {
      auto unit_norm = [](const torch::Tensor& t) {
        if (t.dim() <= 1) return t.norm();
        std::vector<int64_t> dims;
        for (int64_t d = 1; d < t.dim(); ++d) dims.push_back(d);
        return t.norm(2, dims, /*keepdim=*/true);
      };
      auto max_norm = unit_norm(params[i].detach().to(torch::kFloat)).clamp_min(1e-3) * threshold;
      auto g_norm = unit_norm(grads[i].to(torch::kFloat));
      auto clipped = grads[i] * (max_norm / g_norm.clamp_min(1e-6)).to(grads[i].dtype());
      grads[i].copy_(torch::where(g_norm < max_norm, grads[i], clipped));
    }
  } else if (mode == "norm") {
    // One global L2 norm, computed and applied on the device (no host sync).
    std::vector<torch::Tensor> norms;
    for (const auto& g : grads) norms.push_back(g.norm(2).to(torch::kFloat));
    auto total = torch::stack(norms).norm(2);
    auto coef = (threshold / (total + 1e-6)).clamp_max(1.0);
    for (auto& g : grads) g.mul_(coef.to(g.dtype()));
  } else {
    input_error("--clip-mode " + mode + ": expected norm, value or agc");
  }
}

TrainResult train(const TrainConfig& cfg, std::ostream& log) { return train(cfg, log, nullptr); }

TrainResult train(const TrainConfig& cfg, std::ostream& log, DataParallel* parallel) {
  Engine engine(cfg, log, parallel);
  return engine.run();
}

}  // namespace attncnn
