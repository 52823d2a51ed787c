// `attncnn train` and `attncnn eval` through the real executable: exit codes, settings layers, Ctrl-C and resume,
// non-finite losses, and the files of a run folder.
#include <attncnn/data/dataset.h>
#include <attncnn/io/files.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/train/checkpoint.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_run.h"

#include "fashion_small.h"

using namespace attncnn;

namespace {
const std::string kTmp = ATTNCNN_TEST_TMP;

std::string fresh(const std::string& name) {
  const std::string p = kTmp + "/clitrain_" + name;
  std::system(("rm -rf '" + p + "' && mkdir -p '" + kTmp + "'").c_str());
  return p;
}

// A narrow seed_net on one thread, deterministic, on the small copy: seconds per run.
std::string tiny() {
  return "--data fashion-mnist:" + small_fashion() + " --model-opt width=8,width3=16 --threads 1 --device cpu --deterministic";
}

void expect_same_weights(const std::string& a, const std::string& b) {
  auto x = load_safetensors(a), y = load_safetensors(b);
  ASSERT_EQ(x.tensors.size(), y.tensors.size());
  for (size_t i = 0; i < x.tensors.size(); ++i)
    EXPECT_TRUE(torch::equal(x.tensors[i].second, y.tensors[i].second)) << x.tensors[i].first;
}

// Starts the program, sends `sig` once a line containing `trigger` was printed, and collects everything.
Run run_and_signal(const std::string& args, const std::string& trigger, int sig) {
  int fds[2];
  if (::pipe(fds) != 0) return {-1, "pipe failed"};
  const std::string cmd = "exec " + std::string(ATTNCNN_CLI) + " " + args + " 2>&1";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  Run r{-1, ""};
  bool sent = false;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    r.out.append(buf, static_cast<size_t>(n));
    if (!sent && r.out.find(trigger) != std::string::npos) {
      ::kill(pid, sig);
      sent = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (!sent) r.out += "\n[test: trigger never seen]";
  return r;
}
}  // namespace

TEST(CliTrain, UsageAndInputErrorsExitTwoNamingTheCulprit) {
  const std::string out = fresh("usage");
  struct Case {
    std::string args, expect;
  };
  write_all(kTmp + "/clitrain_typo.yaml", "epochs: 1\nbatchsize: 8\n");
  write_all(kTmp + "/clitrain_bad.json", "{\"lr\": \"fast\"}");
  const std::vector<Case> cases = {
      {"train --schedule triangle --out " + out, "--schedule triangle"},
      {"train --optimizer lamb --out " + out, "--optimizer lamb"},
      {"train --fraction 1.5 --out " + out, "--fraction 1.5"},
      {"train --warmup-epochs 3 --epochs 2 --out " + out, "--warmup-epochs 3"},
      {"train --label-smoothing 1 --out " + out, "--label-smoothing 1"},
      {"train --device tpu --out " + out, "--device tpu"},
      {"train --threads -1 --out " + out, "--threads -1"},
      {"train --config " + kTmp + "/clitrain_none.yaml", "clitrain_none.yaml"},
      {"train --config " + kTmp + "/clitrain_typo.yaml", "'batchsize'"},
      {"train --config " + kTmp + "/clitrain_bad.json", "clitrain_bad.json: lr"},
      {"train --resume " + kTmp + "/clitrain_no_such_run", "--resume"},
      {"train --lr", "--lr"},
      {"eval --weights " + kTmp + "/clitrain_none.safetensors", "clitrain_none.safetensors"},
  };
  for (const auto& c : cases) {
    auto r = run_cli(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.args << "\n" << r.out;
  }
  EXPECT_FALSE(exists(out + "/weights")) << "a rejected run must not start";
}

TEST(CliTrain, ConfigFileUnderFlagsOverDefaults) {
  if (!exists(ATTNCNN_FASHION_MNIST_DIR)) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string out = fresh("config");
  write_all(out + ".yaml",
            "epochs: 1\nlr: 0.02\nbatch_size: 32\nfraction: 0.1\nschedule: step\nlabel_smoothing: 0.1\n"
            "model_opt: {width: 4, width3: 8}\nquiet: true\n");
  write_all(out + ".json", R"({"epochs": 1, "fraction": 0.1, "optimizer": "sgd", "momentum": 0.8})");
  // Flags: --batch-size beats the file's 32; --model-opt beats the file's widths.
  auto r = run_cli("train " + tiny() + " --config " + out + ".yaml --batch-size 16 --out " + out + "/yaml");
  ASSERT_EQ(r.code, 0) << r.out;
  auto args = nlohmann::json::parse(read_all(out + "/yaml/args.json"));
  EXPECT_EQ(args["batch_size"], 16);                   // flag over file
  EXPECT_EQ(args["model_opt"], "width=8,width3=16");   // flag over file
  EXPECT_DOUBLE_EQ(args["lr"].get<double>(), 0.02);    // file over default
  EXPECT_EQ(args["schedule"], "step");
  EXPECT_DOUBLE_EQ(args["label_smoothing"].get<double>(), 0.1);
  EXPECT_EQ(args["optimizer"], "adamw");               // default
  EXPECT_EQ(args["threads"], 1);
  EXPECT_EQ(args["deterministic"], true);
  EXPECT_EQ(r.out.find("epoch 1/1 "), std::string::npos) << "quiet: true from the file: " << r.out;
  r = run_cli("train " + tiny() + " --config " + out + ".json --momentum 0.7 --log-interval 0 --out " + out + "/json");
  ASSERT_EQ(r.code, 0) << r.out;
  args = nlohmann::json::parse(read_all(out + "/json/args.json"));
  EXPECT_EQ(args["optimizer"], "sgd");
  EXPECT_DOUBLE_EQ(args["momentum"].get<double>(), 0.7);
  EXPECT_EQ(args["batch_size"], 64);
  // A run's args.json is itself a valid --config.
  r = run_cli("train --config " + out + "/json/args.json --epochs 0");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--epochs 0"), std::string::npos) << r.out;
}

TEST(CliTrain, CtrlCSavesAResumableCheckpointAndExits130) {
  if (!exists(ATTNCNN_FASHION_MNIST_DIR)) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string full = fresh("sigint_full"), cut = fresh("sigint_cut");
  const std::string common = "train " + tiny() + " --fraction 0.25 --epochs 2 --batch-size 16 ";
  auto r = run_and_signal(common + "--log-interval 1 --out " + cut, "epoch 1/2 2/", SIGINT);
  ASSERT_EQ(r.code, 130) << r.out;
  EXPECT_NE(r.out.find("attncnn train --resume " + cut), std::string::npos) << r.out;
  CheckpointInfo info;
  ASSERT_NO_THROW(load_checkpoint(cut + "/weights/last.safetensors", &info)) << r.out;
  EXPECT_GE(info.step, 2);
  EXPECT_LT(info.step, 2 * 94);
  auto st = load_training_state(cut + "/weights/last.state.safetensors");
  EXPECT_EQ(st.step, info.step);
  // --resume with the run folder alone: every other setting comes from its args.json.
  auto resumed = run_cli("train --resume " + cut + " --log-interval 0");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("resuming " + cut + " at epoch"), std::string::npos) << resumed.out;
  auto uninterrupted = run_cli(common + "--log-interval 0 --out " + full);
  ASSERT_EQ(uninterrupted.code, 0) << uninterrupted.out;
  expect_same_weights(full + "/weights/last.safetensors", cut + "/weights/last.safetensors");
  const std::string jl = read_all(cut + "/metrics.jsonl");
  EXPECT_EQ(std::count(jl.begin(), jl.end(), '\n'), 2) << jl;
  // Nothing left to do: exit 2 with the reason.
  auto again = run_cli("train --resume " + cut + "/weights/last.safetensors");
  EXPECT_EQ(again.code, 2) << again.out;
  EXPECT_NE(again.out.find("nothing to resume"), std::string::npos) << again.out;
  // SIGTERM behaves like Ctrl-C; --resume alone finds the run through --out.
  const std::string term = fresh("sigterm");
  r = run_and_signal(common + "--log-interval 1 --out " + term, "epoch 1/2 1/", SIGTERM);
  EXPECT_EQ(r.code, 130) << r.out;
  auto resumed2 = run_cli("train --resume --out " + term + " --quiet");
  EXPECT_EQ(resumed2.code, 0) << resumed2.out;
  expect_same_weights(full + "/weights/last.safetensors", term + "/weights/last.safetensors");
}

TEST(CliTrain, NonFiniteLossExitsOneNamingTheStep) {
  if (!exists(ATTNCNN_FASHION_MNIST_DIR)) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string out = fresh("nan");
  auto r = run_cli("train " + tiny() + " --fraction 0.1 --lr 1e30 --out " + out);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("non-finite training loss at step "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(none yet)"), std::string::npos) << r.out;
  EXPECT_FALSE(exists(out + "/weights/last.safetensors"));
}

TEST(CliTrain, RunFolderFilesAndEvalReport) {
  if (!exists(ATTNCNN_FASHION_MNIST_DIR)) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string project = fresh("project");
  const std::string args = "train " + tiny() + " --fraction 0.2 --epochs 2 --quiet --project " + project;
  auto r = run_cli(args);
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string out = project + "/exp";
  for (const char* f : {"/args.json", "/results.csv", "/metrics.jsonl", "/curves.svg", "/weights/last.safetensors",
                        "/weights/last.state.safetensors", "/weights/best.safetensors"})
    EXPECT_TRUE(exists(out + f)) << f;
  const std::string jl = read_all(out + "/metrics.jsonl");
  ASSERT_EQ(std::count(jl.begin(), jl.end(), '\n'), 2);
  auto e2 = nlohmann::json::parse(jl.substr(jl.find('\n') + 1));
  EXPECT_EQ(e2["epoch"], 2);
  for (const char* k : {"train_loss", "train_acc", "val_loss", "val_top1", "val_top5", "lr", "epoch_seconds",
                        "images_per_second"})
    EXPECT_TRUE(e2.contains(k)) << k;
  EXPECT_EQ(read_all(out + "/curves.svg").rfind("<?xml", 0), 0u);
  // --resume alone picks the latest run under --project; it is finished, so nothing to do.
  auto again = run_cli("train --resume --project " + project);
  EXPECT_EQ(again.code, 2) << again.out;
  EXPECT_NE(again.out.find("nothing to resume"), std::string::npos) << again.out;

  const std::string save = project + "/eval";
  // On the full test split: every class has 1,000 test images.
  auto e = run_cli("eval --threads 1 --weights " + out + "/weights/best.safetensors --save-dir " + save +
               " --data fashion-mnist:" ATTNCNN_FASHION_MNIST_DIR);
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_NE(e.out.find("confusion matrix"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("Ankle boot"), std::string::npos) << e.out;
  const std::string csv = read_all(save + "/confusion.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 11);
  // Every test image lands in exactly one cell; each row sums to the class's 1,000 test images.
  std::stringstream ss(csv);
  std::string line;
  std::getline(ss, line);
  int64_t all = 0;
  while (std::getline(ss, line)) {
    std::stringstream ls(line);
    std::string cell;
    std::getline(ls, cell, ',');
    int64_t row = 0;
    while (std::getline(ls, cell, ',')) row += std::stoll(cell);
    EXPECT_EQ(row, 1000) << line;
    all += row;
  }
  EXPECT_EQ(all, 10000);
  auto j = run_cli("eval --threads 1 --json --split train --weights " + out + "/weights/last.safetensors");
  ASSERT_EQ(j.code, 0) << j.out;
  auto ej = nlohmann::json::parse(j.out);
  EXPECT_EQ(ej["count"], 6000);  // the checkpoint's own dataset: the small copy
  EXPECT_EQ(ej["per_class"].size(), 10u);
  EXPECT_EQ(ej["confusion"].size(), 10u);
  EXPECT_GT(ej["top5"].get<double>(), ej["top1"].get<double>());
  auto bad = run_cli("eval --split val --weights " + out + "/weights/last.safetensors");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("--split val"), std::string::npos) << bad.out;
}

TEST(CliTrain, PresetIsALayerUnderConfigAndFlags) {
  if (!exists(ATTNCNN_FASHION_MNIST_DIR)) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string out = fresh("preset");
  // fashion-95 on the small copy, cut to one CPU epoch of two steps (with a learning rate for so short a run): flags
  // win over the preset, the rest comes from it.
  auto r = run_cli("train --preset fashion-95 --data fashion-mnist:" + small_fashion() +
                   " --device cpu --cuda-graph=false --epochs 1 --lr 0.05 --fraction 0.2 --tta 0 --threads 1 --out " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("test accuracy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("start-up"), std::string::npos) << r.out;
  auto args = nlohmann::json::parse(read_all(out + "/args.json"));
  EXPECT_EQ(args["preset"], "fashion-95");
  EXPECT_EQ(args["model"], "fastnet");
  EXPECT_EQ(args["attn"], "eca");
  EXPECT_EQ(args["batch_size"], 1024);
  EXPECT_EQ(args["lookahead"], 5);
  EXPECT_EQ(args["epochs"], 1);
  EXPECT_EQ(args["lr"], 0.05);
  EXPECT_EQ(args["momentum"], 0.85);
  EXPECT_NEAR(args["warmup_epochs"].get<double>(), 3.0 / 18, 1e-9);  // the preset's warmup share, kept
  EXPECT_EQ(args["cuda_graph"], false);
  EXPECT_EQ(args["tta"], 0);
  // Unknown presets are usage errors listing the valid ones; a resumed run keeps its own settings.
  r = run_cli("train --preset cifar10-95 --out " + out + "2");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("cifar10-94"), std::string::npos) << r.out;
  r = run_cli("train --preset fashion-95 --resume " + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--preset with --resume"), std::string::npos) << r.out;
}

TEST(CliTrain, ANewRunNeverOverwritesAnExistingOne) {
  if (!exists(ATTNCNN_FASHION_MNIST_DIR)) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string project = fresh("overwrite");
  const std::string out = project + "/first";
  const std::string run = "train " + tiny() + " --fraction 0.02 --epochs 1 --quiet ";
  auto r = run_cli(run + "--out " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string weights = read_all(out + "/weights/last.safetensors");
  // The same --out again is refused and leaves the run as it was.
  r = run_cli(run + "--out " + out + " --seed 5");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("already holds a run"), std::string::npos) << r.out;
  EXPECT_EQ(read_all(out + "/weights/last.safetensors"), weights);
  // Repeating a run from its args.json under a new name trains into the new folder, not the old one.
  r = run_cli("train --config " + out + "/args.json --name again --project " + project);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(exists(project + "/again/args.json"));
  EXPECT_EQ(read_all(out + "/weights/last.safetensors"), weights);
  // A name cannot leave the project folder.
  r = run_cli(run + "--project " + project + " --name ../escaped");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--name ../escaped"), std::string::npos) << r.out;
  // --exist-ok says so explicitly.
  r = run_cli(run + "--out " + out + " --seed 5 --exist-ok");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(read_all(out + "/weights/last.safetensors"), weights);
}
