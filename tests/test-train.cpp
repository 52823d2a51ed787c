// Training library: schedules, settings layers, metrics files, optimizer/RNG state, crash-safe checkpoints,
// learning on a Fashion-MNIST slice, and exact resume.
#include <attncnn/data/dataset.h>
#include <attncnn/error.h>
#include <attncnn/io/files.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/train/checkpoint.h>
#include <attncnn/train/config.h>
#include <attncnn/train/interrupt.h>
#include <attncnn/train/metrics.h>
#include <attncnn/train/trainer.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train_fixtures.h"
#include "test_errors.h"

using namespace attncnn;

namespace {
}  // namespace

// ---- Schedules ---------------------------------------------------------------------------------------------------

TEST(Schedule, CosineStartsAtLrHalvesMidwayAndEndsNearZero) {
  TrainConfig c;
  c.lr = 0.1;
  c.schedule = "cosine";
  const int64_t spe = 10, total = 100;
  EXPECT_DOUBLE_EQ(scheduled_lr(c, 0, spe, total), 0.1);
  EXPECT_NEAR(scheduled_lr(c, 50, spe, total), 0.05, 1e-12);
  EXPECT_LT(scheduled_lr(c, 99, spe, total), 0.1 * 1e-3);
  for (int64_t s = 1; s < total; ++s) EXPECT_LE(scheduled_lr(c, s, spe, total), scheduled_lr(c, s - 1, spe, total));
}

TEST(Schedule, WarmupRampsLinearlyToLr) {
  TrainConfig c;
  c.lr = 0.2;
  c.schedule = "cosine";
  c.warmup_epochs = 1;
  const int64_t spe = 10, total = 50;
  for (int64_t s = 0; s < 10; ++s) EXPECT_NEAR(scheduled_lr(c, s, spe, total), 0.2 * (s + 1) / 10.0, 1e-12) << s;
  EXPECT_NEAR(scheduled_lr(c, 10, spe, total), 0.2, 1e-12);  // cosine starts at the peak after warmup
  EXPECT_LT(scheduled_lr(c, 49, spe, total), 0.2 * 1e-2);
  c.schedule = "step";
  EXPECT_NEAR(scheduled_lr(c, 4, spe, total), 0.1, 1e-12);
}

TEST(Schedule, StepDecaysByGammaEveryStepEpochs) {
  TrainConfig c;
  c.lr = 1.0;
  c.schedule = "step";
  c.step_epochs = 2;
  c.step_gamma = 0.5;
  const int64_t spe = 5, total = 40;
  EXPECT_DOUBLE_EQ(scheduled_lr(c, 0, spe, total), 1.0);
  EXPECT_DOUBLE_EQ(scheduled_lr(c, 9, spe, total), 1.0);    // epoch 1 (0-based)
  EXPECT_DOUBLE_EQ(scheduled_lr(c, 10, spe, total), 0.5);   // epoch 2
  EXPECT_DOUBLE_EQ(scheduled_lr(c, 20, spe, total), 0.25);  // epoch 4
  EXPECT_DOUBLE_EQ(scheduled_lr(c, 39, spe, total), 0.125); // epoch 7
}

TEST(Schedule, OneCyclePeaksAtLrAfterThirtyPercent) {
  TrainConfig c;
  c.lr = 0.5;
  c.schedule = "onecycle";
  const int64_t spe = 10, total = 100;
  EXPECT_NEAR(scheduled_lr(c, 0, spe, total), 0.5 / 25, 1e-12);
  double peak = 0;
  int64_t at = -1;
  for (int64_t s = 0; s < total; ++s) {
    const double v = scheduled_lr(c, s, spe, total);
    if (v > peak) peak = v, at = s;
  }
  EXPECT_NEAR(peak, 0.5, 1e-12);
  EXPECT_EQ(at, 30);
  EXPECT_NEAR(scheduled_lr(c, 99, spe, total), 0.5 / 25 / 1e4, 1e-12);
  // Rises monotonically, then falls monotonically.
  for (int64_t s = 1; s <= 30; ++s) EXPECT_GT(scheduled_lr(c, s, spe, total), scheduled_lr(c, s - 1, spe, total));
  for (int64_t s = 31; s < total; ++s) EXPECT_LT(scheduled_lr(c, s, spe, total), scheduled_lr(c, s - 1, spe, total));
  c.warmup_epochs = 2;  // the rising phase follows --warmup-epochs when given
  EXPECT_NEAR(scheduled_lr(c, 20, spe, total), 0.5, 1e-12);
}

TEST(Schedule, ConstantStaysAtLr) {
  TrainConfig c;
  c.lr = 0.3;
  c.schedule = "constant";
  for (int64_t s : {0, 7, 99}) EXPECT_DOUBLE_EQ(scheduled_lr(c, s, 10, 100), 0.3);
}

// ---- Settings ----------------------------------------------------------------------------------------------------

TEST(Settings, RoundTripThroughArgsJson) {
  TrainConfig a;
  a.epochs = 7;
  a.lr = 0.125;
  a.optimizer = "sgd";
  a.nesterov = false;
  a.seed = 42;
  a.model.name = "seed_net";
  a.model.attn = "none";
  a.model.model_params = Params::parse("width=8,width3=16");
  a.project = "p";
  a.deterministic = true;
  const std::string text = train_settings_json(a);
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j.size(), train_setting_keys().size());
  EXPECT_EQ(j["model_opt"], "width=8,width3=16");
  TrainConfig b;
  apply_train_settings(b, text, "args.json");
  EXPECT_EQ(train_settings_json(b), text);
  EXPECT_EQ(b.epochs, 7);
  EXPECT_EQ(b.seed, 42u);
  EXPECT_FALSE(b.nesterov);
  EXPECT_EQ(b.model.model_params.get_int("width3", 0), 16);
}

TEST(Settings, YamlAndJsonFilesLayerUnderTheCommandLine) {
  const std::string dir = fresh_dir("train_settings");
  write_all(dir + "/run.yaml",
            "# comment\nepochs: 4\nlr: 3e-2\nbatch_size: 32\nmodel_opt: {width: 8, width3: 16}\nname: '007'\n"
            "deterministic: true\nschedule: onecycle\n");
  write_all(dir + "/run.json", R"({"epochs": 5, "attn_opt": "rd_ratio=0.5", "fraction": 0.25})");
  TrainConfig defaults;
  for (const std::string f : {"/run.yaml", "/run.json"}) {
    TrainConfig c;
    apply_train_settings(c, read_settings_file(dir + f), dir + f);
    // The command line's layer: only the keys given.
    apply_train_settings(c, R"({"epochs": 9})", "command line");
    EXPECT_EQ(c.epochs, 9) << f;                     // flag over file
    EXPECT_EQ(c.optimizer, defaults.optimizer) << f;  // default where neither sets it
    if (f == "/run.yaml") {
      EXPECT_DOUBLE_EQ(c.lr, 0.03);  // file over default; 3e-2 without a dot is still a number
      EXPECT_EQ(c.batch_size, 32);
      EXPECT_EQ(c.model.model_params.to_string(), "width=8,width3=16");
      EXPECT_EQ(c.name, "007");  // quoted stays a string
      EXPECT_TRUE(c.deterministic);
      EXPECT_EQ(c.schedule, "onecycle");
    } else {
      EXPECT_EQ(c.model.attn_params.to_string(), "rd_ratio=0.5");
      EXPECT_DOUBLE_EQ(c.fraction, 0.25);
      EXPECT_DOUBLE_EQ(c.lr, defaults.lr);
    }
  }
}

TEST(Settings, UnknownKeysAndBadValuesNameKeyAndFile) {
  const std::string dir = fresh_dir("train_settings_bad");
  write_all(dir + "/typo.yaml", "epochs: 2\nlearning_rate: 0.1\n");
  TrainConfig c;
  auto msg = error_of([&] { apply_train_settings(c, read_settings_file(dir + "/typo.yaml"), dir + "/typo.yaml"); });
  EXPECT_NE(msg.find("typo.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'learning_rate'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lr"), std::string::npos) << msg;  // lists the known keys
  msg = error_of([&] { apply_train_settings(c, R"({"batch-size": 3})", "x.json"); });
  EXPECT_NE(msg.find("batch_size"), std::string::npos) << msg;  // hints at the '_' spelling
  msg = error_of([&] { apply_train_settings(c, R"({"epochs": "many"})", "x.json"); });
  EXPECT_NE(msg.find("x.json: epochs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("integer"), std::string::npos) << msg;
  msg = error_of([&] { apply_train_settings(c, R"({"deterministic": 1})", "x.json"); });
  EXPECT_NE(msg.find("true or false"), std::string::npos) << msg;
  write_all(dir + "/list.yaml", "- 1\n- 2\n");
  msg = error_of([&] { read_settings_file(dir + "/list.yaml"); });
  EXPECT_NE(msg.find("mapping"), std::string::npos) << msg;
  write_all(dir + "/broken.json", "{\"epochs\": ");
  msg = error_of([&] { read_settings_file(dir + "/broken.json"); });
  EXPECT_NE(msg.find("broken.json"), std::string::npos) << msg;
  msg = error_of([&] { read_settings_file(dir + "/missing.yaml"); });
  EXPECT_NE(msg.find("missing.yaml"), std::string::npos) << msg;
}

// ---- Metrics files -----------------------------------------------------------------------------------------------

TEST(Metrics, CsvJsonlRoundTripAndNiceTicks) {
  std::vector<EpochMetrics> h(2);
  h[0] = {1, 0.9, 70.5, 0.8, 72.25, 95.5, 0.003, 12.5, 4800.0};
  h[1] = {2, 0.5, 81.0, 0.55, 80.0, 98.0, 0.0015, 12.0, 5000.0};
  const std::string csv = results_csv(h);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "epoch,train_loss,train_acc,val_loss,val_top1,val_top5,lr,epoch_seconds,images_per_second");
  EXPECT_NE(csv.find("\n2,0.500000,81.0000,0.550000,80.0000,98.0000,0.00150000,12.000,5000.0\n"), std::string::npos)
      << csv;
  const std::string jl = metrics_jsonl(h);
  EXPECT_EQ(std::count(jl.begin(), jl.end(), '\n'), 2);
  auto back = parse_metrics(jl, "metrics.jsonl");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].epoch, 2);
  EXPECT_DOUBLE_EQ(back[0].val_top1, 72.25);
  EXPECT_DOUBLE_EQ(back[1].lr, 0.0015);
  auto unit = nice_ticks(0, 1, 5);
  ASSERT_EQ(unit.size(), 6u);
  for (size_t i = 0; i < unit.size(); ++i) EXPECT_NEAR(unit[i], 0.2 * i, 1e-12);
  auto t = nice_ticks(0.37, 2.31, 5);
  EXPECT_DOUBLE_EQ(t.front(), 0.0);
  EXPECT_NEAR(t.back(), 2.5, 1e-12);
  EXPECT_NEAR(t[1] - t[0], 0.5, 1e-12);
}

TEST(Metrics, CurvesSvgHasTwoPanelsAxesAndLegend) {
  std::vector<EpochMetrics> h;
  for (int e = 1; e <= 12; ++e) h.push_back({e, 2.0 / e, 50.0 + e, 2.2 / e, 48.0 + e, 90.0 + e * 0.5, 0.01, 1, 1});
  const std::string svg = curves_svg(h, "seed_net + sgate");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  auto count = [&](const std::string& s) {
    size_t n = 0;
    for (size_t p = svg.find(s); p != std::string::npos; p = svg.find(s, p + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<polyline"), 5u);  // train/val loss, train acc, top-1, top-5
  EXPECT_EQ(count("<circle"), 5u * 12);
  for (const char* label : {">Loss<", ">Accuracy<", ">epoch<", ">loss<", ">accuracy (%)<", ">train loss<",
                            ">validation loss<", ">validation top-1<", ">validation top-5<", ">12<", ">100<"})
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  EXPECT_EQ(count("<g>"), count("</g>"));
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  // One epoch and none at all still give a valid chart.
  EXPECT_NE(curves_svg({h[0]}).find("</svg>"), std::string::npos);
  EXPECT_NE(curves_svg({}).find("</svg>"), std::string::npos);
}

// ---- Optimizer and generator state -------------------------------------------------------------------------------

namespace {
struct TinyNetImpl : torch::nn::Module {
  torch::nn::Linear a{nullptr}, b{nullptr};
  TinyNetImpl() {
    a = register_module("a", torch::nn::Linear(3, 4));
    b = register_module("b", torch::nn::Linear(4, 2));
  }
  torch::Tensor forward(const torch::Tensor& x) { return b(torch::relu(a(x))); }
};
TORCH_MODULE(TinyNet);

template <typename Opt, typename Options>
void check_optimizer_round_trip(const Options& options, const std::vector<std::string>& buffers) {
  torch::manual_seed(3);
  TinyNet m1;
  Opt o1(m1->parameters(), options);
  auto x = torch::randn({5, 3}), y = torch::randn({5, 2});
  auto step = [&](TinyNet& m, Opt& o) {
    o.zero_grad();
    torch::mse_loss(m->forward(x), y).backward();
    o.step();
  };
  for (int i = 0; i < 3; ++i) step(m1, o1);
  auto saved = optimizer_state(o1, *m1);
  for (const auto& name : buffers) {
    bool found = false;
    for (const auto& kv : saved) found |= kv.first == "optimizer.a.weight." + name;
    EXPECT_TRUE(found) << name;
  }
  // A second model with the same weights and a restored optimizer takes the same next step, bit for bit.
  TinyNet m2;
  load_state_dict(*m2, state_dict(*m1), "copy");
  Opt o2(m2->parameters(), options);
  load_optimizer_state(o2, *m2, saved, "state");
  step(m1, o1);
  step(m2, o2);
  for (size_t i = 0; i < m1->parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(m1->parameters()[i], m2->parameters()[i])) << i;
  // Without the state the step differs (the test could fail).
  TinyNet m3;
  load_state_dict(*m3, state_dict(*m2), "copy");
  Opt o3(m3->parameters(), options);
  step(m2, o2);
  step(m3, o3);
  EXPECT_FALSE(torch::equal(m2->a->weight, m3->a->weight));
}
}  // namespace

TEST(OptimizerState, AdamWRoundTripGivesTheSameNextStep) {
  check_optimizer_round_trip<torch::optim::AdamW>(torch::optim::AdamWOptions(0.01).weight_decay(0.1),
                                                  {"exp_avg", "exp_avg_sq", "step"});
}

TEST(OptimizerState, SgdNesterovRoundTripGivesTheSameNextStep) {
  check_optimizer_round_trip<torch::optim::SGD>(torch::optim::SGDOptions(0.1).momentum(0.9).nesterov(true),
                                                {"momentum_buffer"});
}

TEST(OptimizerState, MismatchedStateIsRejected) {
  TinyNet m;
  torch::optim::SGD sgd(m->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  std::vector<std::pair<std::string, torch::Tensor>> adam_like = {{"optimizer.a.weight.exp_avg", torch::zeros({4, 3})}};
  auto msg = error_of([&] { load_optimizer_state(sgd, *m, adam_like, "x.state.safetensors"); });
  EXPECT_NE(msg.find("x.state.safetensors"), std::string::npos) << msg;
  std::vector<std::pair<std::string, torch::Tensor>> wrong = {{"optimizer.a.weight.momentum_buffer", torch::zeros({2})}};
  msg = error_of([&] { load_optimizer_state(sgd, *m, wrong, "x.state.safetensors"); });
  EXPECT_NE(msg.find("shape"), std::string::npos) << msg;
}

TEST(RngState, RestoringReplaysTheSameDraws) {
  torch::manual_seed(11);
  auto state = cpu_rng_state();
  EXPECT_EQ(state.scalar_type(), torch::kUInt8);
  auto a = torch::rand({8});
  torch::rand({100});
  set_cpu_rng_state(state);
  EXPECT_TRUE(torch::equal(torch::rand({8}), a));
}

// ---- Crash safety ------------------------------------------------------------------------------------------------

TEST(Checkpoint, KilledWriterLeavesTheOldFileLoadable) {
  const std::string dir = fresh_dir("train_killed");
  const std::string path = dir + "/last.safetensors";
  ModelConfig mc;
  mc.in_channels = 1;
  mc.model_params = Params::parse("width=4,width3=8");
  auto small = create_model(mc);
  CheckpointInfo info;
  info.model = mc;
  info.dataset = "fashion-mnist";
  info.class_names = std::vector<std::string>(10, "c");
  info.input = {1, 28, 28};
  info.mean = {0.5};
  info.std = {0.25};
  info.epoch = 1;
  save_checkpoint(path, *small, info);
  // A child rewrites the file with a large model over and over and is killed mid-write.
  ModelConfig big_cfg = mc;
  big_cfg.model_params = Params::parse("width=256,width3=512");
  auto big = create_model(big_cfg);
  CheckpointInfo big_info = info;
  big_info.model = big_cfg;
  big_info.epoch = 2;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (;;) save_checkpoint(path, *big, big_info);
  }
  ::usleep(150 * 1000);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  CheckpointInfo got;
  ASSERT_NO_THROW(load_checkpoint(path, &got));
  EXPECT_TRUE(got.epoch == 1 || got.epoch == 2);
  // A torn temporary file beside it changes nothing either.
  write_all(path + ".tmp.99999", read_all(path).substr(0, 100));
  EXPECT_NO_THROW(load_checkpoint(path));
}

TEST(Checkpoint, CrashBetweenStateAndWeightsStillPairsThem) {
  const std::string dir = fresh_dir("train_pair");
  const std::string w = dir + "/last.safetensors";
  TinyNet m;
  CheckpointInfo info;
  info.model.in_channels = 3;
  info.dataset = "d";
  info.class_names = {"a", "b"};
  info.input = {3, 1, 1};
  info.mean = {0, 0, 0};
  info.std = {1, 1, 1};
  TrainingState s;
  s.optimizer = "adamw";
  s.epoch = info.epoch = 1;
  s.step = info.step = 10;
  s.history = {{1, 0.9, 70.5, 0.8, 72.25, 95.5, 0.003, 12.5, 4800.0}};
  s.rng_cpu = cpu_rng_state();
  save_resumable_checkpoint(w, *m, info, s);
  EXPECT_EQ(load_matching_state(w, read_checkpoint_info(w)).step, 10);
  // The next save dies after writing its state but before its weights.
  const std::string sp = state_path_for(w);
  EXPECT_EQ(sp, dir + "/last.state.safetensors");
  std::rename(sp.c_str(), (sp + ".prev").c_str());
  TrainingState s2 = s;
  s2.epoch = 2;
  s2.step = 20;
  save_training_state(sp, s2);
  auto matched = load_matching_state(w, read_checkpoint_info(w));
  EXPECT_EQ(matched.step, 10);
  ASSERT_EQ(matched.history.size(), 1u);
  EXPECT_DOUBLE_EQ(matched.history[0].val_top1, 72.25);
  EXPECT_TRUE(torch::equal(matched.rng_cpu, s.rng_cpu));
  // With neither matching, resuming is refused with both steps named.
  std::remove((sp + ".prev").c_str());
  auto msg = error_of([&] { load_matching_state(w, read_checkpoint_info(w)); });
  EXPECT_NE(msg.find("step 10"), std::string::npos) << msg;
  EXPECT_NE(msg.find("step 20"), std::string::npos) << msg;
}

// ---- Training ----------------------------------------------------------------------------------------------------

TEST(Train, RunFoldersAreNumberedUnlessExistOk) {
  const std::string base = fresh_dir("train_numbered");
  EXPECT_EQ(next_run_dir(base, "exp", false), base + "/exp");
  std::system(("mkdir -p '" + base + "/exp' '" + base + "/exp2'").c_str());
  EXPECT_EQ(next_run_dir(base, "exp", false), base + "/exp3");
  EXPECT_EQ(next_run_dir(base, "exp", true), base + "/exp");
}

TEST(Train, HundredsOfStepsLowerTheLossAndBeatChance) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string out = fresh_dir("train_learn");
  TrainConfig c = tiny(out, 0.5);  // 3,000 images
  c.model.model_params = Params::parse("width=8,width3=16");
  c.batch_size = 20;  // 150 steps per epoch, 300 in all
  c.epochs = 2;
  c.lr = 0.01;
  auto r = train(c, std::cout);
  EXPECT_EQ(r.steps, 300);
  EXPECT_EQ(r.epochs_run, 2);
  EXPECT_FALSE(r.interrupted);
  auto h = parse_metrics(read_all(out + "/metrics.jsonl"), "metrics.jsonl");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_LT(h[1].train_loss, h[0].train_loss);
  EXPECT_LT(h[1].val_loss, std::log(10.0) * 0.6);  // an untrained 10-way classifier starts near ln 10
  EXPECT_GT(r.final_eval.top1, 45.0);                // chance is 10%
  EXPECT_EQ(r.final_eval.count, 1000);
  for (const char* f : {"/args.json", "/results.csv", "/metrics.jsonl", "/curves.svg", "/weights/last.safetensors",
                        "/weights/last.state.safetensors", "/weights/best.safetensors"})
    EXPECT_TRUE(exists(out + f)) << f;
  auto args = nlohmann::json::parse(read_all(out + "/args.json"));
  EXPECT_EQ(args["batch_size"], 20);
  EXPECT_EQ(args["model_opt"], "width=8,width3=16");
  EXPECT_EQ(read_checkpoint_info(out + "/weights/last.safetensors").step, 300);
}

TEST(Train, ResumeIsBitwiseIdenticalToAnUninterruptedRun) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string full = fresh_dir("train_resume_full");
  const std::string cut = fresh_dir("train_resume_cut");
  const std::string mid = fresh_dir("train_resume_mid");
  auto a = train(tiny(full), std::cout);  // 600 images, 10 steps per epoch, 3 epochs
  ASSERT_EQ(a.steps, 30);

  // Stopped after epoch 2, then resumed to 3.
  TrainConfig c = tiny(cut);
  c.max_steps = 20;
  auto b1 = train(c, std::cout);
  EXPECT_TRUE(b1.interrupted);
  EXPECT_EQ(b1.epochs_run, 2);
  c.max_steps = 0;
  c.resume = cut + "/weights/last.safetensors";
  auto b2 = train(c, std::cout);
  EXPECT_TRUE(b2.resumed);
  EXPECT_FALSE(b2.interrupted);
  EXPECT_EQ(b2.steps, 30);
  expect_same_tensors(full + "/weights/last.safetensors", cut + "/weights/last.safetensors");
  expect_same_tensors(full + "/weights/last.state.safetensors", cut + "/weights/last.state.safetensors");

  // Stopped in the middle of epoch 2 (step 13 of 30), then resumed.
  c = tiny(mid);
  c.max_steps = 13;
  auto m1 = train(c, std::cout);
  EXPECT_TRUE(m1.interrupted);
  auto st = load_training_state(mid + "/weights/last.state.safetensors");
  EXPECT_EQ(st.epoch, 1);
  EXPECT_EQ(st.batch, 3);
  EXPECT_EQ(st.step, 13);
  c.max_steps = 0;
  c.resume = mid + "/weights/last.safetensors";
  train(c, std::cout);
  expect_same_tensors(full + "/weights/last.safetensors", mid + "/weights/last.safetensors");
  // The per-epoch losses match too: the partial sums of the cut epoch were carried over.
  auto ha = parse_metrics(read_all(full + "/metrics.jsonl"), "a"), hm = parse_metrics(read_all(mid + "/metrics.jsonl"), "m");
  ASSERT_EQ(ha.size(), 3u);
  ASSERT_EQ(hm.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ha[i].train_loss, hm[i].train_loss) << i;
    EXPECT_EQ(ha[i].val_top1, hm[i].val_top1) << i;
  }

  // A finished run has nothing to resume; more epochs do.
  auto msg = error_of([&] { train(c, std::cout); });
  EXPECT_NE(msg.find("nothing to resume"), std::string::npos) << msg;
  // Another optimizer cannot take over the state.
  c.epochs = 4;
  c.optimizer = "sgd";
  msg = error_of([&] { train(c, std::cout); });
  EXPECT_NE(msg.find("adamw"), std::string::npos) << msg;
}

TEST(Train, NonFiniteLossStopsWithTheStepAndKeepsTheCheckpoint) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string out = fresh_dir("train_nan");
  TrainConfig c = tiny(out);
  c.epochs = 1;
  train(c, std::cout);
  const std::string before = read_all(out + "/weights/last.safetensors");
  c.epochs = 2;
  c.lr = 1e30;
  c.resume = out + "/weights/last.safetensors";
  auto msg = error_of([&] { train(c, std::cout); }, 1);
  EXPECT_NE(msg.find("non-finite training loss at step "), std::string::npos) << msg;
  const int64_t bad = std::stoll(msg.substr(msg.find("at step ") + 8));
  EXPECT_GT(bad, 10);  // after the 10 steps of the first run
  EXPECT_LT(bad, 20);
  EXPECT_NE(msg.find("last.safetensors (epoch 1)"), std::string::npos) << msg;
  EXPECT_EQ(read_all(out + "/weights/last.safetensors"), before);
}

TEST(Train, StopRequestEndsAfterTheCurrentStep) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string out = fresh_dir("train_stop");
  request_stop();
  auto r = train(tiny(out), std::cout);
  clear_stop();
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.steps, 0);
  auto st = load_training_state(out + "/weights/last.state.safetensors");
  EXPECT_EQ(st.step, 0);
  EXPECT_EQ(st.epoch, 0);
}

TEST(Schedule, LinearRisesFromStartToPeakThenFallsToEnd) {
  TrainConfig c;
  c.lr = 2.0;
  c.schedule = "linear";
  c.warmup_epochs = 2;
  c.lr_start = 0.2;
  c.lr_end = 0.05;
  const int64_t spe = 10, total = 100;
  EXPECT_NEAR(scheduled_lr(c, 0, spe, total), 0.4, 1e-12);
  EXPECT_NEAR(scheduled_lr(c, 10, spe, total), 2.0 * (0.2 + 0.8 * 0.5), 1e-12);
  EXPECT_NEAR(scheduled_lr(c, 20, spe, total), 2.0, 1e-12);
  EXPECT_NEAR(scheduled_lr(c, 60, spe, total), 2.0 * (1 - 0.95 * 0.5), 1e-12);
  EXPECT_NEAR(scheduled_lr(c, 100, spe, total), 0.1, 1e-12);
  c.lr_start = c.lr_end = 0;  // the plain linear schedule: warmup as cosine's, down to zero
  EXPECT_NEAR(scheduled_lr(c, 0, spe, total), 2.0 / 20, 1e-12);
  EXPECT_NEAR(scheduled_lr(c, 100, spe, total), 0.0, 1e-12);
}

TEST(Tta, LogitsAverageTheMirroredAndShiftedViews) {
  torch::manual_seed(3);
  ModelConfig mc;
  mc.in_channels = 2;
  mc.model_params = Params::parse("width=4,width3=8");
  auto model = create_model(mc);
  model->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({3, 2, 7, 9});
  auto f = [&](const torch::Tensor& v) { return model->forward(v); };
  // Views built pixel by pixel: mirror of column c is column w-1-c; a shift by (dy, dx) reads (y-dy, x-dx), reflected
  // at the border (index -1 reads 1, index h reads h-2).
  const int64_t h = 7, w = 9;
  auto shifted = [&](const torch::Tensor& v, int64_t dy, int64_t dx) {
    auto out = torch::empty_like(v);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xx = 0; xx < w; ++xx) {
        int64_t sy = y - dy, sx = xx - dx;
        sy = sy < 0 ? -sy : (sy >= h ? 2 * (h - 1) - sy : sy);
        sx = sx < 0 ? -sx : (sx >= w ? 2 * (w - 1) - sx : sx);
        out.select(2, y).select(2, xx).copy_(v.select(2, sy).select(2, sx));
      }
    return out;
  };
  auto mirror = [&](const torch::Tensor& v) { return v.index_select(3, torch::arange(w - 1, -1, -1)); };
  auto pair = [&](const torch::Tensor& v) { return (f(v) + f(mirror(v))) / 2; };
  EXPECT_TRUE(torch::allclose(tta_logits(*model, x, 0), f(x), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(tta_logits(*model, x, 1), pair(x), 1e-5, 1e-6));
  auto expected = 0.5 * pair(x) + 0.25 * pair(shifted(x, 1, 1)) + 0.25 * pair(shifted(x, -1, -1));
  EXPECT_TRUE(torch::allclose(tta_logits(*model, x, 2), expected, 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(tta_logits(*model, x, 2), pair(x), 1e-4, 1e-5));
}

TEST(Train, DeviceDataRunsEvaluateAtTheEndAndResumeBitwise) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  auto fast = [](const std::string& out) {
    TrainConfig c = tiny(out);
    c.device_data = "on";  // the batched crop/flip path, here on the CPU
    c.augment = "crop=28,pad=2,pad_mode=reflect,flip=0.5";
    c.eval_every = 0;
    c.save_every = 0;
    c.tta = 1;
    return c;
  };
  const std::string full = fresh_dir("train_devdata_full"), mid = fresh_dir("train_devdata_mid");
  auto a = train(fast(full), std::cout);
  ASSERT_EQ(a.steps, 30);
  EXPECT_GT(a.final_eval.top1, 13.0);  // chance is 10% on these 1,000 test images
  auto h = parse_metrics(read_all(full + "/metrics.jsonl"), "a");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_TRUE(std::isnan(h[0].val_top1));
  EXPECT_TRUE(std::isnan(h[1].val_top1));
  EXPECT_NEAR(h[2].val_top1, a.final_eval.top1, 1e-3);
  // The final number is the flip-averaged evaluation of the saved weights.
  CheckpointInfo info;
  auto m = load_checkpoint(full + "/weights/last.safetensors", &info);
  auto ds = load_dataset("fashion-mnist:" + small_fashion());
  EXPECT_NEAR(evaluate(*m, ds.test, info.mean, info.std, 256, torch::kCPU, 1).top1, a.final_eval.top1, 1e-9);
  EXPECT_NE(evaluate(*m, ds.test, info.mean, info.std, 256, torch::kCPU, 0).loss, a.final_eval.loss);

  expect_resume_matches(fast(mid), 13, full);

  // Options the batched path cannot honour are named.
  TrainConfig c = fast(fresh_dir("train_devdata_bad"));
  c.augment = "crop=28,pad=2,erase=0.5";
  auto msg = error_of([&] { train(c, std::cout); });
  EXPECT_NE(msg.find("--device-data on"), std::string::npos) << msg;
  c = fast(fresh_dir("train_devdata_graph"));
  c.cuda_graph = true;
  msg = error_of([&] { train(c, std::cout); });
  EXPECT_NE(msg.find("--cuda-graph"), std::string::npos) << msg;
}

TEST(Schedule, WarmupShorterThanOneStepNeverExceedsLr) {
  TrainConfig c;
  c.lr = 0.5;
  c.warmup_epochs = 0.1;  // 0.3 of a step at 3 steps per epoch
  for (const std::string schedule : {"cosine", "linear", "constant", "step"}) {
    c.schedule = schedule;
    for (int64_t s = 0; s < 6; ++s) EXPECT_LE(scheduled_lr(c, s, 3, 6), 0.5) << schedule << " step " << s;
  }
}
