// attncnn train: train a model on a dataset and write a run folder.
#include <attncnn/attention/params.h>
#include <attncnn/train/trainer.h>

#include <iomanip>
#include <iostream>
#include <unistd.h>

#include "commands.h"

namespace attncnn::cli {

Runner add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a model; writes weights, args.json and results.csv to a run folder");
  struct Opts {
    TrainConfig cfg;
    std::string attn_opt, head_opt, model_opt;
    std::string project = "runs/train", name = "exp";
    bool exist_ok = false;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  TrainConfig& c = o->cfg;
  cmd->add_option("--data", c.data, "Dataset spec: fashion-mnist[:DIR], mnist:DIR, idx:DIR")->capture_default_str();
  cmd->add_option("--fraction", c.fraction, "Train on this seeded share of the training split")->capture_default_str();
  cmd->add_option("--model", c.model.name, "Model name (see `attncnn list`)")->capture_default_str();
  cmd->add_option("--attn", c.model.attn, "Attention module by name, or none")->capture_default_str();
  cmd->add_option("--attn-opt", o->attn_opt, "Attention options, key=value[,key=value] (e.g. rd_ratio=0.5)");
  cmd->add_option("--head", c.model.head, "Classifier pooling: avg or attnpool")->capture_default_str();
  cmd->add_option("--head-opt", o->head_opt, "Head options (attnpool: num_heads=N)");
  cmd->add_option("--model-opt", o->model_opt, "Model options, key=value[,key=value]");
  cmd->add_option("--epochs", c.epochs, "Training epochs")->capture_default_str();
  cmd->add_option("--batch-size,-b", c.batch_size, "Training batch size")->capture_default_str();
  cmd->add_option("--lr", c.lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--optimizer", c.optimizer, "adamw or sgd")->capture_default_str();
  cmd->add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--weight-decay", c.weight_decay, "Weight decay (not applied to norms and biases)")->capture_default_str();
  cmd->add_option("--schedule", c.schedule, "Learning-rate schedule: cosine, step or constant")->capture_default_str();
  cmd->add_option("--warmup-epochs", c.warmup_epochs, "Linear warmup length in epochs")->capture_default_str();
  cmd->add_option("--label-smoothing", c.label_smoothing, "Label smoothing in [0, 1)")->capture_default_str();
  cmd->add_option("--seed", c.seed, "Random seed")->capture_default_str();
  cmd->add_option("--device", c.device, "auto, cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--channels-last", c.channels_last, "Use the channels-last memory format");
  cmd->add_option("--project", o->project, "Parent folder of run folders")->capture_default_str();
  cmd->add_option("--name", o->name, "Run folder name (numbered exp, exp2, ... unless --exist-ok)")->capture_default_str();
  cmd->add_option("--out", c.out, "Run folder (overrides --project/--name)");
  cmd->add_flag("--exist-ok", o->exist_ok, "Reuse the run folder if it exists");
  cmd->add_option("--log-interval", c.log_interval, "Batches between progress lines when not on a terminal")->capture_default_str();
  cmd->add_flag("--quiet,-q", c.quiet, "Print nothing but errors and the final summary");
  return [o]() {
    TrainConfig cfg = o->cfg;
    set_threads(o->threads);
    cfg.model.attn_params = Params::parse(o->attn_opt);
    cfg.model.head_params = Params::parse(o->head_opt);
    cfg.model.model_params = Params::parse(o->model_opt);
    if (cfg.out.empty()) cfg.out = next_run_dir(o->project, o->name, o->exist_ok);
    cfg.live = ::isatty(STDOUT_FILENO) != 0;
    auto r = train(cfg, std::cout);
    std::cout << "test accuracy " << std::fixed << std::setprecision(2) << r.final_eval.top1 << "% (top-5 "
              << r.final_eval.top5 << "%) on " << r.final_eval.count << " test images after " << r.epochs_run
              << " epoch(s), " << std::setprecision(1) << r.train_seconds << " s\n"
              << "outputs: " << cfg.out << " (weights/last.safetensors, weights/best.safetensors, results.csv, args.json)\n"
              << "evaluate: attncnn eval --weights " << r.best_weights << "\n";
    return 0;
  };
}

}  // namespace attncnn::cli
