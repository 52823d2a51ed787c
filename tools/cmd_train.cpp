// attncnn train: train a model on a dataset and write a run folder (docs/training.md).
#include <attncnn/attention/params.h>
#include <attncnn/error.h>
#include <attncnn/train/config.h>
#include <attncnn/train/interrupt.h>
#include <attncnn/train/presets.h>
#include <attncnn/train/trainer.h>

#include <dirent.h>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

#include "commands.h"

namespace attncnn::cli {

namespace {

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
std::string parent(const std::string& p) {
  const auto s = p.find_last_of('/');
  if (s == std::string::npos) return ".";
  return s == 0 ? "/" : p.substr(0, s);
}
std::string base_name(const std::string& p) {
  const auto s = p.find_last_of('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}
std::string strip_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// The run folder whose weights/last.safetensors was written last, under `project`; empty when none.
std::string latest_run(const std::string& project) {
  DIR* d = ::opendir(project.c_str());
  if (!d) return {};
  std::string best;
  struct timespec best_t {};
  while (auto* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string run = project + "/" + name;
    struct stat st {};
    if (::stat((run + "/weights/last.safetensors").c_str(), &st) != 0) continue;
    if (best.empty() || st.st_mtim.tv_sec > best_t.tv_sec ||
        (st.st_mtim.tv_sec == best_t.tv_sec && st.st_mtim.tv_nsec > best_t.tv_nsec))
      best = run, best_t = st.st_mtim;
  }
  ::closedir(d);
  return best;
}

// Resolves --resume's target (a run folder, its weights folder, or a weights file) to (run folder, weights file).
std::pair<std::string, std::string> resume_target(const std::string& given) {
  const std::string p = strip_slashes(given);
  if (is_dir(p)) {
    if (is_file(p + "/weights/last.safetensors")) return {p, p + "/weights/last.safetensors"};
    if (is_file(p + "/last.safetensors") && base_name(p) == "weights") return {parent(p), p + "/last.safetensors"};
    input_error("--resume " + given + ": no weights/last.safetensors in this folder (expected a run folder written by "
                "attncnn train, or its last.safetensors)");
  }
  if (is_file(p)) {
    const std::string dir = parent(p);
    return {base_name(dir) == "weights" ? parent(dir) : dir, p};
  }
  input_error("--resume " + given + ": no such run folder or checkpoint");
}

}  // namespace

Runner add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a model; writes weights, metrics and charts to a run folder");
  struct Opts {
    TrainConfig flags;  // the command line's values; only those given override the layers below
    std::string attn_opt, head_opt, model_opt, config, resume, preset;
    std::vector<std::pair<CLI::Option*, std::string>> keyed;  // option → settings key
    CLI::Option* resume_opt = nullptr;
  };
  auto o = std::make_shared<Opts>();
  TrainConfig& c = o->flags;
  auto opt = [&](const std::string& names, auto& var, const std::string& key, const std::string& help) {
    auto* x = cmd->add_option(names, var, help)->capture_default_str();
    o->keyed.emplace_back(x, key);
    return x;
  };
  auto flag = [&](const std::string& names, bool& var, const std::string& key, const std::string& help) {
    auto* x = cmd->add_flag(names, var, help);
    o->keyed.emplace_back(x, key);
    return x;
  };
  std::string preset_help = "Start from built-in settings (flags and --config win over them):";
  for (const auto& p : train_presets()) preset_help += "\n  " + p.name + ": " + p.summary;
  cmd->add_option("--preset", o->preset, preset_help);
  cmd->add_option("--config", o->config,
                  "Settings file (JSON, or YAML: .yaml/.yml); keys as in args.json. Flags given here win over it");
  o->resume_opt = cmd->add_option("--resume", o->resume,
                                  "Continue a run: --resume alone takes the run named by --out/--name (else the "
                                  "latest under --project); --resume PATH takes a run folder or its last.safetensors")
                      ->expected(0, 1);
  opt("--data", c.data, "data", "Dataset spec: fashion-mnist[:DIR], mnist:DIR, idx:DIR");
  opt("--fraction", c.fraction, "fraction", "Train on this seeded share of the training split, in (0, 1]");
  opt("--model", c.model.name, "model", "Model name (see `attncnn list`)");
  opt("--model-opt", o->model_opt, "model_opt", "Model options, key=value[,key=value] (seed_net: width, width3)");
  opt("--attn", c.model.attn, "attn", "Attention module by name, or none");
  opt("--attn-opt", o->attn_opt, "attn_opt", "Attention options, key=value[,key=value] (e.g. rd_ratio=0.5)");
  opt("--head", c.model.head, "head", "Classifier pooling: avg or attnpool");
  opt("--head-opt", o->head_opt, "head_opt", "Head options (attnpool: num_heads=N)");
  opt("--epochs", c.epochs, "epochs", "Training epochs");
  opt("--batch-size,-b", c.batch_size, "batch_size", "Training batch size");
  opt("--lr", c.lr, "lr", "Peak learning rate");
  opt("--optimizer", c.optimizer, "optimizer", "adamw or sgd");
  opt("--momentum", c.momentum, "momentum", "SGD momentum");
  flag("--nesterov,!--no-nesterov", c.nesterov, "nesterov", "SGD: Nesterov momentum (default on)");
  opt("--weight-decay", c.weight_decay, "weight_decay", "Weight decay (not applied to norms and biases)");
  opt("--schedule", c.schedule, "schedule", "Learning-rate schedule: cosine, linear, step, onecycle or constant");
  opt("--warmup-epochs", c.warmup_epochs, "warmup_epochs",
      "Linear warmup in epochs (fractions allowed); onecycle: length of its rising phase (0: 30% of the run)");
  opt("--step-epochs", c.step_epochs, "step_epochs", "step schedule: epochs between decays");
  opt("--step-gamma", c.step_gamma, "step_gamma", "step schedule: factor applied at each decay");
  opt("--label-smoothing", c.label_smoothing, "label_smoothing", "Label smoothing in [0, 1)");
  opt("--seed", c.seed, "seed", "Random seed (initialisation, data order, --fraction subset)");
  flag("--deterministic", c.deterministic, "deterministic",
       "Deterministic algorithms where libtorch has them, no cuDNN autotuning (slower on GPU)");
  opt("--device", c.device, "device", "auto, cpu or cuda[:N]");
  opt("--threads", c.threads, "threads", "CPU threads (0: all cores)");
  flag("--channels-last", c.channels_last, "channels_last", "Use the channels-last memory format");
  flag("--amp", c.amp, "amp", "bf16 autocast on CUDA (ignored on the CPU)");
  opt("--val-split", c.val_split, "val_split",
      "folder datasets without train/val subfolders: seeded share of each class held out for validation");
  opt("--image-size", c.image_size, "image_size", "folder datasets: resize and centre-crop images to this side");
  flag("--skip-bad", c.skip_bad, "skip_bad", "folder datasets: skip unreadable images (counted) instead of failing");
  opt("--workers", c.workers, "workers", "Data loader threads (-1: 4 on CUDA; on the CPU 1 with --augment, else 0)");
  opt("--augment", c.augment, "augment",
      "Training augmentation: crop=N,pad=P,pad_mode=zero|reflect,flip=P,flip_mode=random|alternate,erase=P "
      "(e.g. crop=32,pad=4,flip=0.5)");
  opt("--device-data", c.device_data, "device_data",
      "Hold the training set on the device and augment batches there: auto (CUDA, when --augment allows), on, off");
  flag("--cuda-graph", c.cuda_graph, "cuda_graph",
       "Capture forward, loss and backward as one CUDA graph (full batches only: the last partial batch is dropped)");
  opt("--bias-lr-scale", c.bias_lr_scale, "bias_lr_scale", "Learning-rate factor for norm weights and biases");
  opt("--lr-start", c.lr_start, "lr_start", "linear schedule: warmup starts at lr x this (0: from lr/warmup steps)");
  opt("--lr-end", c.lr_end, "lr_end", "linear schedule: the rate ends at lr x this");
  flag("--cudnn-benchmark,!--no-cudnn-benchmark", c.cudnn_benchmark, "cudnn_benchmark",
       "Let cuDNN time its algorithms for each new shape (default on; off saves start-up time)");
  opt("--lookahead", c.lookahead, "lookahead",
      "Every N steps move a slow copy of the weights toward them and continue from it (0: off)");
  opt("--lookahead-decay", c.lookahead_decay, "lookahead_decay",
      "Per-step decay of the slow weights, reached at the end of training (ramped in as (t/T)^3)");
  opt("--save-every", c.save_every, "save_every",
      "Write weights/last.safetensors every N epochs (0: after the last only; Ctrl-C always saves)");
  opt("--eval-every", c.eval_every, "eval_every", "Evaluate every N epochs (0: after the last epoch only)");
  opt("--tta", c.tta, "tta", "Test-time augmentation of the evaluation: 0 none, 1 flip, 2 flip + 1-pixel shifts");
  opt("--eval-batch-size", c.batch_eval, "eval_batch_size", "Batch size of the per-epoch validation");
  opt("--project", c.project, "project", "Parent folder of run folders");
  opt("--name", c.name, "name", "Run folder name (numbered exp, exp2, ... unless --exist-ok)");
  opt("--out", c.out, "out", "Run folder (overrides --project/--name)");
  flag("--exist-ok", c.exist_ok, "exist_ok", "Reuse the run folder <project>/<name> if it exists");
  opt("--log-interval", c.log_interval, "log_interval",
      "Batches between progress lines when output is not a terminal (0: epoch lines only)");
  flag("--quiet,-q", c.quiet, "quiet", "Print nothing but errors and the final summary");
  return [o]() {
    // The command line as a settings layer: only the options that were given.
    TrainConfig flags = o->flags;
    flags.model.attn_params = Params::parse(o->attn_opt);
    flags.model.head_params = Params::parse(o->head_opt);
    flags.model.model_params = Params::parse(o->model_opt);
    const auto all = nlohmann::json::parse(train_settings_json(flags));
    nlohmann::json given = nlohmann::json::object();
    for (const auto& kv : o->keyed)
      if (kv.first->count() > 0) given[kv.second] = all.at(kv.second);

    TrainConfig cfg;
    std::string run, weights;
    const bool resume = o->resume_opt->count() > 0;
    if (resume) {
      std::string target = o->resume;
      if (target.empty()) {
        if (given.contains("out")) target = given["out"].get<std::string>();
        else if (given.contains("name"))
          target = (given.contains("project") ? given["project"].get<std::string>() : cfg.project) + "/" +
                   given["name"].get<std::string>();
        else {
          const std::string project = given.contains("project") ? given["project"].get<std::string>() : cfg.project;
          target = latest_run(project);
          if (target.empty())
            input_error("--resume: no run with weights/last.safetensors under " + project +
                        "; name one with --resume PATH, --out DIR or --name NAME");
        }
      }
      std::tie(run, weights) = resume_target(target);
      if (is_file(run + "/args.json"))
        apply_train_settings(cfg, read_settings_file(run + "/args.json"), run + "/args.json");
    }
    if (!o->preset.empty()) {
      if (resume) input_error("--preset with --resume: a resumed run keeps its own settings (its args.json)");
      apply_train_settings(cfg, find_train_preset(o->preset).settings, "preset " + o->preset);
    }
    const TrainConfig preset_cfg = cfg;
    if (!o->config.empty()) apply_train_settings(cfg, read_settings_file(o->config), o->config);
    apply_train_settings(cfg, given.dump(), "command line");
    // A preset run given another length keeps the preset's warmup as the same share of the run.
    if (!o->preset.empty() && cfg.epochs != preset_cfg.epochs && cfg.warmup_epochs == preset_cfg.warmup_epochs)
      cfg.warmup_epochs = preset_cfg.warmup_epochs * static_cast<double>(cfg.epochs) / preset_cfg.epochs;
    if (resume) {
      cfg.out = run;
      cfg.resume = weights;
    } else if (cfg.out.empty()) {
      cfg.out = next_run_dir(cfg.project, cfg.name, cfg.exist_ok);
    }
    set_threads(static_cast<int>(cfg.threads));
    cfg.live = ::isatty(STDOUT_FILENO) != 0;
    install_interrupt_handlers();
    auto r = train(cfg, std::cout);
    if (r.interrupted) {
      std::cout << std::flush;
      std::cerr << "interrupted: " << cfg.out << "/weights/last.safetensors holds the run at step " << r.steps
                << "; continue it with: attncnn train --resume " << cfg.out << "\n";
      return kExitInterrupted;
    }
    std::cout << "test accuracy " << std::fixed << std::setprecision(2) << r.final_eval.top1 << "% (top-5 "
              << r.final_eval.top5 << "%) on " << r.final_eval.count << " test images after " << r.epochs_run
              << " epoch(s), " << std::setprecision(1) << r.train_seconds << " s (start-up " << r.setup_seconds
              << " s, evaluation " << r.eval_seconds << " s, saving " << r.save_seconds << " s)\n"
              << "outputs: " << cfg.out
              << " (weights/last.safetensors, weights/best.safetensors, results.csv, metrics.jsonl, curves.svg, "
                 "args.json)\n"
              << "evaluate: attncnn eval --weights " << r.best_weights << "\n";
    return 0;
  };
}

}  // namespace attncnn::cli
