// attncnn train: train a model on a dataset and write a run folder (docs/training.md).
#include <attncnn/attention/params.h>
#include <attncnn/dist/data_parallel.h>
#include <attncnn/dist/env.h>
#include <attncnn/dist/launch.h>
#include <attncnn/error.h>
#include <attncnn/io/files.h>
#include <attncnn/train/config.h>
#include <attncnn/train/interrupt.h>
#include <attncnn/train/presets.h>
#include <attncnn/train/trainer.h>

#include <dirent.h>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <thread>
#include <tuple>
#include <unistd.h>

#include "commands.h"

namespace attncnn::cli {

namespace {

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

// One command-line option per row of the settings table (train/config.h): flags, help, group and default come
// from it; the values are kept as typed until apply_train_flags converts and checks them.
struct Flag {
  const SettingInfo* info;
  CLI::Option* option = nullptr;
  std::string text;
  bool on = false;
};
struct TrainOpts {
  std::vector<Flag> flags;
  std::string config, resume, preset;
  CLI::Option* resume_opt = nullptr;
};

// A rank started by `--nproc-per-node` (its launcher chose and checked the run folder).
bool launched_rank() {
  const char* dir = std::getenv("ATTNCNN_RUN_DIR");
  return dir && *dir && dist_env_from_environment().distributed();
}

// The settings layers (a resumed run's args.json, the preset, the config file, the flags given), in that order.
TrainConfig layered_config(const TrainOpts& o) {
  std::vector<std::pair<std::string, std::string>> given;
  std::map<std::string, std::string> given_text;
  for (const auto& f : o.flags)
    if (f.option->count() > 0) {
      given.emplace_back(f.info->key, f.info->type == "bool" ? (f.on ? "true" : "false") : f.text);
      given_text[f.info->key] = given.back().second;
    }
  TrainConfig cfg;
  std::string run, weights;
  const bool resume = o.resume_opt->count() > 0;
  if (resume) {
    std::string target = o.resume;
    if (target.empty()) {
      const std::string project = given_text.count("project") ? given_text["project"] : cfg.project;
      if (given_text.count("out")) target = given_text["out"];
      else if (given_text.count("name")) target = project + "/" + given_text["name"];
      else {
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
  if (!o.preset.empty()) {
    if (resume) input_error("--preset with --resume: a resumed run keeps its own settings (its args.json)");
    apply_train_settings(cfg, find_train_preset(o.preset).settings, "preset " + o.preset);
  }
  const TrainConfig preset_cfg = cfg;
  if (!o.config.empty()) apply_train_settings(cfg, read_settings_file(o.config), o.config);
  apply_train_flags(cfg, given);
  // A preset run given another length keeps the preset's warmup as the same share of the run.
  if (!o.preset.empty() && cfg.epochs != preset_cfg.epochs && cfg.warmup_epochs == preset_cfg.warmup_epochs &&
      preset_cfg.epochs > 0)
    cfg.warmup_epochs = preset_cfg.warmup_epochs * static_cast<double>(cfg.epochs) / preset_cfg.epochs;
  if (resume) {
    cfg.out = run;
    cfg.resume = weights;
    return cfg;
  }
  // A run folder named by --name/--project on the command line wins over an `out` from a file: repeating a run
  // with `--config runs/train/exp/args.json --name again` must not train into runs/train/exp again.
  if (!given_text.count("out") && (given_text.count("name") || given_text.count("project"))) cfg.out.clear();
  // The ranks started by --nproc-per-node train into the folder their launcher chose and checked.
  if (launched_rank()) {
    cfg.out = std::getenv("ATTNCNN_RUN_DIR");
    return cfg;
  }
  if (cfg.name.empty() || cfg.name == "." || cfg.name == ".." || cfg.name.find('/') != std::string::npos)
    input_error("--name " + cfg.name + ": expected a folder name without '/' (the parent folder is --project)");
  if (cfg.out.empty()) cfg.out = next_run_dir(cfg.project, cfg.name, cfg.exist_ok);
  return cfg;
}

// A new run never writes into a folder that holds a run unless --exist-ok says so.
void refuse_existing_run(const TrainConfig& cfg) {
  if (!cfg.resume.empty() || cfg.exist_ok) return;
  if (exists(cfg.out + "/args.json") || exists(cfg.out + "/weights"))
    input_error(cfg.out + ": already holds a run; continue it with --resume " + cfg.out +
                ", overwrite it with --exist-ok, or choose another --out or --name");
}

// Starts --nproc-per-node copies of this command as the ranks of a one-machine job, in the run folder chosen here.
int launch_ranks(const TrainConfig& cfg) {
  LaunchOptions lo;
  lo.nproc = cfg.nproc_per_node;
  lo.grace_s = std::min(30.0, cfg.dist_timeout);  // a job with a failed rank cannot go on; let the rest stop
  lo.env = {{"ATTNCNN_RUN_DIR", cfg.out}};
  if (cfg.resume.empty() && !cfg.exist_ok) make_dirs(cfg.out);
  std::cout << "launching " << cfg.nproc_per_node << " ranks on this machine (run folder " << cfg.out << ")\n"
            << std::flush;
  return launch_local(own_command_line(), lo, std::cerr);
}

}  // namespace

Runner add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a model; writes weights, metrics and charts to a run folder");
  auto o = std::make_shared<TrainOpts>();
  std::string preset_help = "Start from built-in settings (flags and --config win over them):";
  for (const auto& p : train_presets()) preset_help += "\n  " + p.name + ": " + p.summary;
  cmd->add_option("--preset", o->preset, preset_help)->group("Run");
  cmd->add_option("--config", o->config,
                  "Settings file (JSON, or YAML: .yaml/.yml); keys as in args.json. Flags given here win over it")
      ->group("Run");
  o->resume_opt = cmd->add_option("--resume", o->resume,
                                  "Continue a run: --resume alone takes the run named by --out/--name (else the "
                                  "latest under --project); --resume PATH takes a run folder or its last.safetensors")
                      ->expected(0, 1)
                      ->group("Run");
  o->flags.reserve(train_settings().size());
  for (const auto& info : train_settings()) {
    if (!info.cli) continue;
    o->flags.push_back(Flag{&info});
    Flag& f = o->flags.back();
    std::string names;
    for (const auto& n : info.flags) names += (names.empty() ? "" : ",") + n;
    std::string help = info.help;
    if (!info.allowed.empty()) help += " (" + info.allowed + ")";
    if (info.type == "bool") {
      if (info.negatable) names += ",!--no-" + info.flags.front().substr(2);
      f.option = cmd->add_flag(names, f.on, help + (info.default_text == "true" ? " [default on]" : ""));
    } else {
      f.option = cmd->add_option(names, f.text, help);
      f.option->type_name(info.type == "int" ? "INT" : info.type == "number" ? "FLOAT" : "TEXT");
      if (!info.default_text.empty()) f.option->default_str(info.default_text);
    }
    f.option->group(info.group);
  }
  return [o]() {
    TrainConfig cfg = layered_config(*o);
    validate_train_config(cfg);  // before threads are set or anything is loaded
    const DistEnv env = dist_env_from_environment();
    const bool launched = launched_rank();
    if (!launched) refuse_existing_run(cfg);
    if (cfg.nproc_per_node > 1 && !launched) {
      if (env.distributed())
        input_error("--nproc-per-node " + std::to_string(cfg.nproc_per_node) + ": this process is already rank " +
                    std::to_string(env.rank) + " of " + std::to_string(env.world_size) + " (set by " +
                    env.launcher + "); drop --nproc-per-node under a launcher");
      return launch_ranks(cfg);
    }
    // Ranks of one machine share its cores unless --threads says otherwise.
    int threads = static_cast<int>(cfg.threads);
    if (threads == 0 && env.local_world_size > 1)
      threads = static_cast<int>(std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()) /
                                                          env.local_world_size));
    set_threads(threads);
    cfg.live = ::isatty(STDOUT_FILENO) != 0 && !env.distributed();
    install_interrupt_handlers();
    auto r = train_data_parallel(cfg, std::cout);
    if (env.rank != 0) return r.interrupted ? kExitInterrupted : 0;  // rank 0 reports for the job
    if (r.interrupted) {
      std::cout << std::flush;
      std::cerr << "interrupted: " << cfg.out << "/weights/last.safetensors holds the run at step " << r.steps
                << "; continue it with: attncnn train --resume " << cfg.out << "\n";
      return kExitInterrupted;
    }
    std::cout << "test accuracy " << std::fixed << std::setprecision(2) << r.final_eval.top1 << "% (top-5 "
              << r.final_eval.top5 << "%)";
    if (r.final_eval_ema.count > 0) std::cout << ", EMA weights " << r.final_eval_ema.top1 << "%";
    std::cout << " on " << r.final_eval.count << " test images after " << r.epochs_run << " epoch(s), "
              << std::setprecision(1) << r.train_seconds << " s (start-up " << r.setup_seconds << " s, evaluation "
              << r.eval_seconds << " s, saving " << r.save_seconds << " s)\n"
              << "outputs: " << cfg.out
              << " (weights/last.safetensors, weights/best.safetensors, results.csv, metrics.jsonl, curves.svg, "
                 "args.json)\n"
              << "evaluate: attncnn eval --weights " << r.best_weights << "\n";
    return 0;
  };
}

}  // namespace attncnn::cli
