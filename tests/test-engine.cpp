// The training engine's extras and step options: model EMA against a hand-computed average, Lookahead and EMA
// state across a resume (bitwise), gradient accumulation against one large batch, gradient clipping against plain
// formulas, and aliases resolved before anything is recorded.
#include <attncnn/error.h>
#include <attncnn/io/image.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/models/model.h>
#include <attncnn/train/checkpoint.h>
#include <attncnn/train/config.h>
#include <attncnn/train/extras.h>
#include <attncnn/train/metrics.h>
#include <attncnn/train/optim.h>
#include <attncnn/train/trainer.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <sstream>
#include <nlohmann/json.hpp>

#include "train_fixtures.h"
#include <attncnn/io/files.h>

using namespace attncnn;

namespace {
// A classifier without BatchNorm (pool to 7×7, one linear layer): batch statistics cannot tell a batch of B from
// two of B/2, so gradient accumulation must match exactly up to rounding.
class LinearProbeImpl : public ModelImpl {
 public:
  explicit LinearProbeImpl(const ModelConfig& cfg) : cfg_(cfg) {
    fc_ = register_module("fc", torch::nn::Linear(cfg.in_channels * 49, cfg.num_classes));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return fc_->forward(torch::adaptive_avg_pool2d(x, {7, 7}).flatten(1));
  }
  const ModelConfig& config() const override { return cfg_; }

 private:
  ModelConfig cfg_;
  torch::nn::Linear fc_{nullptr};
};

void register_linear_probe() {
  static const bool once = [] {
    ModelEntry e;
    e.name = "test_linear_probe";
    e.summary = "pool to 7x7 + linear (tests)";
    e.factory = [](const ModelConfig& c) -> Model { return std::make_shared<LinearProbeImpl>(c); };
    register_model(e);
    return true;
  }();
  (void)once;
}

std::vector<torch::Tensor> float_state(torch::nn::Module& m) {
  std::vector<torch::Tensor> v;
  for (auto& p : m.parameters()) v.push_back(p.detach().to(torch::kDouble).clone());
  for (auto& b : m.buffers())
    if (b.is_floating_point()) v.push_back(b.detach().to(torch::kDouble).clone());
  return v;
}
}  // namespace

TEST(ModelEma, FollowsTheHandComputedAverage) {
  ModelConfig mc;
  mc.in_channels = 1;
  mc.model_params = Params::parse("width=4,width3=8");
  torch::manual_seed(1);
  Model model = create_model(mc), average = create_model(mc);
  auto ema = make_model_ema(*model, average, {0.9, false});
  EXPECT_EQ(ema->eval_model(), average.get());
  auto ref = float_state(*model);
  for (int64_t t = 1; t <= 6; ++t) {
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.add_(torch::randn_like(p));
      for (auto& b : model->buffers())
        if (b.is_floating_point()) b.add_(torch::rand_like(b));
        else b.add_(1);  // num_batches_tracked
    }
    ema->after_step(t, 6);
    const double d = t == 1 ? 0.0 : 0.9;  // the first update copies the weights
    auto now = float_state(*model);
    for (size_t i = 0; i < ref.size(); ++i) ref[i] = d * ref[i] + (1 - d) * now[i];
  }
  auto got = float_state(*average);
  ASSERT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_TRUE(torch::allclose(got[i], ref[i], 1e-5, 1e-6)) << i;
  // Integer buffers are copied, not averaged.
  for (size_t i = 0; i < model->buffers().size(); ++i)
    if (!model->buffers()[i].is_floating_point())
      EXPECT_TRUE(torch::equal(model->buffers()[i], average->buffers()[i]));
  // The averaged weights differ from the model's last ones (the test above could fail).
  EXPECT_FALSE(torch::allclose(model->parameters()[0], average->parameters()[0]));
}

TEST(ModelEma, WarmupDecayFollowsTimm) {
  ModelEmaOptions o{0.9998, true};
  EXPECT_EQ(model_ema_decay_at(o, 1), 0.0);
  EXPECT_NEAR(model_ema_decay_at(o, 2), 1.0 - std::pow(2.0, -2.0 / 3.0), 1e-12);
  EXPECT_NEAR(model_ema_decay_at(o, 1001), 1.0 - std::pow(1001.0, -2.0 / 3.0), 1e-12);
  EXPECT_EQ(model_ema_decay_at(o, 100000000), 0.9998);
  EXPECT_EQ(model_ema_decay_at({0.99, false}, 2), 0.99);
}

TEST(Engine, ResumeWithLookaheadEmaAndClippingIsBitwise) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string full = fresh_dir("engine_extras_full"), mid = fresh_dir("engine_extras_mid");
  auto with_extras = [](TrainConfig c) {
    c.lookahead = 4;
    c.model_ema = true;
    c.model_ema_decay = 0.8;
    c.clip_grad = 0.5;
    return c;
  };
  auto a = train(with_extras(tiny(full)), std::cout);
  ASSERT_EQ(a.steps, 30);
  EXPECT_EQ(a.final_eval_ema.count, 1000);
  expect_resume_matches(with_extras(tiny(mid)), 13, full, [&] {
    auto st = load_training_state(mid + "/weights/last.state.safetensors");
    int64_t ema_tensors = 0, lookahead_tensors = 0;
    for (const auto& kv : st.extra_tensors) {
      ema_tensors += kv.first.rfind("extra.ema.", 0) == 0;
      lookahead_tensors += kv.first.rfind("extra.lookahead.", 0) == 0;
    }
    EXPECT_GT(ema_tensors, 0);
    EXPECT_GT(lookahead_tensors, 0);
  });
  expect_same_tensors(full + "/weights/last.state.safetensors", mid + "/weights/last.state.safetensors");
  expect_same_tensors(full + "/weights/best.safetensors", mid + "/weights/best.safetensors");
  // The EMA columns are recorded, and best.safetensors holds the EMA weights, judged by their accuracy.
  auto h = parse_metrics(read_all(full + "/metrics.jsonl"), "metrics.jsonl");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_TRUE(std::isfinite(h[2].ema_val_top1));
  EXPECT_NE(read_all(full + "/results.csv").find("ema_val_top1"), std::string::npos);
  auto best = read_checkpoint_info(full + "/weights/best.safetensors");
  EXPECT_EQ(best.metrics["ema"], 1);
  // A resume without the EMA the run was saved with is refused: it could not continue the average exactly.
  TrainConfig no_ema = tiny(mid);
  no_ema.lookahead = 4;
  no_ema.clip_grad = 0.5;
  no_ema.epochs = 4;
  no_ema.resume = mid + "/weights/last.safetensors";
  try {
    train(no_ema, std::cout);
    ADD_FAILURE() << "resumed without the EMA state";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ema"), std::string::npos) << e.what();
  }
}

TEST(Engine, AccumulatingTwoHalfBatchesEqualsOneFullBatch) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  register_linear_probe();
  auto probe = [](const std::string& out, int64_t batch, int64_t accum) {
    TrainConfig c = tiny(out);
    c.model.name = "test_linear_probe";
    c.model.attn = "none";
    c.model.model_params = Params();
    c.epochs = 1;
    c.optimizer = "sgd";
    c.lr = 0.05;
    c.batch_size = batch;
    c.grad_accum_steps = accum;
    return train(c, std::cout);
  };
  const std::string one = fresh_dir("engine_accum_one");
  const std::string two = fresh_dir("engine_accum_two");
  const std::string half = fresh_dir("engine_accum_half");
  auto r1 = probe(one, 16, 1);
  auto r2 = probe(two, 8, 2);
  auto r3 = probe(half, 8, 1);
  EXPECT_EQ(r1.steps, 38);  // 600 images: 37 batches of 16 and one of 8
  EXPECT_EQ(r2.steps, 38);
  EXPECT_EQ(r3.steps, 75);
  auto w1 = load_safetensors(one + "/weights/last.safetensors").tensors;
  auto w2 = load_safetensors(two + "/weights/last.safetensors").tensors;
  auto w3 = load_safetensors(half + "/weights/last.safetensors").tensors;
  ASSERT_EQ(w1.size(), w2.size());
  for (size_t i = 0; i < w1.size(); ++i) {
    EXPECT_TRUE(torch::allclose(w1[i].second, w2[i].second, 1e-4, 1e-6)) << w1[i].first << " max |d| "
        << (w1[i].second - w2[i].second).abs().max().item<double>();
    // Twice the steps of half the batch end elsewhere: the comparison above can fail.
    EXPECT_FALSE(torch::allclose(w1[i].second, w3[i].second, 1e-3, 1e-4)) << w1[i].first;
  }
}

TEST(Engine, AliasesAreResolvedBeforeTheyAreRecorded) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string out = fresh_dir("engine_alias");
  TrainConfig c = tiny(out, 0.02);
  c.model.name = "se_resnet20";  // attn left at the default (sgate): the alias names se
  c.model.model_params = Params();
  c.max_steps = 1;
  train(c, std::cout);
  auto args = nlohmann::json::parse(read_all(out + "/args.json"));
  EXPECT_EQ(args["model"], "resnet20");
  EXPECT_EQ(args["attn"], "se");
  auto info = read_checkpoint_info(out + "/weights/last.safetensors");
  EXPECT_EQ(info.model.name, "resnet20");
  EXPECT_EQ(info.model.attn, "se");
}

namespace {
struct TwoLayer : torch::nn::Module {
  torch::Tensor w, b;
  TwoLayer() {
    w = register_parameter("w", torch::zeros({3, 4}));
    b = register_parameter("b", torch::zeros({3}));
  }
};
void set_grads(TwoLayer& m, const torch::Tensor& gw, const torch::Tensor& gb) {
  m.w.mutable_grad() = gw.clone();
  m.b.mutable_grad() = gb.clone();
}
}  // namespace

TEST(ClipGradients, NormValueAndAgcMatchTheirFormulas) {
  TwoLayer m;
  torch::manual_seed(5);
  auto gw = torch::randn({3, 4}) * 3, gb = torch::randn({3}) * 3;
  // norm: one global L2 norm over both tensors.
  set_grads(m, gw, gb);
  clip_gradients(m, 1.0, "norm");
  const double total = std::sqrt(gw.pow(2).sum().item<double>() + gb.pow(2).sum().item<double>());
  ASSERT_GT(total, 1.0);
  EXPECT_TRUE(torch::allclose(m.w.grad(), gw * (1.0 / (total + 1e-6)), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(m.b.grad(), gb * (1.0 / (total + 1e-6)), 1e-5, 1e-6));
  // Under the threshold nothing changes.
  set_grads(m, gw, gb);
  clip_gradients(m, total * 2, "norm");
  EXPECT_TRUE(torch::allclose(m.w.grad(), gw));
  // value: elementwise clamp.
  set_grads(m, gw, gb);
  clip_gradients(m, 0.5, "value");
  for (int64_t i = 0; i < 12; ++i) {
    const double g = gw.view(-1)[i].item<double>();
    EXPECT_FLOAT_EQ(m.w.grad().view(-1)[i].item<float>(), static_cast<float>(std::max(-0.5, std::min(0.5, g))));
  }
  // agc: row r of w is scaled to 0.1·max(‖w_r‖, 1e-3) when its gradient norm exceeds that.
  {
    torch::NoGradGuard no_grad;
    m.w.copy_(torch::randn({3, 4}));
    m.w[1].zero_();  // a zero row: its bound is 0.1·1e-3
  }
  set_grads(m, gw, gb);
  clip_gradients(m, 0.1, "agc");
  for (int64_t r = 0; r < 3; ++r) {
    const double wn = std::max(m.w[r].norm().item<double>(), 1e-3), gn = gw[r].norm().item<double>();
    const double bound = 0.1 * wn;
    auto expect = gn > bound ? gw[r] * (bound / gn) : gw[r];
    EXPECT_TRUE(torch::allclose(m.w.grad()[r], expect, 1e-4, 1e-7)) << r;
  }
  EXPECT_THROW(clip_gradients(m, 1.0, "sideways"), Error);
}

TEST(Engine, MixupAndCutmixTrainOnSoftTargetsAndResumeBitwise) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string plain = fresh_dir("engine_mix_plain");
  const std::string full = fresh_dir("engine_mix_full");
  const std::string mid = fresh_dir("engine_mix_mid");
  auto mixed = [](TrainConfig c) {
    c.mixup = 0.4;
    c.cutmix = 1.0;
    c.label_smoothing = 0.1;
    return c;
  };
  train(tiny(plain), std::cout);
  train(mixed(tiny(full)), std::cout);
  expect_resume_matches(mixed(tiny(mid)), 13, full);
  // Soft targets of mixed images are harder to fit: the training loss stays above the plain run's.
  auto hp = parse_metrics(read_all(plain + "/metrics.jsonl"), "plain");
  auto hm = parse_metrics(read_all(full + "/metrics.jsonl"), "mixed");
  ASSERT_EQ(hp.size(), 3u);
  ASSERT_EQ(hm.size(), 3u);
  EXPECT_GT(hm[2].train_loss, hp[2].train_loss);
  // mixup_off_epoch 1: epochs 2 and 3 train on plain labels, so they match a run whose first epoch alone mixed.
  TrainConfig off = mixed(tiny(fresh_dir("engine_mix_off")));
  off.mixup_off_epoch = 1;
  train(off, std::cout);
  auto ho = parse_metrics(read_all(off.out + "/metrics.jsonl"), "off");
  EXPECT_EQ(ho[0].train_loss, hm[0].train_loss);
  EXPECT_LT(ho[2].train_loss, hm[2].train_loss);
}

TEST(Engine, FineTunesATenClassCheckpointOnAFiveClassFolder) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string src = fresh_dir("engine_ft_source");
  const std::string dst = fresh_dir("engine_ft_target");
  const std::string data = fresh_dir("engine_ft_data");
  TrainConfig a = tiny(src, 0.05);
  a.epochs = 1;
  train(a, std::cout);
  // Five classes of 28x28 grey images, each class a different brightness ramp.
  for (int k = 0; k < 5; ++k)
    for (int i = 0; i < 8; ++i) {
      Image img;
      img.width = img.height = 28;
      img.channels = 1;
      img.pixels.resize(28 * 28);
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) img.pixels[y * 28 + x] = static_cast<uint8_t>((40 * k + 3 * x + y * i) % 256);
      std::system(("mkdir -p '" + data + "/class" + std::to_string(k) + "'").c_str());
      write_png(data + "/class" + std::to_string(k) + "/" + std::to_string(i) + ".png", img);
    }
  TrainConfig b = tiny(dst);
  b.data = "folder:" + data;
  b.image_size = 28;
  b.val_split = 0.25;
  b.optimizer = "sgd";
  b.lr = 1e-9;  // one step that barely moves the weights: they are still the checkpoint's
  b.max_steps = 1;
  b.initial_checkpoint = src + "/weights/last.safetensors";
  b.quiet = false;
  std::ostringstream log;
  train(b, log);
  EXPECT_NE(log.str().find("classifier re-initialised"), std::string::npos) << log.str();
  auto before = load_safetensors(src + "/weights/last.safetensors").tensors;
  auto after = load_safetensors(dst + "/weights/last.safetensors").tensors;
  ASSERT_EQ(before.size(), after.size());
  int64_t compared = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    const std::string& name = before[i].first;
    ASSERT_EQ(name, after[i].first);
    if (name.find("running_") != std::string::npos || name.find("num_batches") != std::string::npos) continue;
    if (before[i].second.sizes() != after[i].second.sizes()) {
      EXPECT_EQ(after[i].second.size(0), 5) << name << ": only the classifier changes shape";
      continue;
    }
    EXPECT_TRUE(torch::allclose(before[i].second, after[i].second, 0, 1e-6)) << name;
    ++compared;
  }
  EXPECT_GT(compared, 4);
  EXPECT_EQ(read_checkpoint_info(dst + "/weights/last.safetensors").model.num_classes, 5);
}
