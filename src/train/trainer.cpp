#include <attncnn/error.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/train/checkpoint.h>
#include <attncnn/train/trainer.h>

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
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

void make_dirs(const std::string& path) {
  std::string cur;
  std::stringstream ss(path);
  std::string part;
  if (!path.empty() && path[0] == '/') cur = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    cur += part + "/";
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      runtime_error(cur + ": cannot create folder (" + std::strerror(errno) + ")");
  }
}

std::string fmt(double v, int prec) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(prec) << v;
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
    return std::make_unique<torch::optim::AdamW>(groups, d);
  }
  if (cfg.optimizer == "sgd") {
    auto d = torch::optim::SGDOptions(cfg.lr).momentum(cfg.momentum).nesterov(cfg.nesterov).weight_decay(cfg.weight_decay);
    auto nd = torch::optim::SGDOptions(cfg.lr).momentum(cfg.momentum).nesterov(cfg.nesterov).weight_decay(0.0);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::SGDOptions>(d));
    groups.emplace_back(no_decay, std::make_unique<torch::optim::SGDOptions>(nd));
    return std::make_unique<torch::optim::SGD>(groups, d);
  }
  input_error("--optimizer " + cfg.optimizer + ": expected adamw or sgd");
}

void validate(const TrainConfig& cfg) {
  if (cfg.epochs < 1) input_error("--epochs " + std::to_string(cfg.epochs) + ": expected at least 1");
  if (cfg.batch_size < 1) input_error("--batch-size " + std::to_string(cfg.batch_size) + ": expected at least 1");
  if (!(cfg.lr > 0) || !std::isfinite(cfg.lr)) input_error("--lr " + fmt(cfg.lr, 6) + ": expected a positive number");
  if (cfg.weight_decay < 0) input_error("--weight-decay: expected a non-negative number");
  if (cfg.schedule != "cosine" && cfg.schedule != "step" && cfg.schedule != "constant")
    input_error("--schedule " + cfg.schedule + ": expected cosine, step or constant");
  if (cfg.warmup_epochs < 0 || cfg.warmup_epochs > cfg.epochs)
    input_error("--warmup-epochs " + fmt(cfg.warmup_epochs, 2) + ": expected 0 to --epochs");
  if (cfg.label_smoothing < 0 || cfg.label_smoothing >= 1)
    input_error("--label-smoothing " + fmt(cfg.label_smoothing, 3) + ": expected [0, 1)");
  if (!(cfg.fraction > 0 && cfg.fraction <= 1)) input_error("--fraction " + fmt(cfg.fraction, 4) + ": expected (0, 1]");
  if (cfg.out.empty()) input_error("train: no output folder given");
}

}  // namespace

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available())
      input_error("--device " + name + ": no CUDA device is available (this build or machine has none); use cpu");
    return torch::Device(name);
  }
  input_error("--device " + name + ": expected auto, cpu or cuda[:N]");
}

std::string next_run_dir(const std::string& base, const std::string& name, bool exist_ok) {
  const std::string first = base + "/" + name;
  if (exist_ok || !exists(first)) return first;
  for (int i = 2;; ++i) {
    const std::string p = first + std::to_string(i);
    if (!exists(p)) return p;
  }
}

torch::Tensor preprocess(const torch::Tensor& images_u8, const std::vector<double>& mean,
                         const std::vector<double>& std, const torch::Device& device) {
  const int64_t c = images_u8.size(1);
  TORCH_CHECK(static_cast<int64_t>(mean.size()) == c && static_cast<int64_t>(std.size()) == c,
              "preprocess: ", c, " channels but ", mean.size(), " means and ", std.size(), " stds");
  std::vector<float> scale(c), shift(c);
  for (int64_t i = 0; i < c; ++i) {
    scale[i] = static_cast<float>(1.0 / (255.0 * std[i]));
    shift[i] = static_cast<float>(-mean[i] / std[i]);
  }
  auto opts = torch::TensorOptions().dtype(torch::kFloat);
  auto s = torch::from_blob(scale.data(), {1, c, 1, 1}, opts).clone().to(device);
  auto b = torch::from_blob(shift.data(), {1, c, 1, 1}, opts).clone().to(device);
  return torch::addcmul(b, images_u8.to(device, /*non_blocking=*/true).to(torch::kFloat), s);
}

EvalResult evaluate(ModelImpl& model, const ImageSet& set, const std::vector<double>& mean,
                    const std::vector<double>& std, int64_t batch_size, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const int64_t k = model.config().num_classes;
  EvalResult r;
  r.class_correct.assign(k, 0);
  r.class_total.assign(k, 0);
  r.confusion.assign(k, std::vector<int64_t>(k, 0));
  const int64_t n = set.size();
  auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device));
  auto conf = torch::zeros({k * k}, torch::TensorOptions().dtype(torch::kLong).device(device));
  int64_t top5 = 0;
  auto top5_acc = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(device));
  for (int64_t i = 0; i < n; i += batch_size) {
    const int64_t e = std::min(n, i + batch_size);
    auto x = preprocess(set.images.slice(0, i, e), mean, std, device);
    auto y = set.labels.slice(0, i, e).to(device);
    auto logits = model.forward(x).to(torch::kFloat);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .to(torch::kDouble);
    auto pred = logits.argmax(1);
    conf += torch::bincount(y * k + pred, {}, k * k);
    const int64_t kk = std::min<int64_t>(5, k);
    auto topk = std::get<1>(logits.topk(kk, 1));
    top5_acc += topk.eq(y.unsqueeze(1)).any(1).sum();
  }
  auto conf_cpu = conf.cpu();
  int64_t correct = 0;
  for (int64_t t = 0; t < k; ++t) {
    for (int64_t p = 0; p < k; ++p) {
      const int64_t v = conf_cpu[t * k + p].item<int64_t>();
      r.confusion[t][p] = v;
      r.class_total[t] += v;
      if (t == p) r.class_correct[t] = v, correct += v;
    }
  }
  top5 = top5_acc.item<int64_t>();
  r.count = n;
  r.loss = n ? loss_sum.item<double>() / n : 0.0;
  r.top1 = n ? 100.0 * correct / n : 0.0;
  r.top5 = n ? 100.0 * top5 / n : 0.0;
  model.train(was_training);
  return r;
}

double scheduled_lr(const TrainConfig& cfg, int64_t step, int64_t steps_per_epoch, int64_t total_steps) {
  const double warmup = cfg.warmup_epochs * steps_per_epoch;
  if (warmup > 0 && step < warmup) return cfg.lr * (step + 1) / warmup;
  if (cfg.schedule == "constant") return cfg.lr;
  if (cfg.schedule == "step") {
    const int64_t k = (step / steps_per_epoch) / std::max<int64_t>(1, cfg.step_epochs);
    return cfg.lr * std::pow(cfg.step_gamma, static_cast<double>(k));
  }
  const double span = std::max(1.0, total_steps - warmup);
  const double t = std::min(1.0, (step - warmup) / span);
  return 0.5 * cfg.lr * (1.0 + std::cos(M_PI * t));
}

TrainResult train(const TrainConfig& cfg, std::ostream& log) {
  validate(cfg);
  check_model_config(cfg.model);
  const auto t_start = Clock::now();
  torch::manual_seed(cfg.seed);
  const torch::Device device = resolve_device(cfg.device);

  Dataset ds = load_dataset(cfg.data);
  ImageSet train_set = cfg.fraction < 1.0 ? subset(ds.train, cfg.fraction, cfg.seed) : ds.train;
  const auto stats = channel_stats(ds.train.images);

  ModelConfig mc = cfg.model;
  mc.in_channels = ds.channels();
  mc.num_classes = ds.num_classes();
  mc.image_size = ds.height();
  Model model = create_model(mc);
  model->to(device);
  if (cfg.channels_last) {
    for (auto& p : model->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  }
  auto optimizer = make_optimizer(cfg, *model);

  make_dirs(cfg.out + "/weights");
  {
    nlohmann::json args;
    args["data"] = cfg.data;
    args["fraction"] = cfg.fraction;
    args["model"] = nlohmann::json::parse(mc.to_json());
    args["epochs"] = cfg.epochs;
    args["batch_size"] = cfg.batch_size;
    args["lr"] = cfg.lr;
    args["optimizer"] = cfg.optimizer;
    args["momentum"] = cfg.momentum;
    args["nesterov"] = cfg.nesterov;
    args["weight_decay"] = cfg.weight_decay;
    args["schedule"] = cfg.schedule;
    args["warmup_epochs"] = cfg.warmup_epochs;
    args["label_smoothing"] = cfg.label_smoothing;
    args["seed"] = cfg.seed;
    args["device"] = device.str();
    args["threads"] = torch::get_num_threads();
    atomic_write(cfg.out + "/args.json", args.dump(2) + "\n");
  }

  CheckpointInfo info;
  info.model = mc;
  info.dataset = cfg.data;
  info.class_names = ds.class_names;
  info.input = {ds.channels(), ds.height(), ds.width()};
  info.mean = stats.first;
  info.std = stats.second;

  const int64_t n = train_set.size();
  const int64_t steps_per_epoch = (n + cfg.batch_size - 1) / cfg.batch_size;
  const int64_t total_steps = steps_per_epoch * cfg.epochs;
  TrainResult result;
  result.last_weights = cfg.out + "/weights/last.safetensors";
  result.best_weights = cfg.out + "/weights/best.safetensors";
  std::string csv = "epoch,train_loss,train_acc,val_loss,val_top1,val_top5,lr,epoch_seconds,images_per_second\n";

  if (!cfg.quiet)
    log << "train: " << mc.name << " (attn " << mc.attn << ", head " << mc.head << ") on " << cfg.data << ": "
        << n << (cfg.fraction < 1.0 ? " training images (--fraction " + fmt(cfg.fraction, 3) + " of " +
                                          std::to_string(ds.train.size()) + ")"
                                    : " training images")
        << ", " << ds.test.size() << " test images, " << cfg.epochs << " epoch(s), batch " << cfg.batch_size
        << ", " << cfg.optimizer << " lr " << cfg.lr << " " << cfg.schedule << ", device " << device.str()
        << ", " << torch::get_num_threads() << " thread(s)\n"
        << std::flush;

  const auto label_opts = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(cfg.label_smoothing);
  int64_t step = 0;
  for (int64_t epoch = 1; epoch <= cfg.epochs; ++epoch) {
    model->train();
    const auto t_epoch = Clock::now();
    // The order depends only on (seed, epoch).
    std::vector<int64_t> order(n);
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    std::mt19937_64 rng(cfg.seed * 1000003ULL + static_cast<uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    auto order_t = torch::tensor(order, torch::kLong);

    auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device));
    auto correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(device));
    int64_t seen = 0;
    double lr = cfg.lr;
    auto last_draw = Clock::now();
    for (int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
      const int64_t i0 = b * cfg.batch_size, i1 = std::min(n, i0 + cfg.batch_size);
      auto idx = order_t.slice(0, i0, i1);
      auto x = preprocess(train_set.images.index_select(0, idx), info.mean, info.std, device);
      if (cfg.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      auto y = train_set.labels.index_select(0, idx).to(device);
      lr = scheduled_lr(cfg, step, steps_per_epoch, total_steps);
      for (auto& g : optimizer->param_groups()) g.options().set_lr(lr);
      optimizer->zero_grad();
      auto logits = model->forward(x);
      auto loss = torch::nn::functional::cross_entropy(logits, y, label_opts);
      loss.backward();
      optimizer->step();
      loss_sum += loss.detach().to(torch::kDouble) * (i1 - i0);
      correct += logits.detach().argmax(1).eq(y).sum();
      seen += i1 - i0;
      // Reading the loss synchronises with the device, so progress is drawn at most twice a second.
      const bool log_now = cfg.live ? seconds_since(last_draw) > 0.5
                                    : (cfg.log_interval > 0 && (b + 1) % cfg.log_interval == 0);
      if (!cfg.quiet && log_now && b + 1 < steps_per_epoch) {
        last_draw = Clock::now();
        const double el = seconds_since(t_epoch);
        const double l = loss_sum.item<double>() / seen;
        if (!std::isfinite(l))
          runtime_error("non-finite training loss at step " + std::to_string(step + 1) + "; the last good checkpoint " +
                        (exists(result.last_weights) ? result.last_weights : std::string("(none yet)")) + " is intact");
        std::ostringstream line;
        line << "epoch " << epoch << "/" << cfg.epochs << " " << (b + 1) << "/" << steps_per_epoch << " loss "
             << fmt(l, 4) << " acc " << fmt(100.0 * correct.item<int64_t>() / seen, 2) << "% "
             << fmt(seen / el, 0) << " img/s ETA " << duration_text(el / (b + 1) * (steps_per_epoch - b - 1));
        if (cfg.live) log << "\r" << line.str() << "\x1b[K" << std::flush;
        else log << line.str() << "\n" << std::flush;
      }
    }
    const double train_loss = loss_sum.item<double>() / std::max<int64_t>(1, seen);
    if (!std::isfinite(train_loss))
      runtime_error("non-finite training loss in epoch " + std::to_string(epoch) + " (step " + std::to_string(step) +
                    "); the last good checkpoint " +
                    (exists(result.last_weights) ? result.last_weights : std::string("(none yet)")) + " is intact");
    const double train_acc = 100.0 * correct.item<int64_t>() / std::max<int64_t>(1, seen);
    const double epoch_s = seconds_since(t_epoch);
    auto ev = evaluate(*model, ds.test, info.mean, info.std, cfg.batch_eval, device);
    info.epoch = epoch;
    info.metrics = {{"train_loss", train_loss}, {"train_acc", train_acc}, {"val_loss", ev.loss},
                    {"val_top1", ev.top1},      {"val_top5", ev.top5}};
    save_checkpoint(result.last_weights, *model, info);
    if (ev.top1 >= result.best_top1 || epoch == 1) {
      result.best_top1 = ev.top1;
      save_checkpoint(result.best_weights, *model, info);
    }
    csv += std::to_string(epoch) + "," + fmt(train_loss, 6) + "," + fmt(train_acc, 4) + "," + fmt(ev.loss, 6) + "," +
           fmt(ev.top1, 4) + "," + fmt(ev.top5, 4) + "," + fmt(lr, 8) + "," + fmt(epoch_s, 3) + "," +
           fmt(seen / epoch_s, 1) + "\n";
    atomic_write(cfg.out + "/results.csv", csv);
    if (!cfg.quiet) {
      if (cfg.live) log << "\r\x1b[K";
      log << "epoch " << epoch << "/" << cfg.epochs << "  train loss " << fmt(train_loss, 4) << " acc "
          << fmt(train_acc, 2) << "%  test loss " << fmt(ev.loss, 4) << " top1 " << fmt(ev.top1, 2) << "% top5 "
          << fmt(ev.top5, 2) << "%  " << fmt(epoch_s, 1) << " s, " << fmt(seen / epoch_s, 0) << " img/s\n"
          << std::flush;
    }
    result.final_eval = ev;
    result.epochs_run = epoch;
  }
  result.train_seconds = seconds_since(t_start);
  return result;
}

}  // namespace attncnn
