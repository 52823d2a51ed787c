// Mixup and CutMix (timm's Mixup, mode "batch"): targets are smoothed one-hot mixes that sum to one, Mixup is
// λ·x + (1−λ)·x.flip(0) with the λ the targets imply, CutMix copies one box from the flipped batch and its λ is the
// box's share of the image, λ follows Beta(α, α), (seed, step) repeats exactly without touching libtorch's
// generators, and the soft-target loss equals torch's cross entropy on one-hot and smoothed targets.
#include <attncnn/error.h>
#include <attncnn/train/mix.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace attncnn;

namespace {
// Labels whose mirrored partners (i and n−1−i) always differ, so λ can be read from the targets.
torch::Tensor labels6() { return torch::tensor({0, 1, 2, 3, 4, 1}, torch::kLong); }
torch::Tensor images(int64_t n, int64_t h = 8, int64_t w = 10) {
  torch::manual_seed(11);
  return torch::randn({n, 3, h, w});
}
// The smoothed one-hot targets written out by hand.
torch::Tensor smoothed(const torch::Tensor& y, int64_t k, double eps) {
  auto t = torch::full({y.size(0), k}, eps / k);
  for (int64_t i = 0; i < y.size(0); ++i) t[i][y[i].item<int64_t>()] = 1 - eps + eps / k;
  return t;
}
// λ from row i of the targets: t[i][y_i] = ε/K + λ·(1 − ε) when y_i differs from its partner's label.
double lam_of(const torch::Tensor& t, const torch::Tensor& y, int64_t i, double eps, int64_t k) {
  return (t[i][y[i].item<int64_t>()].item<double>() - eps / k) / (1 - eps);
}
MixOptions opts(double mixup, double cutmix, int64_t k = 5) {
  MixOptions o;
  o.mixup_alpha = mixup;
  o.cutmix_alpha = cutmix;
  o.num_classes = k;
  return o;
}
}  // namespace

TEST(Mix, TargetsSumToOnePerRow) {
  const auto x = images(6), y = labels6();
  for (const auto& o : {opts(0.4, 0), opts(0, 1.0), opts(0.8, 1.0), opts(0, 0)})
    for (int64_t step = 0; step < 20; ++step) {
      auto r = mix_batch(x, y, o, 3, step);
      ASSERT_EQ(r.second.sizes(), torch::IntArrayRef({6, 5}));
      EXPECT_EQ(r.second.scalar_type(), torch::kFloat);
      EXPECT_TRUE(torch::allclose(r.second.sum(1), torch::ones({6}), 1e-6, 1e-6));
      EXPECT_GE(r.second.min().item<float>(), 0.f);
      EXPECT_EQ(r.first.sizes(), x.sizes());
    }
}

TEST(Mix, OffOrNotDrawnLeavesTheBatchAndGivesSmoothedOneHot) {
  const auto x = images(6), y = labels6();
  MixOptions never = opts(0.8, 1.0);
  never.prob = 0;
  for (const auto& o : {opts(0, 0), never}) {
    EXPECT_EQ(o.enabled(), o.mixup_alpha > 0);  // enabled() is about the alphas; prob 0 never draws
    for (int64_t step = 0; step < 5; ++step) {
      auto r = mix_batch(x, y, o, 1, step);
      EXPECT_TRUE(torch::equal(r.first, x));
      EXPECT_TRUE(torch::allclose(r.second, smoothed(y, 5, 0.1)));
    }
  }
  MixOptions plain = opts(0, 0);
  plain.label_smoothing = 0;
  EXPECT_TRUE(torch::equal(mix_batch(x, y, plain, 1, 0).second, torch::one_hot(y, 5).to(torch::kFloat)));
}

TEST(Mix, MixupIsALinearBlendWithTheFlippedBatch) {
  const auto x = images(6), y = labels6();
  const double eps = 0.1;
  int mixed = 0;
  for (int64_t step = 0; step < 10; ++step) {
    auto r = mix_batch(x, y, opts(0.4, 0), 7, step);
    const double lam = lam_of(r.second, y, 0, eps, 5);
    EXPECT_NEAR(lam, mix_draw(opts(0.4, 0), 8, 10, 7, step).lam, 1e-6);
    for (int64_t i = 0; i < 6; ++i) {
      EXPECT_NEAR(lam_of(r.second, y, i, eps, 5), lam, 1e-6);  // one λ for the whole batch
      const auto ref = x[i] * lam + x[5 - i] * (1 - lam);
      EXPECT_TRUE(torch::allclose(r.first[i], ref, 1e-5, 1e-6)) << "step " << step << " sample " << i;
      // The partner's label carries 1 − λ.
      EXPECT_NEAR(r.second[i][y[5 - i].item<int64_t>()].item<double>(), 0.1 / 5 + (1 - lam) * (1 - eps), 1e-6);
    }
    mixed += lam > 1e-3 && lam < 1 - 1e-3;
  }
  EXPECT_GE(mixed, 5);
  EXPECT_TRUE(torch::equal(x, images(6)));  // the input is left alone
}

TEST(Mix, CutmixCopiesOneBoxFromTheFlippedBatchAndLambdaIsItsShare) {
  const int64_t h = 8, w = 10;
  const auto x = images(6, h, w), y = labels6();
  int boxes = 0;
  for (int64_t step = 0; step < 30; ++step) {
    auto r = mix_batch(x, y, opts(0, 1.0), 5, step);
    const auto d = mix_draw(opts(0, 1.0), h, w, 5, step);
    // The box is what differs from the input in sample 0 (its partner, sample 5, has other random pixels).
    const auto differs = r.first[0].ne(x[0]).any(0);  // h×w
    const int64_t area = differs.sum().item<int64_t>();
    const double lam = lam_of(r.second, y, 0, 0.1, 5);
    if (area == 0) {
      EXPECT_NEAR(lam, 1.0, 1e-6);
      continue;
    }
    ++boxes;
    const auto rows = differs.any(1).nonzero().flatten(), cols = differs.any(0).nonzero().flatten();
    const int64_t top = rows.min().item<int64_t>(), bottom = rows.max().item<int64_t>() + 1;
    const int64_t left = cols.min().item<int64_t>(), right = cols.max().item<int64_t>() + 1;
    EXPECT_EQ(area, (bottom - top) * (right - left)) << "not one rectangle at step " << step;
    EXPECT_EQ(std::vector<int64_t>({top, bottom, left, right}),
              std::vector<int64_t>({d.top, d.bottom, d.left, d.right}));
    EXPECT_NEAR(lam, 1.0 - static_cast<double>(area) / (h * w), 1e-6);
    for (int64_t i = 0; i < 6; ++i) {
      auto expect = x[i].clone();
      expect.slice(1, top, bottom).slice(2, left, right).copy_(x[5 - i].slice(1, top, bottom).slice(2, left, right));
      EXPECT_TRUE(torch::equal(r.first[i], expect)) << "step " << step << " sample " << i;
      EXPECT_NEAR(lam_of(r.second, y, i, 0.1, 5), lam, 1e-6);
    }
  }
  EXPECT_GE(boxes, 20);
}

TEST(Mix, CutmixBoxSizesFromMinMax) {
  MixOptions o = opts(0, 0);
  o.cutmix_min = 0.2;
  o.cutmix_max = 0.6;
  EXPECT_TRUE(o.enabled());
  for (int64_t step = 0; step < 200; ++step) {
    const auto d = mix_draw(o, 20, 30, 2, step);
    ASSERT_TRUE(d.cutmix);
    EXPECT_GE(d.bottom - d.top, 4);
    EXPECT_LT(d.bottom - d.top, 12);
    EXPECT_GE(d.right - d.left, 6);
    EXPECT_LT(d.right - d.left, 18);
    EXPECT_GE(d.top, 0);
    EXPECT_LE(d.bottom, 20);
    EXPECT_LE(d.right, 30);
    EXPECT_DOUBLE_EQ(d.lam, 1.0 - static_cast<double>((d.bottom - d.top) * (d.right - d.left)) / 600);
  }
}

TEST(Mix, LambdaFollowsBetaAndTheProbabilities) {
  // Beta(a, a) has mean 1/2 and variance 1 / (4 (2a + 1)).
  for (double a : {0.2, 1.0, 3.0}) {
    double s = 0, s2 = 0;
    const int n = 8000;
    for (int64_t step = 0; step < n; ++step) {
      const double l = mix_draw(opts(a, 0), 8, 8, 4, step).lam;
      ASSERT_TRUE(l >= 0 && l <= 1);
      s += l, s2 += l * l;
    }
    const double mean = s / n, var = s2 / n - mean * mean;
    EXPECT_NEAR(mean, 0.5, 0.015) << "alpha " << a;
    EXPECT_NEAR(var, 1.0 / (4 * (2 * a + 1)), 0.01) << "alpha " << a;
  }
  // prob: the share of mixed batches; switch_prob: the share of CutMix among them.
  MixOptions o = opts(1.0, 1.0);
  o.prob = 0.6;
  o.switch_prob = 0.25;
  int mixed = 0, cut = 0;
  for (int64_t step = 0; step < 4000; ++step) {
    const auto d = mix_draw(o, 8, 8, 9, step);
    mixed += d.lam < 1 || d.cutmix;
    cut += d.cutmix;
  }
  EXPECT_NEAR(mixed / 4000.0, 0.6, 0.03);
  EXPECT_NEAR(static_cast<double>(cut) / mixed, 0.25, 0.03);
  o.prob = 1;
  o.switch_prob = 1;
  EXPECT_TRUE(mix_draw(o, 8, 8, 9, 0).cutmix);
  o.switch_prob = 0;
  EXPECT_FALSE(mix_draw(o, 8, 8, 9, 0).cutmix);
}

TEST(Mix, SameSeedAndStepRepeatWithoutTouchingTorchGenerators) {
  const auto x = images(6), y = labels6();
  const auto o = opts(0.8, 1.0);
  torch::manual_seed(99);
  const auto expected_next = torch::rand({4});
  torch::manual_seed(99);
  auto a = mix_batch(x, y, o, 21, 4);
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected_next));  // the global generator was not advanced
  auto b = mix_batch(x, y, o, 21, 4);
  EXPECT_TRUE(torch::equal(a.first, b.first));
  EXPECT_TRUE(torch::equal(a.second, b.second));
  int differ = 0;
  for (int64_t step = 5; step < 10; ++step) differ += !torch::equal(mix_batch(x, y, o, 21, step).second, a.second);
  EXPECT_GE(differ, 4);
  EXPECT_FALSE(torch::equal(mix_batch(x, y, o, 22, 4).second, a.second));
}

TEST(Mix, ChannelsLastAndOddBatches) {
  const auto x = images(5), y = torch::tensor({0, 1, 2, 3, 4}, torch::kLong);
  const auto xc = x.contiguous(at::MemoryFormat::ChannelsLast);
  for (const auto& o : {opts(0.4, 0), opts(0, 1.0)})
    for (int64_t step = 0; step < 5; ++step) {
      auto a = mix_batch(x, y, o, 1, step), b = mix_batch(xc, y, o, 1, step);
      EXPECT_TRUE(torch::allclose(a.first, b.first));
      EXPECT_TRUE(torch::equal(a.second, b.second));
      EXPECT_TRUE(torch::allclose(a.first[2], x[2], 1e-5, 1e-6));  // the middle sample is mixed with itself
    }
}

TEST(Mix, SoftTargetCrossEntropyMatchesCrossEntropy) {
  torch::manual_seed(4);
  const auto logits = torch::randn({7, 6}) * 3, y = torch::randint(0, 6, {7}, torch::kLong);
  const auto one_hot = torch::one_hot(y, 6).to(torch::kFloat);
  EXPECT_TRUE(torch::allclose(soft_target_cross_entropy(logits, one_hot),
                              torch::nn::functional::cross_entropy(logits, y), 1e-5, 1e-6));
  namespace F = torch::nn::functional;
  EXPECT_TRUE(torch::allclose(soft_target_cross_entropy(logits, smoothed(y, 6, 0.1)),
                              F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().label_smoothing(0.1)), 1e-5,
                              1e-6));
  // By hand: −Σ t·log softmax for one row.
  const auto row = logits[0];
  const double lse = row.exp().sum().log().item<double>();
  const auto t = torch::full({1, 6}, 1.0 / 6);
  EXPECT_NEAR(soft_target_cross_entropy(row.unsqueeze(0), t).item<double>(), lse - row.mean().item<double>(), 1e-5);
  EXPECT_THROW(soft_target_cross_entropy(logits, one_hot.slice(1, 0, 5)), attncnn::Error);
}

TEST(Mix, InvalidOptionsNameTimmFlags) {
  const auto x = images(6), y = labels6();
  auto message = [&](MixOptions o) {
    try {
      mix_batch(x, y, o, 0, 0);
    } catch (const attncnn::Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  MixOptions o = opts(-1, 0);
  EXPECT_NE(message(o).find("--mixup "), std::string::npos);
  o = opts(0, -0.5);
  EXPECT_NE(message(o).find("--cutmix "), std::string::npos);
  o = opts(0.2, 0);
  o.prob = 1.5;
  EXPECT_NE(message(o).find("--mixup-prob"), std::string::npos);
  o = opts(0.2, 0);
  o.switch_prob = -0.1;
  EXPECT_NE(message(o).find("--mixup-switch-prob"), std::string::npos);
  o = opts(0.2, 0);
  o.label_smoothing = 2;
  EXPECT_NE(message(o).find("--smoothing"), std::string::npos);
  o = opts(0.2, 0, 1);
  EXPECT_NE(message(o).find("--num-classes"), std::string::npos);
  o = opts(0, 0);
  o.cutmix_min = 0.5;
  o.cutmix_max = 0.4;
  EXPECT_NE(message(o).find("--cutmix-minmax"), std::string::npos);
  o = opts(0.2, 0, 3);  // labels go up to 4
  EXPECT_NE(message(o).find("labels"), std::string::npos);
  EXPECT_THROW(mix_batch(x.flatten(1), y, opts(0.2, 0), 0, 0), attncnn::Error);
  EXPECT_THROW(mix_batch(x, y.slice(0, 0, 5), opts(0.2, 0), 0, 0), attncnn::Error);
}
