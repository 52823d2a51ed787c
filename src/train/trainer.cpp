#include <attncnn/error.h>
#include <attncnn/io/files.h>
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

namespace attncnn {


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

}  // namespace attncnn
